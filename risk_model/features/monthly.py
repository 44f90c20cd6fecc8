"""Events -> account-month aggregates on a shared period grid, for all as-of dates at once.

The timeline is cut into *periods* at every month end and every as-of date, so each as-of
date closes a period and no period straddles it. Events are flattened once from the nested
list columns (``pc.list_flatten`` / ``pc.list_parent_indices``), bucketed into periods with
one ``searchsorted`` and reduced into dense (period x account) cubes with ``np.bincount``.
Cubes are then accumulated month-to-date, so the column of an as-of period holds its month
*up to the as-of date*: a window of calendar months ending at an as-of date is a gather of
columns, and a contiguous range of periods is everything known in that window.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._masks import one_chunk

LOOKBACK_MONTHS = 36
DAYS_PER_MONTH = 30.4375
_EPOCH = dt.date(1970, 1, 1)


def month_of_day(days: np.ndarray) -> np.ndarray:
    """Month index (months since 1970-01) of day numbers (days since 1970-01-01)."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_end_day(months: np.ndarray) -> np.ndarray:
    """Day number of the last day of each month index."""
    nxt = (np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]")
    return nxt.astype("datetime64[D]").astype(np.int64) - 1


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01."""
    return (date - _EPOCH).days


@dataclass(frozen=True)
class Grid:
    """Period grid shared by all cubes of one ``build_features`` call."""

    period_end: np.ndarray  # int64 day numbers, ascending, unique
    period_month: np.ndarray  # month index of each period
    asof_day: np.ndarray  # sorted unique as-of dates (day numbers)
    asof_month: np.ndarray
    asof_period: np.ndarray  # period closed by each as-of date
    first_month: int
    first_day: int
    month_last_period: np.ndarray  # by month - first_month
    month_first_period: np.ndarray
    same_month: np.ndarray  # periods continuing the month of the period before them

    @property
    def n_periods(self) -> int:
        """Number of periods."""
        return len(self.period_end)

    def bucket(self, days: np.ndarray) -> np.ndarray:
        """Period of each day number; -1 before the grid or after the last as-of date."""
        days = np.asarray(days, dtype=np.int64)
        period = np.searchsorted(self.period_end, days, side="left")
        inside = (days >= self.first_day) & (days <= self.asof_day[-1])
        return np.where(inside, period, -1)

    @functools.cached_property
    def _month_columns(self) -> dict[tuple[int, int], np.ndarray]:
        return {}

    def month_columns(self, k: int, width: int) -> np.ndarray:
        """Cube columns of the ``width`` months ending at as-of ``k`` (oldest first, memoised)."""
        cols = self._month_columns.get((k, width))
        if cols is None:
            months = np.arange(self.asof_month[k] - width + 1, self.asof_month[k])
            cols = np.append(self.month_last_period[months - self.first_month], self.asof_period[k])
            cols.setflags(write=False)
            self._month_columns[(k, width)] = cols
        return cols

    def period_range(self, k: int, width: int) -> tuple[int, int]:
        """Inclusive period range of the ``width`` months ending at as-of ``k``."""
        first = self.month_first_period[self.asof_month[k] - width + 1 - self.first_month]
        return int(first), int(self.asof_period[k])


def make_grid(asof_days: np.ndarray) -> Grid:
    """Build the grid for sorted unique as-of day numbers.

    Grids are memoised for the last few sets of dates (scoring calls repeat one date);
    their arrays are read-only, so a shared grid cannot be altered by a caller.
    """
    return _grid(tuple(int(d) for d in np.asarray(asof_days, dtype=np.int64)))


@functools.lru_cache(maxsize=16)
def _grid(days: tuple[int, ...]) -> Grid:
    asof_days = np.array(days, dtype=np.int64)
    asof_month = month_of_day(asof_days)
    first_month = int(asof_month.min()) - LOOKBACK_MONTHS + 1
    months = np.arange(first_month, int(asof_month.max()) + 1)
    ends = np.union1d(month_end_day(months), asof_days)
    period_month = month_of_day(ends)
    last = np.searchsorted(ends, month_end_day(months))
    first = np.searchsorted(period_month, months, side="left")
    first_day = int(
        np.asarray(first_month).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    )
    grid = Grid(
        period_end=ends,
        period_month=period_month,
        asof_day=asof_days,
        asof_month=asof_month,
        asof_period=np.searchsorted(ends, asof_days),
        first_month=first_month,
        first_day=first_day,
        month_last_period=last,
        month_first_period=first,
        same_month=np.flatnonzero(period_month[1:] == period_month[:-1]) + 1,
    )
    for value in vars(grid).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return grid


@dataclass(frozen=True)
class Cells:
    """The flat (period, account) cell of each kept event, shared by several cubes."""

    keep: np.ndarray | None  # indices of events inside the grid; None when all are
    key: np.ndarray  # period * n_acc + account, for the kept events


def cells(n_acc: int, acct: np.ndarray, period: np.ndarray) -> Cells:
    """Cells of events (``period < 0`` marks events to ignore)."""
    inside = period >= 0
    if inside.all():
        return Cells(keep=None, key=period * n_acc + acct)
    keep = np.flatnonzero(inside)
    return Cells(keep=keep, key=period[keep] * n_acc + acct[keep])


def cube(
    grid: Grid,
    n_acc: int,
    where: Cells,
    weights: np.ndarray | None = None,
    how: str = "sum",
    first: int = 0,
) -> np.ndarray:
    """Reduce events into a (period x account) array, accumulated month-to-date.

    ``how="sum"`` adds ``weights`` (or counts); ``how="max"`` keeps the maximum (-inf where
    there is no event). With ``first`` (the first period of a month), the array holds only
    periods ``first`` onwards (row ``p - first``), and ``where`` must be made from periods
    ``p - first`` (events before ``first`` dropped).
    """
    if how == "sum":
        return cubes(grid, n_acc, where, [weights], first)[:, 0]
    n_rows = grid.n_periods - first
    out = np.full(n_rows * n_acc, -np.inf)
    np.maximum.at(out, where.key, _kept(weights, where))
    out = out.reshape(n_rows, n_acc)
    for p in _later_in_month(grid, first):
        np.maximum(out[p], out[p - 1], out=out[p])
    return out


def cubes(
    grid: Grid,
    n_acc: int,
    where: Cells,
    layers: Sequence[np.ndarray | None],
    first: int = 0,
) -> np.ndarray:
    """Add up several weights over the same events into one (period, layer, account) array.

    Each layer is what :func:`cube` gives for its weights (``None``: counts); a window of
    months then reads every layer in one step. Accumulated month-to-date, rows from
    ``first`` as in :func:`cube`.
    """
    n_rows = grid.n_periods - first
    out = np.empty((n_rows, len(layers), n_acc))
    for i, weights in enumerate(layers):
        sums = np.bincount(where.key, weights=_kept(weights, where), minlength=n_rows * n_acc)
        out[:, i] = sums.reshape(n_rows, n_acc)
    for p in _later_in_month(grid, first):
        out[p] += out[p - 1]
    return out


def _kept(weights: np.ndarray | None, where: Cells) -> np.ndarray | None:
    """Return the float64 weights of the events ``where`` keeps (``None``: counts)."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    return w if where.keep is None else w[where.keep]


