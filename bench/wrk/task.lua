-- GET /api/v1/tasks/{id} with the office token, cycling through a list of task ids.
--   wrk -s bench/wrk/task.lua http://127.0.0.1:PORT -- TOKEN TASK_IDS_FILE
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

setup = common.setup
done = common.done

local ids, at, headers

function init(args)
   headers = {["Authorization"] = "Bearer " .. args[1]}
   ids = common.lines(args[2])
   at = math.floor(#ids * tid / nthreads)
end

function request()
   at = at % #ids + 1
   return wrk.format("GET", "/api/v1/tasks/" .. ids[at], headers)
end
