"""Read a world written by ``python -m pipelines.generate`` back into contract-typed tables."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from risk_model import contract as C
from risk_model.files import sha256_file
from risk_model.synthetic.config import config_from_dict
from risk_model.synthetic.world import World

_SCHEMAS = {
    "histories": C.HISTORY_SCHEMA,
    "closures": C.CLOSURES_SCHEMA,
    "truth": C.TRUTH_SCHEMA,
    "merchants": C.MERCHANTS_SCHEMA,
}


def read_world(directory: str | Path, *, verify: bool = True) -> World:
    """Load a generated world, cast to the contract schemas (parquet stores seconds as ms).

    Parameters
    ----------
    directory : str or pathlib.Path
        Output directory of ``pipelines.generate`` (with ``manifest.json``).
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
    manifest = json.loads((root / "manifest.json").read_text())
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
