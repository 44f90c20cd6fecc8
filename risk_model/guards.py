"""Guards against scoring garbage without a word: the as-of date and closed accounts.

* :func:`resolve_as_of`: an omitted as-of date is inferred from the input (the month end
  of the latest statement month, or of the latest transaction date for accounts without
  statements), never today's date, and said with an :class:`AsOfInferredWarning`.
* :func:`check_recency`: an as-of date long after most accounts' last event
  (:class:`StaleAsOfWarning`), and many accounts silent for months before it, probably
  closed (:class:`DormantHistoryWarning`, only when no closures were given).
* :func:`reject_closed` / :func:`closed_problem`: accounts closed on or before the as-of
  date, per a closures table (``CLOSURES_SCHEMA``), are rejected with reason code
  ``closed`` instead of being scored as open.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.dates import add_months, as_date, month_end
from risk_model.problems import ContractWarning, Problem

STALE_MONTHS = 2  # as-of this many months past the median last event still counts as fresh
DORMANT_MONTHS = 6  # no event in this many months before the as-of date: probably closed
# Share of dormant accounts above which to warn. A history of all accounts (the generated
# world holds its closed ones: ~18% silent for 6 months) stays quiet; an extract in which
# a quarter of the accounts stopped half a year ago almost surely holds closed accounts.
DORMANT_SHARE = 0.25
CLOSED = "closed"
CLOSED_HINT = "leave it out or score an earlier as-of date"
_NONE = np.iinfo(np.int32).min  # day number of "no event"


class AsOfInferredWarning(ContractWarning):
    """No as-of date was given: the latest month end covered by the input is used."""

    def __init__(self, as_of: dt.date, accounts: int) -> None:
        self.as_of = as_of
        super().__init__(
            f"as-of date not given: scoring at {as_of}, the latest month end covered by the "
            f"input ({accounts} account(s)), not today's date. Fix: pass the extract date "
            "(--as-of / as_of=) for reproducible scores"
        )


class StaleAsOfWarning(ContractWarning):
    """The as-of date is long after most accounts' last statement or transaction."""

    def __init__(self, as_of: dt.date, median_last: dt.date, months: int, accounts: int) -> None:
        self.as_of, self.median_last, self.months = as_of, median_last, months
        super().__init__(
            f"as-of date {as_of} is {months} months after most accounts' last event (median "
            f"last statement month end / transaction date of {accounts} account(s): "
            f"{median_last}); their features describe an idle account, not these data. "
            f"Fix: pass the extract date (--as-of / as_of=), e.g. {month_end(median_last)}"
        )


class DormantHistoryWarning(ContractWarning):
    """Many accounts have no event for months before the as-of date: probably closed."""

    def __init__(self, as_of: dt.date, dormant: int, accounts: int) -> None:
        self.as_of, self.dormant, self.accounts = as_of, dormant, accounts
        super().__init__(
            f"{dormant} of {accounts} account(s) ({dormant / accounts:.0%}) have no statement "
            f"or transaction in the {DORMANT_MONTHS} months before the as-of date {as_of}: "
            "they may be closed, and are scored as open. Fix: pass the closures "
            "(--closures / closures=) to reject closed accounts, or leave them out"
        )


def _days(values: pa.Array, kind: pa.DataType) -> np.ndarray | None:
    """Day numbers of dates / timestamps (nulls: ``_NONE``); None when not readable."""
    try:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(values, kind)
        days = pc.cast(pc.cast(values, pa.date32()), pa.int32())
        return pc.fill_null(days, _NONE).to_numpy(zero_copy_only=False).astype(np.int64)
    except (pa.ArrowException, ValueError, TypeError):
        return None  # validation names the column; here it only gives no date


