-- wrk: POST /api/v1/requests, each a distinct transactional request with all eight information
-- items provided (so `complete_information` fires at once, as when a full request arrives).
-- Args: token, tag (unique per run: names, addresses and URLs carry it with the thread and a
-- counter, so no two bodies are alike). Prints one JSON line: rate, p50/p99, the number of
-- non-2xx answers and socket errors ("errors"), and the count of each status ("statuses").
local token, tag, n = nil, nil, 0
local counter = 0
local threads = {}
statuses = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  tag = args[2]
end

local departments = { "DVLA", "HMRC", "DWP", "HMPO", "DEFRA", "MOJ", "Home Office", "Companies House" }

local template = [[{"kind":"transactional","department":"%s","items":{
"contact":{"status":"provided","value":{"name":"Contact %s","email":"contact-%s@example.gov.uk","phone":"020 7946 0000"}},
"sign_off_contact":{"status":"provided","value":{"name":"Sign-off %s","email":"signoff-%s@example.gov.uk","phone":"020 7946 0001"}},
"service":{"status":"provided","value":{"name":"Benchmark service %s","description":"A service made by the create benchmark (%s)","start_page_url":"https://www.gov.uk/bench-%s"}},
"cost_per_transaction":{"status":"provided","value":{"transactions_explorer_url":"https://www.gov.uk/performance/bench-%s"}},
"user_satisfaction":{"status":"provided","value":{"done_page_url":"https://www.gov.uk/done/bench-%s"}},
"completion_rate":{"status":"provided","value":{"analytics_provider":"google_analytics","read_access_granted":true,"goals":[{"name":"Apply","start":"/bench-%s/start","completion":"/bench-%s/done"}]}},
"digital_take_up":{"status":"provided","value":{"spreadsheet_reference":"volumes-%s.xlsx","uploaders":[{"name":"Uploader %s","email":"uploader-%s@example.gov.uk"}]}},
"service_availability":{"status":"provided","value":{"health_check_url":"https://www.gov.uk/bench-%s/health"}}}}]]

function request()
  n = n + 1
  local k = tag .. "-" .. index .. "-" .. n
  local body = string.format(template, departments[(n % #departments) + 1],
    k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k)
  return wrk.format("POST", "/api/v1/requests",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

local logged = 0
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and logged < 3 and os.getenv("WRK_DEBUG") then
    logged = logged + 1
    io.stderr:write("DBG " .. status .. " " .. body:sub(1, 300) .. "\n")
  end
end

function done(summary, latency, requests)
  local total, non2xx, parts = {}, 0, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    if status < 200 or status > 299 then non2xx = non2xx + count end
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('{"rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d, "requests": %d, "statuses": {%s}}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    non2xx + socket, summary.requests, table.concat(parts, ", ")))
end
