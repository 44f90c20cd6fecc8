"""``python -m pipelines.benchmark spark``: Spark scoring throughput and parity with one machine.

Throughput (default): on a cached synthetic world (``data/bench/``, ``--accounts``, 12
months from ``--start``; as-of its last month end), in one run and each in a fresh
process, as a user would run them:

* ``python -m pipelines.score`` (one machine, its default threads);
* ``python -m pipelines.score --engine spark --master local[1]`` and ``local[2]``.

Each is timed from launch to exit (interpreter, JVM and session start-up, input checks,
model shipping, scoring and writing included) and, for Spark, also by its own log: the
scoring-and-writing job alone. Printed: accounts/s, the scaling efficiency
``rate(local[2]) / (2 x rate(local[1]))`` and the ratio of each to one machine.

``--equality``: the acceptance check. The world's accounts (default: the default world,
20,000 accounts x 36 months, seed 7) with ``--bad`` (200) seeded bad accounts
(:mod:`pipelines._spark_parity`), written with row groups of ``--row-group`` accounts so
the file splits into several Spark partitions, scored at the history end with the world's
closures by one machine and by Spark (``--master``, default ``local[2]``); then every
account is compared: probability (max absolute difference and share bit-equal), points,
band, reasons, top cause, and the rejects (same account, row and reason).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import pyarrow.parquet as pq

from pipelines._bench_score import cpu_seconds, high_water_kb, proc_stat, timed_command

PROJECT = Path(__file__).resolve().parents[1]


def add_spark_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``spark`` sub-command on the benchmark's sub-parsers."""
    p = sub.add_parser("spark", help="Spark scoring: throughput at local[1]/local[2], parity")
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2024-07", help="first month of the throughput world")
    p.add_argument("--model", help="model (default: registry champion)")
    p.add_argument("--tracking-uri", help="MLflow store for the default model")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument(
        "--masters", default="local[1],local[2]", help="Spark masters to time, comma-separated"
    )
    p.add_argument("--equality", action="store_true", help="the parity check instead")
    p.add_argument("--bad", type=int, default=200, help="bad accounts seeded (--equality)")
    p.add_argument("--row-group", type=int, default=2_000, help="row group size (--equality)")
    p.add_argument("--master", default="local[2]", help="Spark master (--equality)")
    p.add_argument("--keep", type=Path, help="keep the outputs in this folder")


def _model_args(args: argparse.Namespace) -> list[str]:
    out = ["--model", args.model] if args.model else []
    return out + (["--tracking-uri", args.tracking_uri] if args.tracking_uri else [])


class _PeakMemory:
    """Peak memory and CPU time of the driver, the JVM and Spark's Python workers, from /proc.

    Only this process's descendants count (other Spark jobs on the machine do not). Sampled
    every 0.2 s; CPU time is the last value seen per process (user + system), so a process's
    final 0.2 s may be missed. ``cpu_s`` maps ``driver`` / ``jvm`` / ``workers`` to CPU
    seconds: their sum over the run's wall time is how many cores the run kept busy.
    """

    def __init__(self) -> None:
        self.worker_mb = self.jvm_mb = 0.0
        self._cpu: dict[str, dict[int, float]] = {"driver": {}, "jvm": {}, "workers": {}}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_s(self) -> dict[str, float]:
        return {role: sum(seen.values()) for role, seen in self._cpu.items()}

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for pid in _descendants(os.getpid()):
                self._sample(pid)

    def _sample(self, pid: int) -> None:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return
        if b"pyspark.daemon" in cmd or b"pyspark.worker" in cmd:
            role = "workers"
        elif b"org.apache.spark.deploy.SparkSubmit" in cmd:
            role = "jvm"
        elif b"pipelines.score" in cmd:
            role = "driver"
        else:
            return
        fields = proc_stat(pid)
        if fields is None:  # ended meanwhile
            return
        self._cpu[role][pid] = cpu_seconds(fields)
        mb = high_water_kb(pid) / 1024
        if role == "workers":
            self.worker_mb = max(self.worker_mb, mb)
        elif role == "jvm":
            self.jvm_mb = max(self.jvm_mb, mb)


