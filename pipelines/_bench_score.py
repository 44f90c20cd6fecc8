"""``python -m pipelines.benchmark score``: scoring throughput, memory and latency.

Prints, in one run, on a cached synthetic world (``data/bench/``, 12 months of history
per account, default density):

* the time to just read the histories parquet (the floor), in a fresh process;
* end-to-end throughput (accounts/s) of the command ``python -m pipelines.score``,
  timed from launch to exit (interpreter start-up and imports included), with
  ``--reasons needed`` (default) and ``--reasons none``, and the ratio to the floor;
  peak memory is that process's ``ru_maxrss`` (scoring threads share the one process)
  and CPU its user + system time over all threads;
* bare LightGBM throughput on the precomputed feature matrix (``num_threads=1``) and
  the cost of exact TreeSHAP contributions (``pred_contrib``) per account;
* ``Predictor.predict_one`` latency p50 / p99 over ``--single`` accounts, in fresh
  processes that have only loaded the model (as a scoring service would); the median of
  ``--latency-runs`` runs, every run printed beside it.

``--large N`` also scores an N-account file to show that peak memory does not grow with
the file size (streaming by ``--batch-rows``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]


def add_score_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``score`` sub-command on the benchmark's sub-parsers."""
    p = sub.add_parser("score", help="scoring throughput, memory and predict_one latency")
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--start",
        default="2024-07",
        help="first month of the scored world; the as-of date is its last month end. The "
        "default (as-of 2025-06-30) is an ordinary date for the default model's policy "
        "calendar; 2023-01 scores the day before a regulatory sweep, when every account "
        "is above the lowest band and needs reasons",
    )
    p.add_argument("--model", help="model (default: registry champion)")
    p.add_argument("--tracking-uri", help="MLflow store for the default model")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument(
        "--workers", type=int, default=None, help="batches scored at once (default: score's own)"
    )
    p.add_argument("--single", type=int, default=1000, help="accounts for predict_one latency")
    p.add_argument(
        "--latency-runs", type=at_least_one, default=3, help="fresh processes measuring predict_one"
    )
    p.add_argument("--large", type=int, default=0, help="also score an N-account file (memory)")


