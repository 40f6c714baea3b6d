"""self_measure.py - a child for build/scale's --command that measures
itself (tests/test_integrity.sh's record-field check; not a test itself):
burns about 0.25 s of user CPU and 0.1 s of system CPU, holds about 96 MiB
resident, then writes its own getrusage(RUSAGE_SELF) and its own elapsed
time to the report file (argv[1]). The amounts differ enough that a record
with user and sys swapped, or peak RSS in another unit, cannot pass.
Standard library only."""
import json
import os
import resource
import sys
import time

t0 = time.monotonic()


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


mem = bytearray(96 << 20)
for i in range(0, len(mem), 4096):        # every page resident
    mem[i] = 1
with open("/dev/zero", "rb", buffering=0) as z:    # system time: the kernel clears the pages it copies
    buf = bytearray(1 << 20)
    while cpu()[1] < 0.10 and time.monotonic() - t0 < 20:
        z.readinto(buf)
x = 0
while cpu()[0] < 0.25 and time.monotonic() - t0 < 20:   # user time
    for i in range(2000):
        x += i * i
r = resource.getrusage(resource.RUSAGE_SELF)
rep = {"self": {"user_s": r.ru_utime, "sys_s": r.ru_stime, "maxrss_kib": r.ru_maxrss, "minflt": r.ru_minflt,
                "majflt": r.ru_majflt, "nvcsw": r.ru_nvcsw, "elapsed_s": time.monotonic() - t0, "x": x % 7}}
with open(sys.argv[1], "w") as f:
    json.dump(rep, f)
