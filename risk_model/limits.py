"""Per-account event limits, checked before an account is validated or featurised.

The batch size bounds the number of accounts in memory, not their events: one account
with ten million transactions would otherwise be validated and turned into features in
full. :class:`EventLimits` caps the statements and transactions of one account; accounts
over a cap become rejects (``too_many_statements`` / ``too_many_transactions``, with the
count, the cap and the fix) and are not validated further.

Every scoring path applies the caps through :func:`over_limit_problems`: the lenient
paths (``Predictor.score`` / ``score_table``, hence the batch command) through
:func:`split_within_limits`, the strict ones (``predict``, ``predict_one``) through
:func:`validate_within_limits`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.problems import ContractError, Problem
from risk_model.validation import split_valid, validate_histories


@dataclasses.dataclass(frozen=True)
class EventLimits:
    """Most events one account may hold to be scored.

    Parameters
    ----------
    max_statements : int
        Statements per account (default 600: fifty years of monthly statements).
    max_transactions : int
        Transactions per account (default 100,000: far above any real card, and a few
        tens of MB while scoring).
    """

    max_statements: int = 600
    max_transactions: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_statements", "max_transactions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


DEFAULT_LIMITS = EventLimits()

# (column, limit attribute, check code, command-line flag)
_CAPS = (
    (C.STATEMENTS, "max_statements", "too_many_statements", "--max-statements"),
    (C.TRANSACTIONS, "max_transactions", "too_many_transactions", "--max-transactions"),
)


def over_limit_problems(table: pa.Table, limits: EventLimits) -> list[Problem]:
    """Return one problem per account and event list above its cap.

    Parameters
    ----------
    table : pyarrow.Table
        Account histories as given (before validation: any list type, null lists).
    limits : EventLimits
        The caps.

    Returns
    -------
    list of Problem
        Empty when every account is within the caps. Columns that are not lists are left
        to validation, which reports their type.
    """
    problems = []
    for column, attribute, check, flag in _CAPS:
        if column not in table.schema.names or not _is_list(table.schema.field(column).type):
            continue
        limit = getattr(limits, attribute)
        counts = pc.fill_null(pc.list_value_length(table[column]), 0)
        counts = np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)
        rows = np.flatnonzero(counts > limit)
        if not rows.size:
            continue
        ids = _ids(table, rows)
        for row, account in zip(rows.tolist(), ids, strict=True):
            problems.append(
                Problem(
                    column,
                    check,
                    f"{counts[row]:,} {column}, above the limit of {limit:,} per account",
                    f"check the extract for repeated events, or raise the limit "
                    f"(score {flag}, EventLimits({attribute}=...))",
                    np.array([row], dtype=np.int64),
                    (account,),
                )
            )
    return problems


def split_within_limits(
    table: pa.Table, as_of: dt.date | None, limits: EventLimits
) -> tuple[pa.Table, pa.Table]:
    """:func:`~risk_model.validation.split_valid` after leaving out accounts over a cap.

    Returns
    -------
    valid : pyarrow.Table
        Canonical histories of the accounts within the caps and without problems.
    rejects : pyarrow.Table
        ``account_id``, ``row`` (input position), ``reason``, sorted by row.
    """
    over = over_limit_problems(table, limits)
    if not over:
        return split_valid(table, as_of=as_of)
    kept = _kept_rows(table.num_rows, over)
    valid, rejects = split_valid(table.take(pa.array(kept)), as_of=as_of)
    remapped = rejects.set_column(
        rejects.schema.get_field_index("row"),
        "row",
        pa.array(kept[rejects["row"].to_numpy()], pa.int64()),
    )
    return valid, pa.concat_tables([remapped, _rejects(over, rejects.schema)]).sort_by("row")


def validate_within_limits(table: pa.Table, as_of: dt.date | None, limits: EventLimits) -> pa.Table:
    """:func:`~risk_model.validation.validate_histories` with the caps checked first.

    Raises
    ------
    ContractError
        Listing the accounts over a cap and every problem of the other accounts.
    """
    over = over_limit_problems(table, limits)
    if not over:
        return validate_histories(table, as_of=as_of)
    kept = _kept_rows(table.num_rows, over)
    rest: list[Problem] = []
    try:
        validate_histories(table.take(pa.array(kept)), as_of=as_of)
    except ContractError as error:
        rest = [
            p if p.table_level else dataclasses.replace(p, rows=kept[p.rows])
            for p in error.problems
        ]
    raise ContractError(over + rest)


def _is_list(kind: pa.DataType) -> bool:
    return (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _kept_rows(n: int, problems: list[Problem]) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    for problem in problems:
        keep[problem.rows] = False
    return np.flatnonzero(keep)


def _ids(table: pa.Table, rows: np.ndarray) -> list[str | None]:
    """Account ids of ``rows`` as text, whatever the (not yet validated) id type."""
    if C.ACCOUNT_ID not in table.schema.names:
        return [None] * len(rows)
    values = table[C.ACCOUNT_ID].take(pa.array(rows)).to_pylist()
    return [None if v is None else str(v) for v in values]


def _rejects(problems: list[Problem], schema: pa.Schema) -> pa.Table:
    """Reject rows of the accounts over a cap, in split_valid's reason format."""
    reasons: dict[int, list[str]] = {}
    ids: dict[int, str | None] = {}
    for p in problems:
        row = int(p.rows[0])
        reasons.setdefault(row, []).append(f"{p.field}: {p.message} [{p.check}]; fix: {p.hint}")
        ids[row] = p.account_ids[0]
    rows = sorted(reasons)
    return pa.table(
        {
            C.ACCOUNT_ID: pa.array([ids[r] for r in rows], pa.string()),
            "row": pa.array(rows, pa.int64()),
            "reason": pa.array(["; ".join(reasons[r]) for r in rows], pa.string()),
        }
    ).cast(schema)
