-- wrk script for scripts/bench/http.sh: POST realistic Tencent callback bodies (several fixtures,
-- taken in turn), each request with a fresh FileId so every request is a distinct event.
local path = os.getenv("BENCH_PATH") or "/"
local bodies = {}
for name in string.gmatch(os.getenv("BENCH_BODIES"), "[^:]+") do
  local file = assert(io.open(name, "rb"))
  bodies[#bodies + 1] = file:read("*a")
  file:close()
end
local counter = 0
local thread_tag = 0

function setup(thread)
  thread_tag = thread_tag + 1
  thread:set("tag", thread_tag)
end

function request()
  counter = counter + 1
  local template = bodies[(counter % #bodies) + 1]
  local id = string.format("%d%012d", tag or 0, counter)
  local body = template:gsub('("FileId"%s*:%s*")[^"]*"', '%1' .. id .. '"')
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end