def _descendants(root: int) -> list[int]:
    """Process ids below ``root`` (children, their children, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for path in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(int(path.name))  # None: the process ended meanwhile
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(path.name))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _score(path: Path, out: Path, as_of, args, *extra: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pipelines.score", str(path), "--as-of", as_of.isoformat()]
    cmd += ["--out", str(out / "h.scores.parquet"), "--rejects", str(out / "h.rejects.parquet")]
    cmd += ["--batch-rows", str(args.batch_rows), *_model_args(args), *extra]
    with _PeakMemory() as peak:
        result = timed_command(cmd, log=out / "stderr.txt")
    result["worker_mb"], result["jvm_mb"] = peak.worker_mb, peak.jvm_mb
    result["cpu_by_role"] = peak.cpu_s
    if result["code"] not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({result['code']}): {result['stderr']}")
    log = (out / "stderr.txt").read_text(errors="replace")
    found = re.search(r"scored and written in ([\d.]+) s", log)
    result["job_s"] = float(found.group(1)) if found else None
    return result


def _throughput(args: argparse.Namespace, tmp: Path) -> int:
    from pipelines.benchmark import month_ends, world_dir

    folder = world_dir(args.accounts, args.months, args.seed, start=args.start)
    path = folder / "histories.parquet"
    as_of = month_ends(folder, 1)[0]
    n = pq.read_metadata(path).num_rows
    groups = pq.read_metadata(path).num_row_groups
    print(f"world: {path} ({n:,} accounts, {args.months} months, {groups} row groups)")
    print(f"as-of {as_of}; cores {os.cpu_count()}")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    one = _score(path, tmp / "local", as_of, args)
    print(
        f"one machine (pipelines.score, threads): {one['wall_s']:7.1f} s  "
        f"{n / one['wall_s']:>9,.0f} acct/s  peak RSS {one['rss_mb']:,.0f} MB; cores busy "
        f"{one['cpu_by_role']['driver'] / one['wall_s']:.2f}"
    )
    rates = {}
    for master in [m.strip() for m in args.masters.split(",") if m.strip()]:
        folder = tmp / re.sub(r"[^\w.-]", "-", master)  # Hadoop reads [ ] as a glob
        r = _score(path, folder, as_of, args, "--engine", "spark", "--master", master)
        rates[master] = (n / r["wall_s"], n / r["job_s"] if r["job_s"] else float("nan"))
        print(
            f"spark {master:<9}: {r['wall_s']:7.1f} s  {rates[master][0]:>9,.0f} acct/s "
            f"launch to exit; scoring job {r['job_s']:.1f} s = {rates[master][1]:,.0f} acct/s; "
            f"ratio to one machine {rates[master][0] / (n / one['wall_s']):.2f}; peak RSS: "
            f"driver {r['rss_mb']:,.0f} MB, JVM {r['jvm_mb']:,.0f} MB, largest Python "
            f"worker {r['worker_mb']:,.0f} MB (batches of {args.batch_rows:,} accounts)"
        )
        cpu = r["cpu_by_role"]
        print(
            f"  CPU s: driver {cpu['driver']:.1f}, JVM {cpu['jvm']:.1f}, Python workers "
            f"{cpu['workers']:.1f}; cores busy {sum(cpu.values()) / r['wall_s']:.2f} of "
            f"{os.cpu_count()} (launch to exit)"
        )
    if "local[1]" in rates and "local[2]" in rates:
        for i, label in enumerate(("launch to exit", "scoring job")):
            speedup = rates["local[2]"][i] / rates["local[1]"][i]
            print(
                f"local[2] / local[1] ({label}): {speedup:.2f}x, "
                f"scaling efficiency {speedup / 2:.0%}"
            )
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


def _equality(args: argparse.Namespace, tmp: Path) -> int:
    from pipelines._spark_parity import compare, equal, seed_bad_accounts
    from pipelines.benchmark import world_dir
    from risk_model.modeling.dataset import history_window

    accounts = 20_000 if args.accounts == 1_000_000 else args.accounts
    folder = world_dir(accounts, 36, args.seed)
    table = pq.read_table(folder / "histories.parquet")
    _, as_of = history_window(table)
    seeded, spoiled = seed_bad_accounts(table, args.bad, as_of, seed=args.seed)
    path = tmp / "histories_bad.parquet"
    pq.write_table(seeded, path, row_group_size=args.row_group)
    meta = pq.read_metadata(path)
    print(
        f"input: {folder.name} with {len(spoiled)} seeded bad accounts -> {path.name} "
        f"({meta.num_rows:,} accounts, {meta.num_row_groups} row groups), as-of {as_of}"
    )
    closures = ["--closures", str(folder / "closures.parquet")]
    one = _score(path, tmp / "local", as_of, args, *closures)
    spark = _score(
        path, tmp / "spark", as_of, args, *closures, "--engine", "spark", "--master", args.master
    )
    report = compare(
        tmp / "local" / "h.scores.parquet",
        tmp / "local" / "h.rejects.parquet",
        tmp / "spark" / "h.scores.parquet",
        tmp / "spark" / "h.rejects.parquet",
    )
    report["exit_codes"] = [one["code"], spark["code"]]
    report["equal"] = equal(report)
    print(json.dumps(report, indent=2))
    return 0 if report["equal"] else 1


def run_spark(args: argparse.Namespace) -> int:
    """Spark scoring throughput (local[1], local[2], one machine) or parity (--equality)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return (_equality if args.equality else _throughput)(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        return (_equality if args.equality else _throughput)(args, Path(tmp))
