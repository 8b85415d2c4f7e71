-- runs/log-batch of 10 metrics. Every request logs steps no earlier request (of this or
-- any previous wrk process) logged, so no write is a deduplicated no-op.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run_id = os.getenv("BENCH_RUN_ID")
-- HTTP basic credentials ("user:password" in base64), for servers behind basic-auth.
local auth = os.getenv("BENCH_BASIC_AUTH")
local headers = {["Content-Type"] = "application/json"}
if auth and auth ~= "" then headers["Authorization"] = "Basic " .. auth end
local base = (os.time() % 100000) * 1000000000
-- Timestamps grow with each request, as a training loop's wall clock does.
local clock = os.time() * 1000
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end
function request()
  counter = counter + 1
  local step = base + thread_id * 100000000 + counter
  local parts = {}
  for i = 0, 9 do
    parts[#parts + 1] = string.format('{"key":"bench_%d","value":%d.5,"timestamp":%d,"step":%d}', i, counter, clock + counter, step)
  end
  local body = string.format('{"run_id":"%s","metrics":[%s]}', run_id, table.concat(parts, ","))
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", headers, body)
end
