-- POST /api/v1/documents (text/plain) with the office token: a 100-task document whose 文号
-- and title differ on every request, so that each one is a real import. The templates come
-- from bench/documents.py; render() there builds the same bodies.
--   wrk -s bench/wrk/document.lua http://127.0.0.1:PORT -- TOKEN TEMPLATE_LIST CODE YEAR
local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

setup = common.setup
done = common.done

local templates, headers, code, year, counter

function init(args)
   headers = {["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "text/plain; charset=utf-8"}
   templates = {}
   for _, path in ipairs(common.lines(args[2])) do
      templates[#templates + 1] = common.read(path)
   end
   code, year = args[3], args[4]
   counter = tid
end

function request()
   -- A 文号's number has at most four digits: the runner gives each run its own code or year.
   local number = counter % 9999 + 1
   local text = templates[counter % #templates + 1]
   counter = counter + nthreads
   text = text:gsub("@@NO@@", code .. "〔" .. year .. "〕" .. number .. "号")
   text = text:gsub("@@N@@", tostring(number))
   return wrk.format("POST", "/api/v1/documents", headers, text)
end