def _last_per_row(table: pa.Table, column: str, field: str, kind: pa.DataType) -> np.ndarray:
    """Latest ``field`` of each row's ``column`` list as a day number (``_NONE``: none)."""
    out = np.full(table.num_rows, _NONE, dtype=np.int64)
    if column not in table.column_names or table.num_rows == 0:
        return out
    lists = table[column].combine_chunks()
    if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)):
        return out
    try:
        values = pc.struct_field(pc.list_flatten(lists), field)
    except (pa.ArrowException, KeyError, TypeError):
        return out
    days = _days(values, kind)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    if days is None or not len(days):
        return out
    has = lengths > 0
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out[has] = np.maximum.reduceat(days, starts[has])
    return out


def last_event_days(table: pa.Table) -> np.ndarray:
    """Each account's last event: month end of its latest statement month, else last transaction.

    Parameters
    ----------
    table : pyarrow.Table
        Histories (nested form, as given: types are read leniently); only the
        ``statements.statement_month`` and ``transactions.ts`` fields are read.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` per row; ``NaT`` for an account without any readable event.
    """
    months = _last_per_row(table, C.STATEMENTS, C.STATEMENT_MONTH, pa.date32())
    # Transactions only where there is no statement: statements define the covered months.
    no_statement = np.flatnonzero(months == _NONE)
    last = months.copy()
    if no_statement.size:
        rows = table.take(pa.array(no_statement))
        last[no_statement] = _last_per_row(rows, C.TRANSACTIONS, C.TS, pa.timestamp("s"))
    days = np.where(last == _NONE, np.iinfo(np.int64).min, last).astype("datetime64[D]")
    stated = months != _NONE
    ends = (days[stated].astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    days[stated] = ends
    return days


def resolve_as_of(
    table: pa.Table | None,
    as_of: Any,
    *,
    closures_given: bool = False,
    recency: bool = True,
    last_days: np.ndarray | None = None,
) -> dt.date:
    """Return the scoring date: the one given, or the latest month end the input covers.

    Parameters
    ----------
    table : pyarrow.Table or None
        The histories to score (unused when ``last_days`` is given).
    as_of : date, datetime, ISO string or None
        The caller's as-of date; None infers it and warns :class:`AsOfInferredWarning`.
    closures_given : bool
        Whether closed accounts are rejected from a closures table (no dormancy warning).
    recency : bool
        Whether to run :func:`check_recency` (off for one record).
    last_days : numpy.ndarray, optional
        :func:`last_event_days` of the input, when already computed (e.g. from a file).

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        When no as-of date is given and the input holds no readable event date.
    """
    if last_days is None:
        last_days = last_event_days(table)
    if as_of is not None:
        as_of = as_date(as_of)
    else:
        known = last_days[~np.isnat(last_days)]
        if not known.size:
            raise ValueError(
                "as-of date not given and the input holds no statement or transaction date "
                "to infer it from; pass the extract date (--as-of / as_of=)"
            )
        as_of = month_end(known.max().astype(dt.date))
        warnings.warn(AsOfInferredWarning(as_of, len(last_days)), stacklevel=3)
    if recency:
        check_recency(last_days, as_of, closures_given=closures_given)
    return as_of


def check_recency(last_days: np.ndarray, as_of: dt.date, *, closures_given: bool) -> None:
    """Warn when the as-of date is stale or many accounts went silent long before it.

    Parameters
    ----------
    last_days : numpy.ndarray
        :func:`last_event_days` of the input.
    as_of : datetime.date
        Scoring date.
    closures_given : bool
        With closures, closed accounts are rejected: no :class:`DormantHistoryWarning`
        (nor after a :class:`StaleAsOfWarning`, which explains the silence).
    """
    known = last_days[~np.isnat(last_days)]
    if not known.size:
        return
    median = np.sort(known)[(known.size - 1) // 2].astype(dt.date)  # a real account's day
    if as_of > add_months(median, STALE_MONTHS):
        months = (as_of.year - median.year) * 12 + as_of.month - median.month
        warnings.warn(StaleAsOfWarning(as_of, median, months, known.size), stacklevel=3)
        return  # a stale date makes most accounts look dormant: one cause, one warning
    if closures_given:
        return
    dormant = int((known <= np.datetime64(add_months(as_of, -DORMANT_MONTHS), "D")).sum())
    if dormant > DORMANT_SHARE * known.size:
        warnings.warn(DormantHistoryWarning(as_of, dormant, known.size), stacklevel=3)


def closures_table(closures: Any) -> pa.Table:
    """Read closures (table, DataFrame or parquet path) and validate them (``CLOSURES_SCHEMA``).

    Raises
    ------
    ContractError
        When a column is missing or mistyped, an id repeats, or a cause is unknown.
    """
    from risk_model.scores import as_table
    from risk_model.validation import validate_closures

    return validate_closures(as_table(closures))


def _closed_rows(ids: pa.ChunkedArray | pa.Array, closures: pa.Table, as_of: dt.date):
    """Rows of ``ids`` closed on or before ``as_of``, with their closure dates and causes."""
    early = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(as_of, pa.date32())))
    where = pc.index_in(ids, value_set=early[C.ACCOUNT_ID].combine_chunks())
    at = where.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(~np.isnan(at.astype(np.float64)))
    picks = pa.array(at[rows].astype(np.int64))
    dates = early[C.CLOSURE_DATE].take(picks).to_pylist()
    causes = pc.fill_null(early[C.CAUSE].take(picks), C.CAUSE_UNKNOWN).to_pylist()
    return rows, dates, causes


