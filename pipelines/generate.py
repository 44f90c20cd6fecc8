"""Generate the synthetic credit world into a directory of parquet files plus a manifest.

Usage::

    python -m pipelines.generate --accounts 20000 --months 36 --seed 7 --out data/world

Argument parsing and logging only; the writing (temporary names renamed when complete,
``manifest.json`` with sha256 checksums written last) is
:func:`risk_model.synthetic.write_world`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from risk_model.synthetic import WorldConfig, write_world

log = logging.getLogger("pipelines.generate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines.generate", description=__doc__)
    parser.add_argument("--accounts", type=int, default=20_000, help="number of accounts")
    parser.add_argument("--months", type=int, default=36, help="window length in months")
    parser.add_argument("--seed", type=int, default=7, help="root random seed")
    parser.add_argument("--out", type=Path, default=Path("data/world"), help="output directory")
    parser.add_argument("--horizon", type=int, default=3, help="truth horizon in months")
    parser.add_argument("--start", default="2023-01", help="first window month, YYYY-MM")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=50_000,
        help="accounts written per chunk (does not change the data)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = WorldConfig(
            n_accounts=args.accounts,
            n_months=args.months,
            seed=args.seed,
            horizon=args.horizon,
            start=args.start,
            chunk_size=args.chunk_size,
        )
    except ValueError as error:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    progress = not args.quiet and sys.stderr.isatty()
    manifest, stats = write_world(config, args.out, progress=progress)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        log.info("closures by month:\n%s", stats.monthly(config).round(4).to_string(index=False))
    log.info("summary: %s", json.dumps(manifest["summary"]))
    log.info(
        "wrote %s", ", ".join(f"{f['path']} ({f['rows']} rows)" for f in manifest["files"].values())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
