"""``python -m pipelines.benchmark recourse``: recourse coverage and per-account latency.

On a labelled world (default ``data/world``, the default world that ``pipelines.train``
uses) scored at its last month end (accounts closed by then left out), with a trained
model (default: the registry champion):

* **coverage**: of the accounts above the lowest band, the share offered a recourse by
  :func:`risk_model.recourse.find_recourse` (its small search), and the share of those
  for which a wider search finds one (every combination of up to all five actions,
  utilisation levels every 5%): "offered where one exists";
* the plans offered (number of actions, kinds) and the batch time;
* **latency** of :meth:`Predictor.recourse` for ``--accounts`` single records above the
  lowest band (plain dicts, as a service receives them; 1 LightGBM thread): p50, p99,
  max, with the load average before and after (the target assumes a quiet machine), and
  ``predict_one`` on the same records, interleaved, as a reference for the load.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gc
import os
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
WIDE_LEVELS = tuple(round(0.95 - 0.05 * k, 2) for k in range(20))  # 95% .. 0%


def add_recourse_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``recourse`` sub-command on the benchmark's sub-parsers."""
    p = sub.add_parser("recourse", help="recourse coverage and Predictor.recourse latency")
    p.add_argument("--data", type=Path, default=PROJECT / "data" / "world", help="world folder")
    p.add_argument("--model", help="model (default: registry champion)")
    p.add_argument("--tracking-uri", help="MLflow store for the default model")
    p.add_argument("--as-of", type=dt.date.fromisoformat, help="default: the history's end")
    p.add_argument(
        "--accounts", type=int, default=1000, help="accounts above the lowest band timed one by one"
    )


def open_accounts(folder: Path, as_of: dt.date | None):
    """Return the valid histories of the world's accounts open at ``as_of`` and the date."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from risk_model import contract as C
    from risk_model.modeling.dataset import history_window
    from risk_model.validation import split_valid

    histories = pq.read_table(folder / "histories.parquet")
    as_of = as_of or history_window(histories)[1]
    day = pa.scalar(as_of, pa.date32())
    keep = pc.less_equal(histories[C.OPEN_DATE], day)
    closures_path = folder / "closures.parquet"
    if closures_path.exists():
        closures = pq.read_table(closures_path)
        gone = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], day))[C.ACCOUNT_ID]
        keep = pc.and_(keep, pc.invert(pc.is_in(histories[C.ACCOUNT_ID], gone)))
    valid, _ = split_valid(histories.filter(keep), as_of=as_of)
    return valid, as_of


def run_recourse(args: argparse.Namespace) -> int:
    """Coverage of the small search against a wide one; single-record latency."""
    import pyarrow as pa

    from risk_model import recourse as RC
    from risk_model.predict import load

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    predictor = load(args.model, tracking_uri=args.tracking_uri)
    valid, as_of = open_accounts(args.data, args.as_of)
    scores, _ = predictor.score_arrow(valid, as_of, reasons="none")
    probability = scores["probability"].to_numpy()
    above = np.flatnonzero(np.array(scores["band"].to_pylist()) != predictor.lowest_band)
    print(f"world: {args.data}, as-of {as_of}; model {predictor.model_version}")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"accounts open: {valid.num_rows:,}; above the lowest band: {len(above):,}")

    subset = valid.take(pa.array(above))
    started = time.perf_counter()
    found = RC.find_recourse(predictor, subset, as_of, probability=probability[above])
    batch_s = time.perf_counter() - started
    wide = RC.find_recourse(
        predictor,
        subset,
        as_of,
        probability=probability[above],
        max_actions=len(RC.ACTIONS),
        levels=WIDE_LEVELS,
    )
    offered = np.array([s == RC.OFFERED for s in found.field("status").to_pylist()])
    exists = np.array([s == RC.OFFERED for s in wide.field("status").to_pylist()])
    n = max(len(above), 1)
    print(
        f"recourse offered: {offered.sum():,} ({offered.sum() / n:.1%} of the accounts above "
        f"the lowest band); a wider search finds one for {exists.sum():,} ({exists.sum() / n:.1%})"
    )
    print(
        f"coverage where one exists: {offered[exists].mean() if exists.any() else 1.0:.1%} "
        f"({(offered & exists).sum():,} of {exists.sum():,}); batch search "
        f"{batch_s / n * 1e3:.2f} ms per account ({len(above):,} accounts, 1 thread)"
    )
    plans = collections.Counter(
        " + ".join(a["code"] for a in item["actions"])
        for item in found.to_pylist()
        if item["status"] == RC.OFFERED
    )
    print("plans offered:")
    for plan, count in plans.most_common():
        print(f"  {count:6,}  {plan}")

    records = subset.slice(0, args.accounts).to_pylist()
    for record in records[:20]:  # warm-up
        predictor.recourse(record, as_of)
    gc.collect()
    # predict_one on the same records, interleaved: the same load for both figures
    times = np.empty((2, len(records)))
    for i, record in enumerate(records):
        for k, call in enumerate((predictor.predict_one, predictor.recourse)):
            start = time.perf_counter()
            call(record, as_of)
            times[k, i] = time.perf_counter() - start
    times *= 1e3
    for k, label in enumerate(("predict_one (reference)", "Predictor.recourse")):
        print(
            f"{label} latency over {len(records):,} accounts above the lowest band: "
            f"p50 {np.percentile(times[k], 50):.1f} ms, p99 {np.percentile(times[k], 99):.1f} "
            f"ms, max {times[k].max():.1f} ms (1 thread)"
        )
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0