def _later_in_month(grid: Grid, first: int) -> list[int]:
    """Rows (from ``first``) of periods that continue the month of the row before them."""
    return [p - first for p in grid.same_month if p > first]


def to_numbers(arr: pa.Array | pa.ChunkedArray, dtype=np.float64) -> np.ndarray:
    """Numeric numpy view of an Arrow column: dates as day numbers, timestamps as seconds.

    Nulls become NaN (so ask for a float ``dtype`` when nulls are possible).
    """
    arr, typ = one_chunk(arr), arr.type
    if arr.null_count and arr.null_count == len(arr) and np.dtype(dtype).kind == "f":
        return np.full(len(arr), np.nan, dtype=dtype)  # e.g. a missing optional column
    if arr.null_count and (typ == pa.float64() or pa.types.is_date32(typ)):
        # numpy conversion already makes nulls NaN (floats) or NaT (dates)
        values = arr.to_numpy(zero_copy_only=False)
        if values.dtype.kind == "M":
            days = values.view(np.int64).astype(np.float64)
            days[np.isnat(values)] = np.nan
            values = days
        return values.astype(dtype, copy=False)
    if pa.types.is_timestamp(typ) and typ.unit != "s":
        arr = arr.cast(pa.timestamp("s"))
    if arr.null_count:
        if pa.types.is_date32(typ):
            arr = arr.cast(pa.int32())
        elif pa.types.is_timestamp(typ):
            arr = arr.cast(pa.int64())
        elif pa.types.is_boolean(typ):
            arr = arr.cast(pa.int8())
        arr = arr.cast(pa.float64()).fill_null(np.nan)
    out = arr.to_numpy(zero_copy_only=False)
    if out.dtype.kind == "M":  # date32 -> datetime64[D], timestamp[s] -> datetime64[s]
        out = out.view(np.int64)
    return out.astype(dtype, copy=False)


