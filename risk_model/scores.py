"""The scores table: output columns and schema, and conversions around scoring.

:data:`OUTPUT_COLUMNS` / :data:`OUTPUT_SCHEMA` describe one scored account (see
:mod:`risk_model.predict`); :func:`as_table` accepts the histories a caller may hand to the
predictor; :func:`to_frame` turns scores into pandas; :func:`add_not_open` lists valid
accounts that were not yet open at the as-of date among the rejects.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from risk_model import contract as C
from risk_model import reasons as R
from risk_model.problems import Problem
from risk_model.records import from_records

PROBABILITY, POINTS, BAND, REASONS, TOP_CAUSE, MODEL_VERSION = (
    "probability",
    "points",
    "band",
    "reasons",
    "top_cause",
    "model_version",
)
OUTPUT_COLUMNS = (
    C.ACCOUNT_ID,
    C.AS_OF,
    PROBABILITY,
    POINTS,
    BAND,
    REASONS,
    TOP_CAUSE,
    MODEL_VERSION,
)
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field(C.ACCOUNT_ID, pa.string()),
        pa.field(C.AS_OF, pa.date32()),
        pa.field(PROBABILITY, pa.float64()),
        pa.field(POINTS, pa.float64()),
        pa.field(BAND, pa.string()),
        pa.field(REASONS, R.REASONS_TYPE),
        pa.field(TOP_CAUSE, pa.string()),
        pa.field(MODEL_VERSION, pa.string()),
    ]
)


def as_table(histories: Any) -> pa.Table:
    """Accept an Arrow table, record batch, DataFrame, parquet path or record dict(s)."""
    if isinstance(histories, pa.Table):
        return histories
    if isinstance(histories, pa.RecordBatch):
        return pa.Table.from_batches([histories])
    if isinstance(histories, pd.DataFrame):
        try:
            return pa.Table.from_pandas(histories, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return from_records(histories.to_dict(orient="records"))
    if isinstance(histories, str | os.PathLike):
        try:
            return pq.read_table(histories)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ValueError(f"cannot read histories from {os.fspath(histories)!r}: {exc}") from exc
    if isinstance(histories, Mapping) or (
        isinstance(histories, Sequence) and not isinstance(histories, bytes)
    ):
        return from_records(histories)
    raise TypeError(f"cannot score histories of type {type(histories).__name__}")


def to_frame(scores: pa.Table) -> pd.DataFrame:
    """Convert scores to pandas: reasons as lists of dicts, ``as_of`` as dates."""
    data = {name: scores[name].to_pylist() for name in (C.ACCOUNT_ID, C.AS_OF, REASONS, TOP_CAUSE)}
    frame = pd.DataFrame(
        {
            C.ACCOUNT_ID: pd.Series(data[C.ACCOUNT_ID], dtype=object),
            C.AS_OF: pd.Series(data[C.AS_OF], dtype=object),
            PROBABILITY: scores[PROBABILITY].to_numpy(),
            POINTS: scores[POINTS].to_numpy(),
            BAND: pd.Series(scores[BAND].to_pylist(), dtype=object),
            REASONS: pd.Series(data[REASONS], dtype=object),
            TOP_CAUSE: pd.Series(data[TOP_CAUSE], dtype=object),
            MODEL_VERSION: pd.Series(scores[MODEL_VERSION].to_pylist(), dtype=object),
        }
    )
    return frame


def not_open_problem(rows: np.ndarray, ids: list[str], as_of: dt.date) -> Problem:
    """Return the problem of accounts opened after the as-of date (valid, nothing to score)."""
    return Problem(
        C.OPEN_DATE,
        "not_open",
        f"account not open at the as-of date {as_of}",
        "score it at a later as-of date",
        rows,
        tuple(ids),
    )


def unreadable_record_problem(record: Any, error: Exception) -> Problem:
    """Return the problem of a record whose values cannot form a table (e.g. text amounts)."""
    account = record.get(C.ACCOUNT_ID) if hasattr(record, "get") else None
    return Problem(
        "record",
        "unreadable_record",
        str(error).splitlines()[0][:300],
        "give each field the contract's type (numbers as numbers, dates as ISO strings)",
        np.array([0]),
        (str(account)[:100],),
    )


def add_not_open(
    valid: pa.Table, open_mask: np.ndarray, rejects: pa.Table, table: pa.Table, as_of: dt.date
) -> pa.Table:
    """Add the valid-but-not-open accounts to the rejects (input row positions)."""
    bad_ids = valid[C.ACCOUNT_ID].filter(pa.array(~open_mask))
    # split_valid keeps the valid rows in input order: their positions are the complement.
    kept = np.setdiff1d(np.arange(table.num_rows), rejects["row"].to_numpy())
    rows = kept[~open_mask]
    problem = not_open_problem(rows, bad_ids.to_pylist(), as_of)
    extra = pa.table(
        {
            C.ACCOUNT_ID: bad_ids.cast(pa.string()),
            "row": pa.array(rows, pa.int64()),
            "reason": pa.array([f"{problem.field}: {problem.message}"] * len(rows), pa.string()),
        }
    )
    return pa.concat_tables([rejects, extra.cast(rejects.schema)]).sort_by("row")
