import json
import os
import subprocess
import sys
import time

from pipelines import benchmark
from pipelines._bench_spark import _descendants

BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_spark_benchmark_arguments_and_their_defaults():
    args = benchmark.parse_args(["spark"])
    assert args.command == "spark" and args.accounts == 1_000_000
    assert args.masters == "local[1],local[2]" and not args.equality


def _new_descendants(before: set[int]) -> list[int]:
    return [p for p in _descendants(os.getpid()) if p not in before]


def test_descendants_are_children_and_their_children_only():
    # A shell that starts a sleeping grandchild: both are found, this process is not.
    # Children this process had already (an xdist worker's Spark JVM) are left out.
    before = set(_descendants(os.getpid()))
    proc = subprocess.Popen(["bash", "-c", "sleep 3 & wait"])
    try:
        deadline = time.monotonic() + 5
        while len(found := _new_descendants(before)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid in found and len(found) >= 2
        assert os.getpid() not in found
        assert _descendants(proc.pid) == [p for p in found if p != proc.pid]
    finally:
        proc.kill()
        proc.wait()


SAMPLED = f"""
import json, subprocess, sys, time
from pipelines._bench_spark import _PeakMemory
script = {BUSY + "# pipelines.score" + chr(10)!r}
with _PeakMemory() as sampler:
    proc = subprocess.Popen([sys.executable, "-c", script, "pipelines.score"])
    time.sleep(0.5)
    proc.wait()
with _PeakMemory() as idle:
    time.sleep(0.5)
print(json.dumps([sampler.cpu_s, idle.cpu_s]))
"""


def test_cpu_is_counted_for_the_driver_it_started_not_for_other_processes():
    # A child named like the driver burns ~0.6 s of CPU: counted as the driver's; with no
    # child running, nothing is counted (the sampling process's own CPU never is). Sampled
    # in a fresh process: an xdist worker may hold a Spark JVM, a child of its own.
    done = subprocess.run([sys.executable, "-c", SAMPLED], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    busy, idle = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.2 < busy["driver"] < 5.0
    assert busy["jvm"] == 0.0 and busy["workers"] == 0.0
    assert idle == {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
