-- Shared by the benchmark scripts (loaded with dofile): numbered threads, reading the inputs
-- the runner writes, and the run's figures as one JSON line for bench/run.py to parse.
local common = {}

local threads = 0

-- wrk calls setup once per thread in its main state: give each thread its number and the
-- thread count, so that threads share out counters and lists without overlapping.
function common.setup(thread)
   thread:set("tid", threads)
   threads = threads + 1
   thread:set("nthreads", threads)
end

function common.lines(path)
   local out = {}
   for line in io.lines(path) do
      if line ~= "" then
         out[#out + 1] = line
      end
   end
   assert(#out > 0, "no lines in " .. path)
   return out
end

function common.read(path)
   local file = assert(io.open(path, "rb"))
   local text = file:read("*a")
   file:close()
   return text
end

function common.done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "mean_us": %.1f, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, summary.bytes, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

return common
