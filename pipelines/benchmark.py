"""Benchmarks: ``python -m pipelines.benchmark features|separation|score|extract|recourse|serve``.

``features``: time and peak memory of :func:`risk_model.features.build_features` on a
synthetic world (generated once and cached under ``data/bench/``), against the floor of
just reading the input parquet, plus single-account latency with a fitted merchant table.
Each batch measurement runs in a fresh subprocess and reports its peak resident memory
from ``resource.getrusage(RUSAGE_SELF).ru_maxrss``.

``separation``: mean of each family's key features for accounts whose true closure risk is
mostly of one cause vs all others, at a few as-of dates (a sanity check of the features).

``recourse``: recourse coverage (offered where a wider search finds one) and
``Predictor.recourse`` latency per account (``pipelines/_bench_recourse.py``).

``spark``: Spark scoring throughput at ``local[1]`` / ``local[2]`` against one machine,
and (``--equality``) Spark's scores and rejects against one machine's
(``pipelines/_bench_spark.py``).

``extract``: the package against a plain LightGBM on the raw statement columns, on
statements-only single-as-of extracts of generated worlds, same account folds
(``pipelines/_bench_extract.py``).

``serve``: HTTP latency and throughput of ``mlflow models serve`` for one-account requests at
several client concurrencies (``pipelines/_bench_serve.py``).

Add a sub-command by writing ``run_<name>(args)`` and an entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipelines._bench_extract import add_extract_parser, run_extract
from pipelines._bench_recourse import add_recourse_parser, run_recourse
from pipelines._bench_score import add_score_parser, at_least_one, median_by_tail, run_score
from pipelines._bench_serve import add_serve_parser, run_serve
from pipelines._bench_spark import add_spark_parser, run_spark

log = logging.getLogger("benchmark")
PROJECT = Path(__file__).resolve().parents[1]
BENCH_DIR = PROJECT / "data" / "bench"


def world_dir(
    accounts: int, months: int, seed: int, root: Path = BENCH_DIR, start: str = "2023-01"
) -> Path:
    """Generate (once) and return the folder of a cached synthetic world."""
    suffix = "" if start == "2023-01" else f"_{start}"
    folder = root / f"world_a{accounts}_m{months}_s{seed}{suffix}"
    if (folder / "histories.parquet").exists() and (folder / "truth.parquet").exists():
        return folder
    from risk_model.synthetic import write_world
    from risk_model.synthetic.config import WorldConfig

    log.info("generating %s accounts x %s months (seed %s) ...", accounts, months, seed)
    began = time.perf_counter()
    config = WorldConfig(n_accounts=accounts, n_months=months, seed=seed, start=start)
    # Written chunk by chunk, as `python -m pipelines.generate` does: memory stays flat
    # (a 1M-account world fits), and the files have row groups like real extracts.
    write_world(config, folder)
    policy = config.policy.to_dict() if config.policy else {}
    (folder / "policy.json").write_text(json.dumps(policy))
    log.info("generated in %.1f s -> %s", time.perf_counter() - began, folder)
    return folder


def month_ends(folder: Path, count: int) -> list[dt.date]:
    """Return the last ``count`` as-of dates of the world's truth table."""
    import pyarrow.parquet as pq

    from risk_model import contract as C

    dates = pq.read_table(folder / "truth.parquet", columns=[C.AS_OF]).column(C.AS_OF)
    unique = sorted(set(dates.unique().to_pylist()))
    return unique[-count:]


def _measure(args: argparse.Namespace) -> int:
    """Child process: read (and optionally featurise) once; print timings as JSON."""
    import pyarrow.parquet as pq

    from risk_model.features import build_features

    start = time.perf_counter()
    table = pq.read_table(args.path)
    read_s = time.perf_counter() - start
    result = {"read_s": read_s, "rows": table.num_rows}
    if args.what == "build":
        dates = [dt.date.fromisoformat(d) for d in args.dates.split(",")]
        start = time.perf_counter()
        frame = build_features(table, dates)
        result["build_s"] = time.perf_counter() - start
        result["feature_rows"] = len(frame)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


