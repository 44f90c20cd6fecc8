"""Write a synthetic world to parquet files plus a manifest, and read it back.

:func:`write_world` is the writer behind ``python -m pipelines.generate``: files are written
under temporary names and renamed when complete; ``manifest.json`` (with sha256 checksums) is
written last, so a crashed run never leaves a manifest that claims incomplete files.
:func:`read_world` loads such a folder back into contract-typed tables.
"""

from __future__ import annotations

import json
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
from risk_model.synthetic.config import WorldConfig, config_from_dict
from risk_model.synthetic.merchants import make_merchants
from risk_model.synthetic.summary import WorldStats, world_stats
from risk_model.synthetic.world import World, chunk_count, iter_world

FILES = {
    "histories": ("histories.parquet", C.HISTORY_SCHEMA),
    "closures": ("closures.parquet", C.CLOSURES_SCHEMA),
    "truth": ("truth.parquet", C.TRUTH_SCHEMA),
}
MERCHANTS_FILE = "merchants.parquet"
MANIFEST_FILE = "manifest.json"

_SCHEMAS = {
    "histories": C.HISTORY_SCHEMA,
    "closures": C.CLOSURES_SCHEMA,
    "truth": C.TRUTH_SCHEMA,
    "merchants": C.MERCHANTS_SCHEMA,
}


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
    rows, stats = _write_chunks(config, out, progress=progress)
    merchants = make_merchants(config)
    pq.write_table(merchants, out / (MERCHANTS_FILE + ".partial"))
    os.replace(out / (MERCHANTS_FILE + ".partial"), out / MERCHANTS_FILE)
    rows["merchants"] = merchants.num_rows
    assert stats is not None  # a valid config has at least one chunk
    manifest = world_manifest(config, out, rows, stats)
    partial = out / (MANIFEST_FILE + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(partial, manifest_path)
    return manifest, stats


def _write_chunks(
    config: WorldConfig, out: Path, *, progress: bool
) -> tuple[dict[str, int], WorldStats | None]:
    """Stream the chunks of ``config`` into the :data:`FILES`; return row counts and stats."""
    tmp = {key: out / (name + ".partial") for key, (name, _) in FILES.items()}
    # Non-compliant nested names keep Arrow's "item" list fields; parquet stores timestamp[s]
    # as milliseconds, so readers cast back (see read_world).
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
    return rows, stats


def world_manifest(
    config: WorldConfig, out: Path, rows: dict[str, int], stats: WorldStats
) -> dict[str, Any]:
    """Return the manifest of a world whose files are complete in ``out``.

    Parameters
    ----------
    config : WorldConfig
        World parameters (with a policy calendar).
    out : pathlib.Path
        Folder holding the finished files named in :data:`FILES` and :data:`MERCHANTS_FILE`.
    rows : dict
        Row count per file key (``histories``, ``closures``, ``truth``, ``merchants``).
    stats : WorldStats
        Summary counts of the whole world.

    Returns
    -------
    dict
        JSON-ready manifest: parameters, policy, library versions, and per file its path, row
        count and sha256.
    """
    names = {key: name for key, (name, _) in FILES.items()} | {"merchants": MERCHANTS_FILE}
    assert config.policy is not None
    return {
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


def read_world(directory: str | Path, *, verify: bool = True) -> World:
    """Load a generated world, cast to the contract schemas (parquet stores seconds as ms).

    Parameters
    ----------
    directory : str or pathlib.Path
        Folder written by :func:`write_world` (with ``manifest.json``).
    verify : bool
        Check every file's sha256 against the manifest first.

    Returns
    -------
    World
        The tables and the :class:`WorldConfig` recorded in the manifest.

    Raises
    ------
    FileNotFoundError
        If there is no manifest (an incomplete or crashed run).
    ValueError
        If a checksum does not match.
    """
    root = Path(directory)
    manifest = json.loads((root / MANIFEST_FILE).read_text())
    tables = {}
    for key, schema in _SCHEMAS.items():
        entry = manifest["files"][key]
        path = root / entry["path"]
        if verify:
            digest = sha256_file(path)
            if digest != entry["sha256"]:
                raise ValueError(f"{path} does not match the sha256 in the manifest")
        tables[key] = pq.read_table(path).cast(schema)
    return World(
        config=config_from_dict(manifest["parameters"]),
        histories=tables["histories"],
        closures=tables["closures"],
        truth=tables["truth"],
        merchants=tables["merchants"],
        cashout_accounts=round(
            manifest["summary"]["cashout_share"] * manifest["summary"]["accounts"]
        ),
    )


def ensure_world(config: WorldConfig, directory: str | Path) -> World:
    """Return the world of ``config`` in ``directory``, generating it there first if needed.

    A world already in ``directory`` is reused only when its manifest records the same
    parameters; otherwise it is written again.
    """
    directory = Path(directory)
    manifest = directory / "manifest.json"
    if not manifest.is_file() or (
        config_from_dict(json.loads(manifest.read_text())["parameters"]) != config
    ):
        write_world(config, directory)
    return read_world(directory)