def at_least_one(text: str) -> int:
    """Argument type of a count that must be 1 or more (a usage error otherwise)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def median_by_tail(runs: list[dict], p99: str) -> tuple[list[dict], dict]:
    """Return the runs sorted by their p99 (key ``p99``) and the median one, the figure."""
    ordered = sorted(runs, key=lambda run: run[p99])
    return ordered, ordered[len(ordered) // 2]


def _child(cmd: list[str]) -> str:
    """Run a command in a fresh process and return its stdout (it reports its own RSS)."""
    proc = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _startup_floor(args: argparse.Namespace) -> float:
    """Wall time of a fresh process that imports the scorer and loads the model."""
    code = (
        "import time, sys; s=time.perf_counter();"
        "import pipelines.score, pipelines._scoring_stack; from risk_model.predict import load;"
        "load(sys.argv[1] if sys.argv[1] else None, tracking_uri=sys.argv[2] or None);"
        "print(time.perf_counter()-s)"
    )
    started = time.perf_counter()
    _child([sys.executable, "-c", code, args.model or "", args.tracking_uri or ""])
    return time.perf_counter() - started


def _read_floor(path: Path) -> tuple[float, float]:
    code = (
        "import time, pyarrow.parquet as pq, resource, json, sys;"
        "s=time.perf_counter(); t=pq.read_table(sys.argv[1]);"
        "print(json.dumps({'read_s': time.perf_counter()-s, 'rows': t.num_rows,"
        "'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))"
    )
    out = _child([sys.executable, "-c", code, str(path)])
    data = json.loads(out.strip().splitlines()[-1])
    return data["read_s"], data["rss"]


def _score_child(path: Path, args: argparse.Namespace, as_of: dt.date, reasons: str) -> dict:
    """Run ``python -m pipelines.score`` as a user would; time the whole command."""
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        cmd = [sys.executable, "-m", "pipelines.score", str(path), "--as-of", as_of.isoformat()]
        cmd += ["--out", str(Path(tmp) / "s.parquet"), "--reasons", reasons]
        cmd += ["--batch-rows", str(args.batch_rows)]
        cmd += ["--workers", str(args.workers)] if args.workers else []
        cmd += ["--model", args.model] if args.model else []
        cmd += ["--tracking-uri", args.tracking_uri] if args.tracking_uri else []
        result = timed_command(cmd, log=Path(tmp) / "stderr.txt")
    if result["code"] not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({result['code']}): {result['stderr']}")
    return result


def timed_command(cmd: list[str], *, log: Path) -> dict:
    """Run ``cmd`` to completion; return its exit code, wall seconds, CPU seconds and peak RSS.

    The whole process is measured, interpreter start-up and imports included. Peak memory
    is the process's own high-water mark (``VmHWM``, sampled every 10 ms; it only grows):
    ``ru_maxrss`` would also count this (larger) benchmark process, which it was forked from.
    """
    peak_kb = 0
    with open(log, "w+b") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=stderr)
        while True:
            peak_kb = max(peak_kb, high_water_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace")[-2000:]
    return {
        "code": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": peak_kb / 1024,
        "stderr": tail,
    }


def proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, None once the process has ended.

    The command name (in parentheses) may hold spaces, so the fields are read after its
    closing parenthesis: ``[0]`` state, ``[1]`` parent, ``[2]`` process group, ``[11]`` /
    ``[12]`` user / system CPU in clock ticks (:func:`cpu_seconds`).
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(fields: list[str]) -> float:
    """User + system CPU seconds of a process from its :func:`proc_stat` fields."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def high_water_kb(pid: int) -> int:
    """Peak resident memory of a live process (``VmHWM``), 0 once it has ended."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _bare_lightgbm(predictor, path: Path, as_of: dt.date, rows: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows))
    frame, _ = predictor.features(pa.Table.from_batches([batch]), as_of)
    matrix = predictor.artefact.matrix(frame)
    booster = predictor.artefact.booster
    booster.predict(matrix[:100], num_threads=1)  # warm-up
    start = time.perf_counter()
    booster.predict(matrix, raw_score=True, num_threads=1)
    plain = time.perf_counter() - start
    sample = matrix[: min(2000, len(matrix))]
    start = time.perf_counter()
    booster.predict(sample, pred_contrib=True, num_threads=1)
    contrib = time.perf_counter() - start
    start = time.perf_counter()
    predictor.artefact.contributions(sample)  # lookup tables when the trees fit them
    tables = time.perf_counter() - start
    return {
        "rows": len(matrix),
        "plain_per_s": len(matrix) / plain,
        "contrib_ms": contrib / len(sample) * 1e3,
        "tables_ms": tables / len(sample) * 1e3,
        "tables": predictor.artefact.shap_tables is not None,
        "trees": booster.num_trees(),
    }


def _stages(predictor, path: Path, as_of: dt.date, rows: int) -> list[tuple[str, float]]:
    """Seconds per stage of scoring one batch of ``rows`` accounts (in this process)."""
    import pyarrow.parquet as pq

    from risk_model import contract as C
    from risk_model import reasons as R
    from risk_model.validation import split_valid

    art, out = predictor.artefact, []

    def timed(label, fn):
        start = time.perf_counter()
        value = fn()
        out.append((label, time.perf_counter() - start))
        return value

    source = pq.ParquetFile(path, buffer_size=8 << 20, pre_buffer=False)
    batch = timed("read batch", lambda: next(source.iter_batches(batch_size=rows)))
    table = pa_table(batch)
    valid, _ = timed("validate (split_valid)", lambda: split_valid(table, as_of=as_of))
    frame, _ = timed("build features", lambda: predictor.features(valid, as_of))
    matrix = timed("feature matrix", lambda: art.matrix(frame))
    prob = timed("LightGBM + calibration", lambda: art.calibrate(art.predict_raw(matrix)))
    need = art.bands(prob) != predictor.lowest_band
    contrib = timed(
        f"TreeSHAP ({need.mean():.0%} need reasons)", lambda: art.contributions(matrix[need])
    )

    def reason_texts():  # as the predictor does it: one attribution, then texts and causes
        values = matrix[need]
        attributed = R.account_attribution(
            contrib, art.feature_names, values=values, catalogue=predictor.catalogue
        )
        as_of = np.asarray(frame[C.AS_OF].to_numpy(), dtype="datetime64[D]")[need]
        idle = R.idle_rule_rows(as_of, art.policy, art.horizon_months)
        R.top_reasons(attributed, values, predictor.catalogue, idle=idle)
        counted = R.cause_contributions(attributed, predictor.catalogue, idle)
        R.top_causes(counted, predictor.causes)

    timed("reason texts + top cause", reason_texts)
    timed("whole score_features", lambda: predictor.score_features(frame))
    return out


def pa_table(batch):
    import pyarrow as pa

    return pa.Table.from_batches([batch])


def _latency(predictor, path: Path, as_of: dt.date, count: int) -> dict[str, float]:
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path).iter_batches(batch_size=count))
    records = batch.to_pylist()
    for record in records[:20]:  # warm-up
        predictor.predict_one(record, as_of)
    times = np.empty(len(records))
    for i, record in enumerate(records):
        start = time.perf_counter()
        predictor.predict_one(record, as_of)
        times[i] = time.perf_counter() - start
    return {
        "n": len(records),
        "p50": np.percentile(times, 50) * 1e3,
        "p99": np.percentile(times, 99) * 1e3,
    }


def _latency_child(path: Path, as_of: dt.date, args: argparse.Namespace) -> dict[str, float]:
    """``predict_one`` latency in a fresh process that has only loaded the model.

    As a scoring service would be: not in this process, whose heap holds the batch
    measurements made before.
    """
    cmd = [sys.executable, "-m", "pipelines._bench_score", "--latency", str(path)]
    cmd += [as_of.isoformat(), str(args.single), args.model or "", args.tracking_uri or ""]
    return json.loads(_child(cmd).strip().splitlines()[-1])


def _measure_latency(argv: list[str]) -> int:
    """Child: load the model, print ``predict_one`` latency as JSON."""
    import pipelines._scoring_stack  # noqa: F401  (as the scoring command imports it)
    from risk_model.predict import load

    path, as_of, count, model, uri = argv
    predictor = load(model or None, tracking_uri=uri or None)
    result = _latency(predictor, Path(path), dt.date.fromisoformat(as_of), int(count))
    print(json.dumps(result))
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Scoring throughput and memory vs the read floor, bare LightGBM, predict_one latency."""
    from pipelines.benchmark import month_ends, world_dir
    from risk_model.predict import load

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    folder = world_dir(args.accounts, args.months, args.seed, start=args.start)
    path = folder / "histories.parquet"
    as_of = month_ends(folder, 1)[0]
    predictor = load(args.model, tracking_uri=args.tracking_uri)
    read_s, read_rss = _read_floor(path)
    n = args.accounts
    print(f"world: {path} ({n:,} accounts, {args.months} months), as-of {as_of}")
    print(f"model: {predictor.model_version} ({predictor.artefact.booster.num_trees()} trees)")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(
        f"read parquet (floor):      {read_s:6.2f} s  {n / read_s:>9,.0f} acct/s  "
        f"peak RSS {read_rss:,.0f} MB"
    )
    startup_s = _startup_floor(args)
    print(
        f"start-up (fresh process: imports + verified model load): {startup_s:6.2f} s "
        "(paid once per run, whatever the file size)"
    )
    for reasons in ("needed", "none"):
        r = _score_child(path, args, as_of, reasons)
        steady = n / max(r["wall_s"] - startup_s, 1e-9)
        print(
            f"score --reasons {reasons:<7}: {r['wall_s']:6.2f} s  {n / r['wall_s']:>9,.0f} "
            f"acct/s  peak RSS {r['rss_mb']:,.0f} MB  "
            f"CPU {r['cpu_s']:.1f} s  ratio to floor "
            f"{r['wall_s'] / read_s:.1f}x  (exit {r['code']}); "
            f"{steady:,.0f} acct/s net of start-up"
        )
    if args.large:
        large_world = world_dir(args.large, args.months, args.seed, start=args.start)
        large = large_world / "histories.parquet"
        r = _score_child(large, args, as_of, "needed")
        print(
            f"score {args.large:,} accounts:  {r['wall_s']:6.2f} s  "
            f"{args.large / r['wall_s']:>9,.0f} acct/s  peak RSS {r['rss_mb']:,.0f} MB "
            f"CPU {r['cpu_s']:.1f} s (batch rows {args.batch_rows:,})"
        )
    print(
        "load average (1, 5, 15 min) after scoring: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    bare = _bare_lightgbm(predictor, path, as_of, min(n, 50_000))
    print(
        f"bare LightGBM predict:     {bare['plain_per_s']:>9,.0f} rows/s on {bare['rows']:,} "
        f"precomputed feature rows (1 thread)"
    )
    print(f"TreeSHAP pred_contrib:     {bare['contrib_ms']:.3f} ms per account (1 thread)")
    source = "lookup tables" if bare["tables"] else "pred_contrib (trees too big for tables)"
    print(
        f"TreeSHAP as scored:        {bare['tables_ms']:.3f} ms per account ({source}), "
        f"{bare['contrib_ms'] / bare['tables_ms']:.1f}x faster than pred_contrib"
    )
    stage_rows = min(n, args.batch_rows)
    print(f"stages for one batch of {stage_rows:,} accounts (ms per 1,000 accounts):")
    for label, seconds in _stages(predictor, path, as_of, stage_rows):
        print(f"  {label:<30} {seconds / stage_rows * 1e6:8.1f}")
    if args.single:
        # Several fresh processes: one burst of noise on a shared box moves a whole run's
        # tail. The median run is the figure; every run is printed beside it.
        runs = [_latency_child(path, as_of, args) for _ in range(args.latency_runs)]
        runs, mid = median_by_tail(runs, "p99")
        every = ", ".join(f"{r['p50']:.2f}/{r['p99']:.2f}" for r in runs)
        print(
            f"predict_one latency:       p50 {mid['p50']:.2f} ms, p99 {mid['p99']:.2f} ms "
            f"over {mid['n']:,} accounts (with reasons, 1 thread, fresh process; median of "
            f"{len(runs)} runs by p99; every run p50/p99: {every} ms)"
        )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["--latency"]:
        raise SystemExit("usage: python -m pipelines._bench_score --latency PATH AS_OF N MODEL URI")
    raise SystemExit(_measure_latency(sys.argv[2:]))
