"""Generate the synthetic credit world into a directory of parquet files plus a manifest.

Usage::

    python -m pipelines.generate --accounts 20000 --months 36 --seed 7 --out data/world

Files are written under temporary names and renamed when complete; ``manifest.json`` (with
sha256 checksums) is written last, so a crashed run never leaves a manifest that claims
incomplete files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

import risk_model
from risk_model import contract as C
from risk_model.files import sha256_file
from risk_model.synthetic import WorldConfig, WorldStats, iter_world, make_merchants, world_stats
from risk_model.synthetic.world import chunk_count

log = logging.getLogger("pipelines.generate")

FILES = {
    "histories": ("histories.parquet", C.HISTORY_SCHEMA),
    "closures": ("closures.parquet", C.CLOSURES_SCHEMA),
    "truth": ("truth.parquet", C.TRUTH_SCHEMA),
}
MERCHANTS_FILE = "merchants.parquet"
MANIFEST_FILE = "manifest.json"


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


def write_world(
    config: WorldConfig, out: Path, *, progress: bool = False
) -> tuple[dict[str, Any], WorldStats]:
    """Write the world of ``config`` into ``out``; return the manifest and the summary counts.

    Parameters
    ----------
    config : WorldConfig
        World parameters.
    out : pathlib.Path
        Output directory (created; existing world files are replaced).
    progress : bool
        Show a tqdm progress bar over chunks on stderr.

    Returns
    -------
    manifest : dict
        The manifest written to ``out / "manifest.json"``.
    stats : WorldStats
        Summary counts of the world.
    """
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_FILE
    manifest_path.unlink(missing_ok=True)  # never leave a stale manifest over new files
    tmp = {key: out / (name + ".partial") for key, (name, _) in FILES.items()}
    # Non-compliant nested names keep Arrow's "item" list fields; parquet stores timestamp[s]
    # as milliseconds, so readers cast back (see risk_model.synthetic.read_world).
    writers = {
        key: pq.ParquetWriter(tmp[key], schema, use_compliant_nested_type=False)
        for key, (_, schema) in FILES.items()
    }
    rows = dict.fromkeys(FILES, 0)
    stats = None
    try:
        chunks = tqdm(
            iter_world(config),
            total=chunk_count(config),
            unit="chunk",
            disable=not progress,
            file=sys.stderr,
        )
        for chunk in chunks:
            for key in FILES:
                table = getattr(chunk, key)
                writers[key].write_table(table)
                rows[key] += table.num_rows
            part = world_stats(
                config, chunk.closures, chunk.truth, chunk.n_accounts, chunk.cashout_accounts
            )
            stats = part if stats is None else stats + part
    finally:
        for writer in writers.values():
            writer.close()
    for key, (name, _) in FILES.items():
        os.replace(tmp[key], out / name)
    merchants = make_merchants(config)
    pq.write_table(merchants, out / (MERCHANTS_FILE + ".partial"))
    os.replace(out / (MERCHANTS_FILE + ".partial"), out / MERCHANTS_FILE)
    rows["merchants"] = merchants.num_rows
    names = {key: name for key, (name, _) in FILES.items()} | {"merchants": MERCHANTS_FILE}
    assert stats is not None and config.policy is not None
    manifest = {
        "schema_version": C.SCHEMA_VERSION,
        "seed": config.seed,
        "start": config.start,
        "months": config.n_months,
        "horizon": config.horizon,
        "parameters": config.to_dict(),
        "policy": config.policy.to_dict(),
        "chunk_size": config.effective_chunk_size,
        "block_size": config.block_size,
        "versions": {
            "numpy": np.__version__,
            "pyarrow": pa.__version__,
            "pandas": pd.__version__,
            "risk_model": risk_model.__version__,
        },
        "files": {
            key: {"path": name, "rows": rows[key], "sha256": sha256_file(out / name)}
            for key, name in names.items()
        },
        "summary": stats.overall(config),
    }
    partial = out / (MANIFEST_FILE + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(partial, manifest_path)
    return manifest, stats


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
