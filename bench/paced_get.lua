-- wrk script: GET at a steady pace, for latency under load rather than throughput.
--
--   wrk -s bench/paced_get.lua URL -- DELAY_MS
--
-- Each connection waits DELAY_MS between a response and its next request, so the probe adds
-- little load of its own. Statuses are counted; at the end one line "BENCH_JSON {...}" gives
-- the latency percentiles (microseconds) for the caller.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local pause_ms = 20
statuses = {}

function init(args)
  pause_ms = tonumber(args[1]) or pause_ms
end

function delay()
  return pause_ms
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("statuses")) do
      all[key] = (all[key] or 0) + value
    end
  end
  local parts = {}
  for key, value in pairs(all) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, '
      .. '"statuses": {%s}}\n',
    summary.requests,
    summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ", ")))
end
