-- wrk -s report.lua: after the run, one machine-readable line next to wrk's own report.
-- Latencies are in microseconds (wrk's unit); errors are wrk's counters: connect/read/write/timeout
-- are socket errors, status counts responses with a status of 400 or more (wrk's "Non-2xx or 3xx").
-- Only done() is defined: a response() function would make wrk parse every response in Lua and
-- slow the load generator down.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%.0f duration_us=%.0f bytes=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f " ..
    "mean_us=%.0f max_us=%.0f err_connect=%.0f err_read=%.0f err_write=%.0f err_timeout=%.0f err_status=%.0f\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