def _num(values: pa.StructArray, name: str, dtype=np.float64) -> np.ndarray:
    return to_numbers(values.field(name), dtype)


@dataclass
class EventList:
    """One flattened nested list column."""

    values: pa.StructArray  # flattened structs
    acct: np.ndarray  # int64 account position of each event


def flatten(histories: pa.Table, column: str, rank: np.ndarray) -> EventList | None:
    """Flatten a nested list column; ``None`` if the column is absent.

    Events are labelled with ``rank`` (the account's position in account-id order). A null
    list means "no events", as in ``risk_model.validation.conform``: the account's event
    history is known (and empty); only an absent column makes the features missing.
    """
    if column not in histories.schema.names:
        return None
    col = one_chunk(histories.column(column))
    if pa.types.is_null(col.type):
        return None
    values = pc.list_flatten(col)
    parent = pc.list_parent_indices(col).to_numpy(zero_copy_only=False).astype(np.int64)
    return EventList(values=values, acct=rank[parent])


@dataclass
class Statements:
    """Statement events, bucketed by when each part becomes known."""

    acct: np.ndarray
    known_day: np.ndarray  # last day of the statement month
    period: np.ndarray  # period of known_day
    due_period: np.ndarray  # period of the due date (payment fields known)
    limit: np.ndarray
    billed: np.ndarray
    min_due: np.ndarray
    paid: np.ndarray  # NaN when null
    dpd: np.ndarray


def read_statements(histories: pa.Table, grid: Grid, rank: np.ndarray) -> Statements | None:
    """Flatten and bucket the statements column (``None`` if absent)."""
    ev = flatten(histories, C.STATEMENTS, rank)
    if ev is None:
        return None
    v = ev.values
    known_day = month_end_day(month_of_day(_num(v, C.STATEMENT_MONTH, np.int64)))
    due = _num(v, C.DUE_DATE, np.float64)
    due_day = np.where(np.isnan(due), np.iinfo(np.int32).max, due).astype(np.int64)
    # the payment is never known before the statement itself
    due_day = np.maximum(due_day, known_day)
    return Statements(
        acct=ev.acct,
        known_day=known_day,
        period=grid.bucket(known_day),
        due_period=grid.bucket(due_day),
        limit=_num(v, C.CREDIT_LIMIT),
        billed=_num(v, C.BILLED_AMOUNT),
        min_due=_num(v, C.MINIMUM_DUE),
        paid=_num(v, C.AMOUNT_PAID),
        dpd=_num(v, C.DAYS_PAST_DUE),
    )


@dataclass
class Transactions:
    """Transaction events (only those inside the grid are kept)."""

    acct: np.ndarray
    sec: np.ndarray  # local seconds since epoch
    day: np.ndarray
    period: np.ndarray
    is_purchase: np.ndarray
    is_repayment: np.ndarray
    amount: np.ndarray
    merchant: pa.Array  # string, may hold nulls
    category: pa.Array


_KINDS = pa.array([C.KIND_PURCHASE, C.KIND_REPAYMENT])


def _kind_codes(kind: pa.Array) -> np.ndarray:
    """0 purchase, 1 repayment, -1 other or null."""
    return pc.index_in(kind, value_set=_KINDS).fill_null(-1).to_numpy(zero_copy_only=False)


def read_transactions(histories: pa.Table, grid: Grid, rank: np.ndarray) -> Transactions | None:
    """Flatten and bucket the transactions column (``None`` if absent)."""
    ev = flatten(histories, C.TRANSACTIONS, rank)
    if ev is None:
        return None
    v = ev.values
    sec = _num(v, C.TS, np.float64)
    sec = np.where(np.isnan(sec), -(2**40), sec).astype(np.int64)  # no time: before the grid
    day = sec // 86400
    period = grid.bucket(day)
    keep = period >= 0
    kind_code = _kind_codes(v.field(C.KIND))[keep]
    merchant, category = v.field(C.MERCHANT_ID), v.field(C.MERCHANT_CATEGORY)
    if not keep.all():
        merchant, category = merchant.filter(keep), category.filter(keep)
    return Transactions(
        acct=ev.acct[keep],
        sec=sec[keep],
        day=day[keep],
        period=period[keep],
        is_purchase=kind_code == 0,
        is_repayment=kind_code == 1,
        amount=_num(v, C.AMOUNT)[keep],
        merchant=merchant,
        category=category,
    )
