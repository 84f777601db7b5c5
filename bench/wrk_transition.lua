-- wrk: transitions on info_complete requests, alternating reopen_information and
-- complete_information. Each wrk thread owns a slice of the ids (args: token, ids file, threads)
-- and starts from a snapshot of versions and states (lines "id version state"), then learns each
-- request's version and state from the responses it gets back.
local token, ids, version, state, n = nil, {}, {}, {}, 0
local thread_index = 0
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  token = args[1]
  local threads = tonumber(args[3])
  local i = 0
  for line in io.lines(args[2]) do
    local id, v, st = line:match("^(%S+) (%d+) (%S+)$")
    if id then
      if i % threads == index then
        table.insert(ids, id)
        version[id] = tonumber(v)
        state[id] = st
      end
      i = i + 1
    end
  end
end

function request()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  local headers = { ["Authorization"] = "Bearer " .. token, ["If-Match"] = '"v' .. version[id] .. '"',
                    ["Content-Type"] = "application/json" }
  if state[id] == "info_complete" then
    return wrk.format("POST", "/api/v1/requests/" .. id .. "/transitions/reopen_information", headers, '{"reason":"benchmark"}')
  end
  return wrk.format("POST", "/api/v1/requests/" .. id .. "/transitions/complete_information", headers, nil)
end

local logged = 0
function response(status, headers, body)
  if status ~= 200 and logged < 3 and os.getenv("WRK_DEBUG") then
    logged = logged + 1
    io.stderr:write("DBG " .. status .. " " .. body:sub(1, 300) .. "\n")
  end
  local id = body:match('"id":"([0-9a-f%-]+)"')
  if status == 200 and id then
    version[id] = tonumber(body:match('"version":(%d+)'))
    state[id] = body:match('"state":"([a-z_]+)"')
  end
end

function done(summary, latency, requests)
  io.write(string.format('{"rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d, "requests": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
