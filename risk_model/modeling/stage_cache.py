"""A disk cache of the features-and-labels stage, keyed by everything that shapes its output.

Building the snapshot frame (features and labels) and rebuilding its evaluated rows by the
scoring path are the slow part of training, and they do not depend on the model
configuration. Retraining on the same data with other model settings reads them back
instead.

A key is the sha256 of a JSON document of its parts: the sha256 of each input file's bytes
(histories, closures, truth, manifest or policy), the accounts kept, the as-of dates, the
horizon, the policy calendar, the versions of numpy, pandas and pyarrow, and the *feature
code version*: a hash of the source text of every library module the stage imports
(found by reading the import statements, so a new feature module is covered when it is
imported). The served rows' key adds the frame's key, the split's row assignment and the
dates of the two merchant-risk tables it holds (the served rows' and the artefact's); it
holds the rebuilt rows only, put back into the frame on reading. Anything else changed
gives another key; an entry is never updated in place.

An entry is a folder ``<root>/<stage>/<key>/`` of Arrow IPC (Feather) files and
``entry.json`` (the key parts and each file's sha256), written under a temporary name and
renamed when complete. Arrow files rather than pickles: reading an entry never runs code
and any Arrow tool reads it; rather than parquet: they keep every dtype exactly (parquet
turns ``datetime64[s]`` into milliseconds). An entry that is missing, unreadable or whose
checksums do not match is computed again and replaced.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from risk_model import contract as C
from risk_model.attributes import AttributeSpec
from risk_model.files import sha256_file
from risk_model.modeling.snapshots import (
    evaluation_table_date,
    merchant_tables,
    served_rows,
    snapshot_frame,
    with_served_rows,
)
from risk_model.modeling.split import Split
from risk_model.policy import PolicyCalendar

DEFAULT_DIR = Path("data") / "cache"
INPUT_FILES = (
    "histories.parquet",
    "closures.parquet",
    "truth.parquet",
    "manifest.json",
    "policy.json",
)
# The stage's entry points; every library module they import (transitively) is hashed.
CODE_ROOTS = (
    "risk_model.modeling.data_dir",
    "risk_model.modeling.snapshots",
    "risk_model.modeling.stage_cache",
    "risk_model.features",
)
PACKAGES = ("numpy", "pandas", "pyarrow")
ENTRY_FILE = "entry.json"

Tables = dict[str, pd.DataFrame | pa.Table]


def _module_file(name: str, top: Path) -> Path | None:
    """Source file of library module ``name`` (``None`` when it is not a module)."""
    base = top.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(path: Path) -> set[str]:
    """Names a source file imports absolutely (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def code_files(roots: Sequence[str] = CODE_ROOTS) -> dict[str, Path]:
    """Library modules ``roots`` import, directly or not, with their parent packages."""
    top = Path(__file__).resolve().parents[1]
    package = top.name
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        path = _module_file(name, top) if name.split(".")[0] == package else None
        if name in found or path is None:
            continue
        found[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend([*_imported(path), *parents])
    return dict(sorted(found.items()))


@functools.cache
def feature_code_version() -> str:
    """Hash of the source text of every library module the features-and-labels stage runs."""
    digest = hashlib.sha256()
    for name, path in code_files().items():
        digest.update(f"{name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def input_fingerprint(directory: Path) -> dict[str, str]:
    """sha256 of each input file present in a data directory (by file name)."""
    return {
        name: sha256_file(directory / name) for name in INPUT_FILES if (directory / name).is_file()
    }


def stage_key(parts: Mapping[str, Any]) -> str:
    """Return the key of an entry: sha256 of its parts as canonical JSON."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in PACKAGES}


@dataclass(frozen=True)
class StageCache:
    """Arrow-file entries under ``root`` (``None``: no cache, every stage is computed).

    Parameters
    ----------
    root : pathlib.Path, optional
        Cache folder; created when the first entry is written.
    """

    root: Path | None

    def load(self, stage: str, key: str) -> Tables | None:
        """Return the tables of an entry, or ``None`` when it is absent or damaged."""
        if self.root is None:
            return None
        folder = self.root / stage / key
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
            tables: Tables = {}
            for name, meta in entry["tables"].items():
                path = folder / f"{name}.arrow"
                if sha256_file(path) != meta["sha256"]:
                    return None
                table = feather.read_table(path, memory_map=False)
                tables[name] = table.to_pandas() if meta["pandas"] else table
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None
        return tables

    def save(self, stage: str, key: str, tables: Tables, parts: Mapping[str, Any]) -> None:
        """Write an entry (complete or not at all) over any previous one."""
        if self.root is None:
            return
        (self.root / stage).mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.root / stage))
        try:
            meta = {}
            for name, table in tables.items():
                path = partial / f"{name}.arrow"
                feather.write_feather(table, path)
                meta[name] = {
                    "sha256": sha256_file(path),
                    "pandas": isinstance(table, pd.DataFrame),
                }
            entry = {"key": key, "parts": parts, "tables": meta}
            (partial / ENTRY_FILE).write_text(
                json.dumps(entry, indent=1, sort_keys=True, default=str), encoding="utf-8"
            )
            final = self.root / stage / key
            shutil.rmtree(final, ignore_errors=True)  # a damaged entry of the same key
            try:
                os.replace(partial, final)
            except OSError:
                if not (final / ENTRY_FILE).is_file():  # else another run wrote it meanwhile
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def fetch(
        self, stage: str, parts: Mapping[str, Any], compute: Callable[[], Tables]
    ) -> tuple[Tables, str, bool]:
        """Tables of ``parts``: read back when cached, else computed and stored.

        Returns
        -------
        tables : dict
            The stage's tables by name.
        key : str
            The entry's key.
        hit : bool
            Whether they were read from the cache.
        """
        key = stage_key(parts)
        tables = self.load(stage, key)
        if tables is not None:
            return tables, key, True
        tables = compute()
        try:
            self.save(stage, key, tables, parts)
        except OSError as exc:  # a cache is an optimisation: a full or read-only disk is no failure
            warnings.warn(f"features cache not written ({exc})", RuntimeWarning, stacklevel=2)
        return tables, key, False


def open_cache(directory: Path | None = None, *, enabled: bool = True) -> StageCache:
    """Return the cache in ``directory`` (default ``data/cache`` in the working directory)."""
    if not enabled:
        return StageCache(None)
    return StageCache(directory if directory is not None else DEFAULT_DIR)


def _account_digest(histories: pa.Table) -> str:
    ids = pd.Series(histories[C.ACCOUNT_ID].to_numpy(zero_copy_only=False), dtype=object)
    return hashlib.sha256(pd.util.hash_pandas_object(ids, index=False).to_numpy()).hexdigest()


def cached_snapshot_frame(
    cache: StageCache | None,
    source: Path,
    histories: pa.Table,
    closures: pa.Table | None,
    dates: Sequence[dt.date],
    *,
    horizon_months: int,
    policy: PolicyCalendar,
    truth: pa.Table | None = None,
    features=None,
    attributes: AttributeSpec | None = None,
) -> tuple[pd.DataFrame, str, bool]:
    """:func:`~risk_model.modeling.snapshots.snapshot_frame` through the cache.

    ``histories`` (or a subset of its accounts), ``closures`` and ``truth`` must be the
    tables read from the data directory ``source``, whose files' bytes key the entry.
    ``features`` (an engine, see ``snapshot_frame``) computes them elsewhere; engines give
    equal frames, so it is not part of the key.

    Returns
    -------
    frame : pandas.DataFrame
        As :func:`~risk_model.modeling.snapshots.snapshot_frame` returns it.
    key : str
        The entry's key (empty when the cache is off).
    hit : bool
        Whether the frame was read from the cache.
    """

    def compute() -> Tables:
        return {
            "frame": snapshot_frame(
                histories,
                closures,
                dates,
                horizon_months=horizon_months,
                policy=policy,
                truth=truth,
                features=features,
                attributes=attributes,
            )
        }

    if cache is None or cache.root is None:
        return compute()["frame"], "", False
    parts = {
        "stage": "features",
        "inputs": input_fingerprint(source),
        "accounts": _account_digest(histories),
        "dates": [d.isoformat() for d in dates],
        "horizon_months": horizon_months,
        "policy": policy.to_dict(),
        "attributes": attributes.to_list() if attributes else [],
        "code": feature_code_version(),
        "packages": _versions(),
    }
    tables, key, hit = cache.fetch("features", parts, compute)
    return tables["frame"], key, hit


def cached_served_frame(
    cache: StageCache | None,
    frame_key: str,
    histories: pa.Table,
    frame: pd.DataFrame,
    split: Split,
    *,
    policy: PolicyCalendar,
    horizon_months: int,
    features=None,
    attributes: AttributeSpec | None = None,
    production_as_of: dt.date | None = None,
) -> tuple[pd.DataFrame, pa.Table, dt.date, pa.Table | None, bool]:
    """:func:`~risk_model.modeling.snapshots.served_frame` through the cache.

    ``frame_key`` is the key :func:`cached_snapshot_frame` gave ``frame`` (empty: no
    cache); the split's row assignment completes the key. With ``production_as_of`` (the
    end of the history) the entry also holds the artefact's merchant-risk table, fitted
    in the same read of the transactions as the served rows' table
    (:func:`~risk_model.modeling.snapshots.merchant_tables`).

    Returns
    -------
    tuple
        ``served``, ``table`` and ``table_as_of`` as ``served_frame`` returns them, the
        table at ``production_as_of`` (``None`` without it) and whether they were read
        from the cache.
    """
    table_as_of = evaluation_table_date(frame, split)

    def compute() -> Tables:
        dates = [table_as_of] + ([production_as_of] if production_as_of else [])
        tables = merchant_tables(histories, dates, features=features)
        rows = served_rows(
            histories,
            frame,
            split,
            tables[table_as_of],
            policy=policy,
            horizon_months=horizon_months,
            features=features,
            attributes=attributes,
        )
        # the rebuilt rows only (a sixth of the frame), not a second copy of the frame
        out: Tables = {"served_rows": rows, "merchant_risk": tables[table_as_of]}
        if production_as_of:
            out["production_merchant_risk"] = tables[production_as_of]
        return out

    if cache is None or cache.root is None or not frame_key:
        tables, hit = compute(), False
    else:
        part = np.ascontiguousarray(split.part, dtype=np.int8)
        parts = {
            "stage": "served",
            "frame": frame_key,
            "split": hashlib.sha256(part.tobytes()).hexdigest(),
            "table_as_of": table_as_of.isoformat(),
            "production_as_of": production_as_of.isoformat() if production_as_of else None,
        }
        tables, _, hit = cache.fetch("served", parts, compute)
    served = with_served_rows(frame, split, tables["served_rows"])
    production = tables.get("production_merchant_risk")
    return served, tables["merchant_risk"], table_as_of, production, hit
