"""Check reason codes against the known closure causes of a labelled world.

Usage::

    python -m pipelines.evaluate_reasons --data data/world [--model ...] [--as-of D ...]

For every account that was open at an out-of-time as-of date (default: the model's OOT
months from ``spec.json``) and closed within the model's horizon with a recorded cause,
the predictor's ``top_cause`` (computed with reasons for every row) is compared with the
recorded cause. Point in time: each as-of date's features are built with a merchant-risk
table fitted at that date (the artefact's table, fitted at the end of the history, holds
payments made inside the label windows); ``--merchant-table artefact`` uses the
artefact's table instead, to measure that look-ahead
(:func:`risk_model.reason_check.explain_closures`). Prints the table dates used, the
confusion table (rows: true cause, columns: top cause), the share that matches per cause
and overall, and the same on each account's latest as-of date only. When the world has its
exact truth (``truth.parquet``), also the ceiling: the same table for the truth's most likely
cause (:func:`risk_model.reason_check.most_likely_causes`; no model can do better on
average), and how often the top cause agrees with it. Exit code 0; 2 on input errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from risk_model import contract as C

LOG = logging.getLogger("pipelines.evaluate_reasons")
NONE = "(none)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.evaluate_reasons")
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder with histories.parquet and closures.parquet",
    )
    parser.add_argument("--model", help="model (default: registry champion)")
    parser.add_argument("--tracking-uri", help="MLflow store for the default model")
    parser.add_argument(
        "--as-of",
        nargs="*",
        type=dt.date.fromisoformat,
        help="as-of dates (default: the model's OOT months)",
    )
    parser.add_argument(
        "--merchant-table",
        choices=("point-in-time", "artefact"),
        default="point-in-time",
        help="merchant-risk table: fitted at each as-of date (default) or the artefact's "
        "(fitted at the history end: looks ahead)",
    )
    parser.add_argument("--out", type=Path, help="optional JSON report")
    return parser.parse_args(argv)


def confusion(true_cause: pd.Series, top_cause: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Confusion table (true x top cause, with totals) and the match share per true cause."""
    top = top_cause.fillna(NONE)
    columns = [*C.CAUSES, NONE]
    table = pd.crosstab(true_cause, top).reindex(columns=columns, fill_value=0)
    table = table.reindex([c for c in C.CAUSES if c in table.index])
    match = pd.Series({c: table.loc[c, c] / table.loc[c].sum() for c in table.index})
    match["all"] = sum(table.loc[c, c] for c in table.index) / table.to_numpy().sum()
    return table, match


def _print_part(label: str, part: pd.DataFrame, report: dict) -> None:
    """Print and record the confusion tables of one set of explained rows."""
    table, match = confusion(part["true"], part["top"])
    print(f"\n{label}: {len(part):,} closed (true cause recorded)")
    print(table.to_string())
    print("match share: " + ", ".join(f"{k} {v:.1%}" for k, v in match.items()))
    entry = {"confusion": table.to_dict(), "match": match.to_dict(), "n": len(part)}
    if "oracle" in part:
        known = part[part["oracle"].notna()]
        ceiling, best = confusion(known["true"], known["oracle"])
        agree = float((known["top"] == known["oracle"]).mean()) if len(known) else float("nan")
        print(f"ceiling, the truth's most likely cause ({len(known):,} rows with truth):")
        print(ceiling.to_string())
        print("ceiling match share: " + ", ".join(f"{k} {v:.1%}" for k, v in best.items()))
        print(f"top cause = truth's most likely cause: {agree:.1%}")
        entry["ceiling"] = {"confusion": ceiling.to_dict(), "match": best.to_dict()}
        entry["agreement_with_most_likely"] = agree
    report[label] = entry


def run(args: argparse.Namespace) -> int:
    from risk_model.predict import load
    from risk_model.reason_check import TOP_CAUSE, explain_closures, most_likely_causes

    predictor = load(args.model, tracking_uri=args.tracking_uri)
    art = predictor.artefact
    dates = args.as_of or [dt.date.fromisoformat(d) for d in art.spec["split"]["months_oot"]]
    dates = sorted(set(dates))
    histories = pq.read_table(args.data / "histories.parquet")
    closures = pq.read_table(args.data / "closures.parquet")
    mode = args.merchant_table.replace("-", "_")
    explained = explain_closures(predictor, histories, closures, dates, tables=mode)
    tables = {d.isoformat(): t and t.isoformat() for d, t in explained.table_dates.items()}
    print(
        f"merchant-risk tables ({args.merchant_table}): "
        + ", ".join(f"as-of {d} -> table {t or '(none)'}" for d, t in tables.items())
    )
    rows = explained.rows
    result = rows[[C.ACCOUNT_ID, C.AS_OF]].assign(true=rows[C.CAUSE], top=rows[TOP_CAUSE])
    truth_path = args.data / "truth.parquet"
    if truth_path.exists():
        truth = pq.read_table(truth_path)
        result["oracle"] = most_likely_causes(rows, truth, art.horizon_months)
    latest = result.sort_values(C.AS_OF, kind="stable").groupby(C.ACCOUNT_ID).tail(1)
    report = {
        "model": predictor.model_version,
        "as_of": [d.isoformat() for d in dates],
        "merchant_table": args.merchant_table,
        "merchant_table_as_of": tables,
    }
    print(f"as-of {dates[0]}..{dates[-1]}")
    for label, part in (("account-months", result), ("latest as-of per account", latest)):
        _print_part(label, part, report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return run(args)
    except (OSError, ValueError) as exc:
        print(f"evaluate_reasons: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
