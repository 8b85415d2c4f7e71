-- runs/create in an experiment of its own.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local exp_id = os.getenv("BENCH_CREATE_EXPERIMENT_ID")
local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"experiment_id":"%s","start_time":%d,"run_name":"bench-%d"}', exp_id, 1700000000000 + counter, counter)
  return wrk.format("POST", "/api/2.0/mlflow/runs/create", {["Content-Type"] = "application/json"}, body)
end
