-- runs/search over the seeded experiment: filter on a metric, ordered by it, 1,000 results.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local exp_id = os.getenv("BENCH_EXPERIMENT_ID")
local thresholds = {"0.1", "0.2", "0.3"}
local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"experiment_ids":["%s"],"filter":"metrics.m0 > %s","order_by":["metrics.m0 DESC"],"max_results":1000}',
    exp_id, thresholds[(counter % #thresholds) + 1])
  return wrk.format("POST", "/api/2.0/mlflow/runs/search", {["Content-Type"] = "application/json"}, body)
end
