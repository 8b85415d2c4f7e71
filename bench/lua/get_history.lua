-- metrics/get-history of a 100,000-point metric.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run_id = os.getenv("BENCH_HISTORY_RUN_ID")
function request()
  return wrk.format("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" .. run_id .. "&metric_key=loss")
end
