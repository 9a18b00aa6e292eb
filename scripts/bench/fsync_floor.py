"""The disk's own durable-write latency: write CHUNK bytes and fdatasync, in a loop, for SECS.

    python3 scripts/bench/fsync_floor.py FILE SECS CHUNK

The least work any spool that answers only after an fsync must wait for, on the same disk; prints
the latency quantiles (the benchmarks run it alone, between the bridge's runs). The writes go
round a 64 MiB file written and synced beforehand, as SQLite goes round the WAL file it reuses, so
no sync also has to record a new file size. FILE is removed.
"""
import os
import sys
import time

path, secs, chunk = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
size = 64 << 20
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for _ in range(size // (1 << 20)):
    os.write(fd, b"\0" * (1 << 20))
os.fsync(fd)
buf = b"x" * chunk
lat = []
offset = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    t = time.perf_counter()
    os.pwrite(fd, buf, offset)
    os.fdatasync(fd)
    lat.append(time.perf_counter() - t)
    offset = (offset + chunk) % (size - chunk)
os.close(fd)
os.unlink(path)
lat.sort()


def q(p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000


print(f"fsync_floor n={len(lat)} p50={q(.5):.2f}ms p99={q(.99):.2f}ms p999={q(.999):.2f}ms max={lat[-1] * 1000:.1f}ms")
