-- runs/log-batch of 10 metrics; every request logs new steps so nothing is deduplicated.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run_id = os.getenv("BENCH_RUN_ID")
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end
function request()
  counter = counter + 1
  local step = thread_id * 100000000 + counter
  local parts = {}
  for i = 0, 9 do
    parts[#parts + 1] = string.format('{"key":"bench_%d","value":%d.5,"timestamp":%d,"step":%d}', i, counter, 1700000000000 + counter, step)
  end
  local body = string.format('{"run_id":"%s","metrics":[%s]}', run_id, table.concat(parts, ","))
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", {["Content-Type"] = "application/json"}, body)
end
