-- wrk script for scripts/bench/nats.sh, kafka.sh and backfill.sh: POST a fixture body, each request with a fresh
-- media id so every request is a new event (a fresh key and id, and no JetStream deduplication
-- shortcut for either server).
local path = os.getenv("BENCH_PATH") or "/"
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local template = file:read("*a")
file:close()
local marker = os.getenv("BENCH_MARKER") or "5285890784273533167"
-- The calling script numbers its wrk invocations (BENCH_RUN): ids then never repeat across runs
-- of one invocation either, where JetStream would drop a repeat inside its duplicate window and
-- spare the server the work of storing it.
local run = tonumber(os.getenv("BENCH_RUN") or "0")
-- A Content-Type no vendor uses (scripts/bench/backfill.sh sets text/html) makes every callback a
-- dead letter.
local content_type = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local counter = 0
local thread_tag = 0

function setup(thread)
  thread_tag = thread_tag + 1
  thread:set("tag", thread_tag)
end

function request()
  counter = counter + 1
  local id = string.format("%d%d%09d", run, tag or 0, counter)
  local body = template:gsub(marker, id)
  return wrk.format("POST", path, { ["Content-Type"] = content_type }, body)
end
