-- wrk script: POST bodies read from a file, one per line: JSON, or another CONTENT_TYPE.
--
--   wrk -s bench/post.lua URL -- BODIES_FILE THREADS [CONTENT_TYPE]
--
-- Thread i of n walks the lines i, i + n, i + 2n, ... of the file, in a cycle, so threads never
-- send the same body at once. Each response's status and, for JSON error bodies, its "error" code
-- are counted; at the end one line "BENCH_JSON {...}" sums them up for the caller.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local bodies = {}
local position = 0
statuses = {}
errors = {}

function init(args)
  local thread_count = tonumber(args[2])
  local line_number = 0
  for line in io.lines(args[1]) do
    if line_number % thread_count == thread_index then
      table.insert(bodies, line)
    end
    line_number = line_number + 1
  end
  if #bodies == 0 then
    error("no bodies for thread " .. thread_index .. " in " .. args[1])
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[3] or "application/json"
end

function request()
  position = position % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[position])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local code = body and string.match(body, '"error"%s*:%s*"([%w_]+)"')
  if code then
    errors[code] = (errors[code] or 0) + 1
  end
  if headers["retry-after"] or headers["Retry-After"] then
    errors["with_retry_after"] = (errors["with_retry_after"] or 0) + 1
  end
end

local function json_counts(counts)
  local parts = {}
  for key, value in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local all_statuses = {}
  local all_errors = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("statuses")) do
      all_statuses[key] = (all_statuses[key] or 0) + value
    end
    for key, value in pairs(thread:get("errors")) do
      all_errors[key] = (all_errors[key] or 0) + value
    end
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, '
      .. '"latency_us": {"p50": %d, "p99": %d, "max": %d, "mean": %.1f}, '
      .. '"statuses": %s, "errors": %s}\n',
    summary.requests,
    summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
    json_counts(all_statuses), json_counts(all_errors)))
end
