-- POST /api/v1/tasks/{id}/reports as the unit that holds the obligation, cycling through
-- (task, unit token) pairs in order, so that concurrent requests are on different obligations;
-- every request carries a new Idempotency-Key.
--   wrk -s bench/wrk/report.lua http://127.0.0.1:PORT -- PAIRS_FILE PERIOD KEY_PREFIX
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

setup = common.setup
done = common.done

local pairs_, period, prefix, at, sent

function init(args)
   pairs_ = {}
   for _, line in ipairs(common.lines(args[1])) do
      local task, token = line:match("^(%d+)%s+(%S+)$")
      pairs_[#pairs_ + 1] = {task, "Bearer " .. token}
   end
   period, prefix = args[2], args[3] .. "-" .. tid
   at = math.floor(#pairs_ * tid / nthreads)
   sent = 0
end

function request()
   at = at % #pairs_ + 1
   sent = sent + 1
   local pair = pairs_[at]
   local body = string.format('{"period": "%s", "progress": %d, "summary": "%s"}', period,
                              sent % 101, "本月按计划推进,已完成阶段性目标,第" .. sent .. "次报送。")
   return wrk.format("POST", "/api/v1/tasks/" .. pair[1] .. "/reports", {
      ["Authorization"] = pair[2],
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = prefix .. "-" .. sent,
   }, body)
end
