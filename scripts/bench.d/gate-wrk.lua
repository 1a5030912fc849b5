-- scripts/bench's wrk script for the gate section (gate.py runs `wrk -s THIS`). From the environment:
--   BENCH_TOKEN       sent as `Authorization: Bearer TOKEN` (to every target alike: the upstream and
--                     nginx ignore it, the gate checks it)
--   BENCH_METHOD      GET (default) or POST
--   BENCH_BODY_FILE   the request body, read once (a small prompt, or 10 MB for the upload)
--   BENCH_BODY_TYPE   its Content-Type
-- At the end one line for gate.py: BENCH requests duration_us errors(connect read write status timeout)
-- p50_us p99_us max_us (wrk's own latency record: from the request's first byte written to the
-- answer's last byte read).
local token = os.getenv("BENCH_TOKEN")
wrk.method = os.getenv("BENCH_METHOD") or "GET"
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local path = os.getenv("BENCH_BODY_FILE")
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = os.getenv("BENCH_BODY_TYPE") or "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