def _child(what: str, path: Path, dates: list[dt.date]) -> dict:
    cmd = [sys.executable, "-m", "pipelines.benchmark", "_measure", "--what", what]
    cmd += ["--path", str(path), "--dates", ",".join(d.isoformat() for d in dates)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=PROJECT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _event_rows(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from risk_model import contract as C

    table = pq.read_table(path, columns=[C.STATEMENTS, C.TRANSACTIONS])
    return sum(int(pc.sum(pc.list_value_length(table.column(c))).as_py() or 0) for c in
               table.column_names)  # fmt: skip


def single_latency(
    accounts: int, seed: int, root: Path = BENCH_DIR, passes: int = 5
) -> dict[str, object]:
    """p50 / p99 latency of 1-account ``build_features`` on 36-month histories.

    Every account is timed in each of ``passes`` passes. One pass's p99 is its tenth
    slowest call in a thousand, which a burst of noise on a shared machine moves by a
    third on the same code; the pass with the median p99 is the figure, and every
    pass is returned beside it.
    """
    import pyarrow.parquet as pq

    from risk_model.features import build_features, fit_merchant_risk

    folder = world_dir(accounts, 36, seed, root)
    table = pq.read_table(folder / "histories.parquet")
    as_of = month_ends(folder, 1)[0]
    fitted = fit_merchant_risk(table, as_of)
    rows = [table.slice(i, 1) for i in range(table.num_rows)]
    for row in rows[:20]:  # warm-up
        build_features(row, as_of, merchant_risk=fitted)
    runs = []
    for _ in range(passes):
        times = np.empty(len(rows))
        for i, row in enumerate(rows):
            start = time.perf_counter()
            build_features(row, as_of, merchant_risk=fitted)
            times[i] = time.perf_counter() - start
        p50, p99 = np.percentile(times, [50, 99]) * 1e3
        runs.append({"p50_ms": float(p50), "p99_ms": float(p99)})
    runs, mid = median_by_tail(runs, "p99_ms")
    return {
        **mid,
        "passes": runs,
        "accounts": len(rows),
        "merchants": fitted.num_rows,
    }


def scoring_batch(
    accounts: int, months: int, seed: int, root: Path = BENCH_DIR, repeats: int = 5
) -> dict[str, float]:
    """Scoring-mode batch time: ``accounts`` histories, one as-of date, fitted merchant table.

    The table is fitted on the same world at its last month end; the best and the median
    of ``repeats`` timed calls (after one warm-up) are reported.
    """
    import pyarrow.parquet as pq

    from risk_model.features import build_features, fit_merchant_risk

    folder = world_dir(accounts, months, seed, root)
    table = pq.read_table(folder / "histories.parquet")
    as_of = month_ends(folder, 1)[0]
    fitted = fit_merchant_risk(table, as_of)
    build_features(table, as_of, merchant_risk=fitted)  # warm-up
    times = np.empty(repeats)
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(repeats):
        start = time.perf_counter()
        build_features(table, as_of, merchant_risk=fitted)
        times[i] = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
    per_k = 1e3 * 1000 / table.num_rows
    return {
        "accounts": table.num_rows,
        "best_ms_per_1k": float(times.min() * per_k),
        "median_ms_per_1k": float(np.median(times) * per_k),
        # memory the allocator gave back between builds and touched again: the figure
        # moves with it, whatever the code (docs/benchmarks.md)
        "page_faults_per_build": faults / repeats,
    }


def _training_batch(args: argparse.Namespace) -> None:
    """Print the batch (training-mode) throughput and memory against the read floor."""
    folder = world_dir(args.accounts, args.months, args.seed, args.data_dir)
    path = folder / "histories.parquet"
    dates = month_ends(folder, args.as_of_count)
    events = _event_rows(path)
    floor = _child("read", path, dates)
    build = _child("build", path, dates)
    print(f"world: {folder} ({floor['rows']:,} accounts, {events:,} event rows)")
    print(f"as-of dates: {len(dates)} ({dates[0]} .. {dates[-1]})")
    print(f"read parquet (floor):  {floor['read_s']:.2f} s, peak RSS {floor['max_rss_mb']:.0f} MB")
    print(
        f"build_features:        {build['build_s']:.2f} s for {build['feature_rows']:,} rows, "
        f"peak RSS {build['max_rss_mb']:.0f} MB (getrusage ru_maxrss, fresh process, "
        "includes the read)"
    )
    print(f"event rows/s:          {events / build['build_s']:,.0f}")
    print(f"ratio to floor:        {build['build_s'] / floor['read_s']:.1f}x")


def run_features(args: argparse.Namespace) -> int:
    """Batch throughput, memory and single-account latency of build_features."""
    if args.scoring:
        sc = scoring_batch(args.scoring, args.scoring_months, args.seed, args.data_dir)
        print(
            f"scoring mode: {sc['accounts']:,} accounts x {args.scoring_months} months, one "
            f"as-of date, fitted table: {sc['median_ms_per_1k']:.1f} ms per 1,000 accounts "
            f"(median of 5; best {sc['best_ms_per_1k']:.1f}; "
            f"{sc['page_faults_per_build']:,.0f} minor page faults per build)"
        )
    if args.batch:
        _training_batch(args)
    if args.single:
        lat = single_latency(args.single, args.seed, args.data_dir, args.latency_passes)
        every = ", ".join(f"{r['p50_ms']:.2f}/{r['p99_ms']:.2f}" for r in lat["passes"])
        print(
            f"single account (36 months, fitted table of {lat['merchants']} merchants): "
            f"p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms over {lat['accounts']} "
            f"(median of {len(lat['passes'])} passes by p99; every pass p50/p99: {every} ms)"
        )
    return 0


KEY_FEATURES = {
    "overdue": ["dpd_max_6m", "months_dpd30_12m", "below_min_months_6m", "paid_ratio_mean_6m"],
    "cashout": [
        "round_near_limit_count_6m",
        "near_limit_share_6m",
        "patterned_share_6m",
        "merchant_round_nl_share_wmean_6m",
        "repay_respend_count_6m",
    ],
    "regulatory": ["is_student", "age_years", "months_since_kyc", "other_credit_lines"],
    "dormancy": ["months_since_purchase", "active_months_6m", "spend_trend_3v3"],
    "migration": ["legacy_unmigrated", "legacy_months_to_deadline"],
}


def separation_table(folder: Path, count: int, share: float = 0.5, floor: float = 0.05):
    """Mean key features for high-truth-share accounts of each cause vs all others."""
    import pandas as pd
    import pyarrow.parquet as pq

    from risk_model import contract as C
    from risk_model.features import build_features
    from risk_model.policy import PolicyCalendar

    table = pq.read_table(folder / "histories.parquet")
    policy = PolicyCalendar.from_dict(json.loads((folder / "policy.json").read_text()))
    all_dates = month_ends(folder, 10_000)
    picks = np.linspace(len(all_dates) // 3, len(all_dates) - 1, count).astype(int)
    dates = [all_dates[i] for i in picks]
    feats = build_features(table, dates, policy=policy)
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    truth[C.AS_OF] = pd.to_datetime(truth[C.AS_OF]).astype("datetime64[s]")
    merged = feats.merge(truth, on=[C.ACCOUNT_ID, C.AS_OF], how="inner")
    rows = []
    for cause, names in KEY_FEATURES.items():
        p = merged[f"p_{cause}"] / merged[C.P_CLOSE].where(merged[C.P_CLOSE] > 0)
        high = (p > share) & (merged[C.P_CLOSE] > floor)
        for as_of, part in merged.groupby(C.AS_OF):
            h = high.loc[part.index]
            for name in names:
                rows.append(
                    {
                        "cause": cause,
                        "as_of": as_of.date(),
                        "feature": name,
                        "n_high": int(h.sum()),
                        "mean_high": part.loc[h, name].mean(),
                        "mean_other": part.loc[~h, name].mean(),
                    }
                )
    return pd.DataFrame(rows)


def run_separation(args: argparse.Namespace) -> int:
    """Print the separation table on a (cached) synthetic world."""
    folder = world_dir(args.accounts, args.months, args.seed, args.data_dir)
    frame = separation_table(folder, args.as_of_count)
    with np.printoptions(suppress=True):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _world_args(parser: argparse.ArgumentParser, as_of_count: int = 3) -> None:
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--as-of-count", type=int, default=as_of_count)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR, help="world cache folder")


def _features_args(parser: argparse.ArgumentParser) -> None:
    _world_args(parser, as_of_count=12)
    parser.add_argument("--single", type=int, default=1000, help="accounts for latency (0 = skip)")
    parser.add_argument(
        "--latency-passes",
        type=at_least_one,
        default=5,
        help="timed passes over the latency accounts",
    )
    parser.add_argument(
        "--scoring", type=int, default=10_000, help="accounts for the scoring batch (0 = skip)"
    )
    parser.add_argument("--scoring-months", type=int, default=12)
    parser.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the training-mode batch measurement (--no-batch skips it)",
    )


def _measure_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--what", choices=["read", "build"], required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--dates", required=True)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "features": run_features,
    "separation": run_separation,
    "score": run_score,
    "extract": run_extract,
    "serve": run_serve,
    "recourse": run_recourse,
    "spark": run_spark,
    "_measure": _measure,  # internal: one measurement in a fresh process
}
# sub-command -> function adding its arguments (``score`` registers its own parser)
ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "features": _features_args,
    "separation": _world_args,
    "_measure": _measure_args,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.benchmark", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, add_args in ARGUMENTS.items():
        hidden = name.startswith("_")  # internal: listed without help
        add_args(
            sub.add_parser(name) if hidden else sub.add_parser(name, help=COMMANDS[name].__doc__)
        )
    add_score_parser(sub)
    add_extract_parser(sub)
    add_recourse_parser(sub)
    add_serve_parser(sub)
    add_spark_parser(sub)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
