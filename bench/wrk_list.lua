-- wrk: triage list queries, rotating through typical filters. Args: token.
local queries = {
  "/api/v1/requests?limit=50",
  "/api/v1/requests?state=info_complete&limit=50",
  "/api/v1/requests?state=requested&missing=service&limit=50",
  "/api/v1/requests?department=dvla&limit=50",
  "/api/v1/requests?q=service&limit=20",
  "/api/v1/requests?state=signoff_pending,built&kind=transactional&limit=50",
}
local token, n = nil, 0
function init(args) token = args[1] end
function request()
  n = n + 1
  return wrk.format("GET", queries[(n % #queries) + 1], { ["Authorization"] = "Bearer " .. token })
end
function done(summary, latency, requests)
  io.write(string.format('{"rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d, "requests": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
