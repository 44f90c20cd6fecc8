import os
import subprocess
import sys
import time

from pipelines import benchmark
from pipelines._bench_spark import _descendants, _PeakMemory

BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_spark_benchmark_arguments_and_their_defaults():
    args = benchmark.parse_args(["spark"])
    assert args.command == "spark" and args.accounts == 1_000_000
    assert args.masters == "local[1],local[2]" and not args.equality


def test_descendants_are_children_and_their_children_only():
    # A shell that starts a sleeping grandchild: both are found, this process is not.
    proc = subprocess.Popen(["bash", "-c", "sleep 3 & wait"])
    try:
        deadline = time.monotonic() + 5
        while len(found := _descendants(os.getpid())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid in found and len(found) >= 2
        assert os.getpid() not in found
        assert _descendants(proc.pid) == [p for p in found if p != proc.pid]
    finally:
        proc.kill()
        proc.wait()


def test_cpu_is_counted_for_the_driver_it_started_not_for_other_processes():
    # A child named like the driver burns ~0.6 s of CPU: counted as the driver's; with no
    # child running, nothing is counted (this test process's own CPU never is).
    script = BUSY + "# pipelines.score\n"
    with _PeakMemory() as sampler:
        proc = subprocess.Popen([sys.executable, "-c", script, "pipelines.score"])
        time.sleep(0.5)
        proc.wait()
    assert 0.2 < sampler.cpu_s["driver"] < 5.0
    assert sampler.cpu_s["jvm"] == 0.0 and sampler.cpu_s["workers"] == 0.0
    with _PeakMemory() as idle:
        time.sleep(0.5)
    assert idle.cpu_s == {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
