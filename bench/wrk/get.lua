-- A fixed GET with a bearer token: a unit's overdue page, the dispatch summary.
--   wrk -s bench/wrk/get.lua http://127.0.0.1:PORT/PATH?QUERY -- TOKEN
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

setup = common.setup
done = common.done

function init(args)
   wrk.headers["Authorization"] = "Bearer " .. args[1]
end