def _closed_text(day: dt.date, cause: str, as_of: dt.date) -> str:
    return f"account closed on {day} ({cause}), before the as-of date {as_of}"


def closed_problem(valid: pa.Table, closures: pa.Table, as_of: dt.date) -> Problem | None:
    """Return the problem of the accounts closed on or before ``as_of`` (None: none).

    The message names the first account's closure; each reject of :func:`reject_closed`
    names its own.
    """
    rows, dates, causes = _closed_rows(valid[C.ACCOUNT_ID], closures, as_of)
    if not rows.size:
        return None
    ids = valid[C.ACCOUNT_ID].take(pa.array(rows)).to_pylist()
    return Problem(
        C.CLOSURE_DATE,
        CLOSED,
        _closed_text(dates[0], causes[0], as_of) + (" (and others)" if rows.size > 1 else ""),
        CLOSED_HINT,
        rows,
        tuple(ids),
    )


def reject_closed(
    valid: pa.Table, rejects: pa.Table, table: pa.Table, closures: pa.Table, as_of: dt.date
) -> tuple[pa.Table, pa.Table]:
    """Move the valid accounts closed on or before ``as_of`` to the rejects (reason ``closed``).

    Parameters
    ----------
    valid, rejects : pyarrow.Table
        Output of ``split_valid`` / ``split_within_limits`` on ``table`` (valid rows in
        input order; rejects with input row positions).
    table : pyarrow.Table
        The input the row positions refer to.
    closures : pyarrow.Table
        Validated closures (:func:`closures_table`).
    as_of : datetime.date
        Scoring date.

    Returns
    -------
    valid, rejects : pyarrow.Table
    """
    rows, dates, causes = _closed_rows(valid[C.ACCOUNT_ID], closures, as_of)
    if not rows.size:
        return valid, rejects
    positions = np.setdiff1d(np.arange(table.num_rows), rejects["row"].to_numpy())[rows]
    reasons = [
        f"{C.CLOSURE_DATE}: {_closed_text(d, c, as_of)} [{CLOSED}]; fix: {CLOSED_HINT}"
        for d, c in zip(dates, causes, strict=True)
    ]
    extra = pa.table(
        {
            C.ACCOUNT_ID: valid[C.ACCOUNT_ID].take(pa.array(rows)).cast(pa.string()),
            "row": pa.array(positions, pa.int64()),
            "reason": pa.array(reasons, pa.string()),
        }
    )
    keep = np.ones(valid.num_rows, dtype=bool)
    keep[rows] = False
    merged = pa.concat_tables([rejects, extra.cast(rejects.schema)]).sort_by("row")
    return valid.filter(pa.array(keep)), merged
