"""Measuring the suite: each test's worker, wall time and CPU, and the Spark JVM's CPU.

Not a test module and not loaded by default. As a pytest plugin it appends one JSON line
per test (worker, start, end, the process's CPU and its reaped children's CPU over the
test, fixtures included) to ``$SUITE_TIMING.<worker>.jsonl``::

    SUITE_TIMING=/tmp/run1 PYTHONPATH=tests python -m pytest -q -p suite_timing ...
    python tests/suite_timing.py sample CLONE /tmp/run1.procs &   # the JVM, its workers
    touch /tmp/run1.procs.stop                                    # when pytest is done
    python tests/suite_timing.py report /tmp/run1

``sample`` keeps, for every process whose working directory is under CLONE, its largest
user + system CPU seen (every 0.5 s): ``time`` counts a process only once it is reaped, and
nothing reaps the Spark JVM (or the Python workers it forks) before pytest exits.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys
import time

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    start, before = time.time(), os.times()
    yield
    end, after = time.time(), os.times()
    own = after.user - before.user + after.system - before.system
    kids = after.children_user - before.children_user
    kids += after.children_system - before.children_system
    line = {"id": item.nodeid, "w": worker, "t0": start, "t1": end, "cpu": own, "ccpu": kids}
    with open(f"{os.environ['SUITE_TIMING']}.{worker}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def sample(marker: str, out: str) -> None:
    """Record the largest CPU of each process working under ``marker`` until ``out.stop``."""
    tick, seen = os.sysconf("SC_CLK_TCK"), {}
    while not os.path.exists(out + ".stop"):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if marker not in os.readlink(f"/proc/{pid}/cwd"):
                    continue
                with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    name = cmd.read().replace(b"\0", b" ").decode(errors="replace")[:120]
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / tick
            seen[pid] = (max(cpu, seen.get(pid, (0.0,))[0]), name)
        time.sleep(0.5)
    kinds = collections.Counter()
    for cpu, name in seen.values():
        kinds[_kind(name)] += cpu
    with open(out, "w", encoding="utf-8") as file:
        json.dump({kind: round(cpu, 1) for kind, cpu in kinds.items()}, file)


def _kind(command: str) -> str:
    if "java" in command or "spark-class" in command:  # bash execs java: either name shows
        return "spark jvm"
    return "pyspark workers" if "pyspark" in command else "other"


def report(prefix: str) -> None:
    """Print each worker's busy time and end, and the modules by CPU."""
    rows = []
    for path in glob.glob(f"{prefix}.*.jsonl"):
        with open(path, encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines]
    first = min(r["t0"] for r in rows)
    for worker in sorted({r["w"] for r in rows}):
        mine = [r for r in rows if r["w"] == worker]
        busy = sum(r["t1"] - r["t0"] for r in mine)
        end = max(r["t1"] for r in mine) - first
        print(f"{worker}: {len(mine)} tests, busy {busy:.1f} s, last ends {end:.1f} s")
    cpu = collections.Counter()
    for r in rows:
        cpu[r["id"].split("::")[0]] += r["cpu"] + r["ccpu"]
    print(f"CPU in tests (own + reaped children): {sum(cpu.values()):.1f} s")
    for module, seconds in cpu.most_common(15):
        print(f"{seconds:7.1f}  {module}")


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(sys.argv[2], sys.argv[3])
    else:
        report(sys.argv[2])
