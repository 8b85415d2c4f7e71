-- runs/get of a random seeded run.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids = {}
for line in io.lines(os.getenv("BENCH_RUN_IDS_FILE")) do ids[#ids + 1] = line end
math.randomseed(os.time())
function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/2.0/mlflow/runs/get?run_id=" .. id)
end
