-- experiments/search, first page.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function request()
  return wrk.format("GET", "/api/2.0/mlflow/experiments/search?max_results=100")
end
