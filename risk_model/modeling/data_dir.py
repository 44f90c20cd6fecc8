"""A training data directory: histories, closures and what else the directory tells.

``histories.parquet`` (``contract.HISTORY_SCHEMA``; ``transactions`` or ``statements`` may be
absent) and ``closures.parquet`` (``CLOSURES_SCHEMA``) are required; optional files are
``truth.parquet`` (synthetic truth, compared when present), ``manifest.json`` (the generator's
manifest: policy calendar and observation window) or ``policy.json``
(``PolicyCalendar.to_dict()``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from risk_model.dates import add_months
from risk_model.policy import PolicyCalendar


@dataclass
class Inputs:
    """Tables read from a data directory.

    Attributes
    ----------
    histories, closures : pyarrow.Table
        Validated contract tables.
    truth : pyarrow.Table or None
        Synthetic truth when the directory has one.
    policy : PolicyCalendar
        Policy calendar (empty when the directory says nothing).
    label_end : datetime.date or None
        Last month end whose closures are observed (from a generator manifest).
    source : Path
        The directory.
    """

    histories: pa.Table
    closures: pa.Table
    truth: pa.Table | None
    policy: PolicyCalendar
    label_end: dt.date | None
    source: Path


def load_inputs(directory: Path) -> Inputs:
    """Read and validate the training tables of a data directory.

    Raises
    ------
    FileNotFoundError
        When the directory or a required file is missing.
    ContractError
        When a table does not meet the contract.
    """
    from risk_model.validation import validate_closures, validate_histories

    if not directory.is_dir():
        raise FileNotFoundError(f"data directory not found: {directory}")
    for required in ("histories.parquet", "closures.parquet"):
        if not (directory / required).is_file():
            raise FileNotFoundError(f"{directory} has no {required} (needed for training)")
    histories = validate_histories(pq.read_table(directory / "histories.parquet"))
    closures = validate_closures(pq.read_table(directory / "closures.parquet"))
    truth_path = directory / "truth.parquet"
    truth = pq.read_table(truth_path) if truth_path.is_file() else None
    policy, label_end = PolicyCalendar(), None
    manifest_path = directory / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        policy = PolicyCalendar.from_dict(manifest.get("policy"))
        if "start" in manifest and "months" in manifest:
            first = dt.date.fromisoformat(f"{manifest['start']}-01")
            label_end = add_months(first, int(manifest["months"]) - 1)
    elif (directory / "policy.json").is_file():
        policy = PolicyCalendar.from_dict(json.loads((directory / "policy.json").read_text()))
    return Inputs(histories, closures, truth, policy, label_end, directory)
