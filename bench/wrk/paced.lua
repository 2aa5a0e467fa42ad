-- The overdue page as phone apps read it: each connection pauses between its requests, a random
-- while of PAUSE_MS on average (exponential, so that the clients do not move in step), and the
-- latency measured is the service's, not the queue's that a loader sending flat out builds.
--   wrk -s bench/wrk/paced.lua http://127.0.0.1:PORT/PATH?QUERY -- TOKEN PAUSE_MS
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

setup = common.setup
done = common.done

local pause

function init(args)
   wrk.headers["Authorization"] = "Bearer " .. args[1]
   pause = tonumber(args[2])
   math.randomseed(os.time() * 64 + tid)
end

-- wrk paces a connection when the script defines delay() at load time.
function delay()
   return math.floor(-math.log(1 - math.random()) * pause)
end
