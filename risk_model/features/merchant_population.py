"""Training-mode merchant statistics from population totals summed outside the batch.

In training mode (no fitted table) every account's merchant features use the totals of
its merchants over the whole population at each as-of date, minus its own payments
(:func:`risk_model.features.merchant_risk.training_stats`). When the population does not
fit one batch (a Spark job, :mod:`risk_model.spark`), the totals are computed in two steps:

* map: :func:`population_partials` of each partition of the accounts (long rows keyed by
  kind, as-of date, merchant or category id and month);
* reduce: sum the partials by key (:data:`KEY_COLUMNS`); every value is an
  integer-valued float (cents, counts, log amounts in 1e-6 units), so the sums are exact
  in any order and equal, bit for bit, the totals :class:`MerchantWindow` takes over one
  batch holding every account.

:class:`PopulationTotals` holds the summed rows; :meth:`PopulationTotals.window` gives
the window object ``training_stats`` reads, with the account-level sums of the batch and
the merchant and category totals of the population. Features built with it equal the
features of one batch holding the whole population (``tests/spark``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model.features.arrays import starts_of_runs
from risk_model.features.merchant_pairs import PairRows
from risk_model.features.merchant_window import MerchantWindow
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid

KIND, AS_OF, KEY, MONTH = "kind", "as_of", "key", "month"
VALUES = ("v1", "v2", "v3", "v4")
KEY_COLUMNS = (KIND, AS_OF, KEY, MONTH)
MERCHANT, FIRST_MONTH, CATEGORY = 0, 1, 2  # kinds of rows
POPULATION_SCHEMA = pa.schema(
    [
        pa.field(KIND, pa.int8(), nullable=False),
        pa.field(AS_OF, pa.date32(), nullable=False),
        pa.field(KEY, pa.string(), nullable=False),  # merchant id or category
        pa.field(MONTH, pa.int32(), nullable=False),  # first-month histogram column, else -1
        *(pa.field(v, pa.float64()) for v in VALUES),
    ]
)
# kind MERCHANT: v1..v4 = volume (cents), round-near-limit volume (cents), payers, night
# payers; FIRST_MONTH: v1 = pairs whose first month in the window is MONTH (each part lists
# its first two such months per merchant, :func:`_first_two`); CATEGORY: v1, v2 = log
# amounts (1e-6 units), purchases.


def _rows(kind: int, day: int, keys: pa.Array, month: np.ndarray, values: list) -> pa.Table:
    n = len(keys)
    columns = {
        KIND: np.full(n, kind, np.int8),
        AS_OF: pa.array(np.full(n, day, np.int32), pa.int32()).cast(pa.date32()),
        KEY: keys,
        MONTH: month.astype(np.int32),
    }
    for name, value in zip(VALUES, [*values, *([None] * (4 - len(values)))], strict=True):
        columns[name] = np.zeros(n) if value is None else np.asarray(value, np.float64)
    return pa.table(columns).cast(POPULATION_SCHEMA)


def _first_two(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries of each row's first two non-zero columns (row, column), row by row.

    ``training_stats`` reads of a merchant's first-month histogram only its first non-zero
    month, the count there and the next non-zero month. Of summed histograms those are
    determined by each part's first two non-zero months: a part's months before the
    total's first are all zero, and the total's second month is a part's first or second.
    """
    nz = hist != 0
    rows, cols = np.nonzero(nz)
    if not len(rows):
        return rows, cols
    # np.nonzero is row-major: a row's entries are consecutive and ascending by column
    starts = starts_of_runs(rows)
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.concatenate((starts, [len(rows)]))))
    keep = rank < 2
    return rows[keep], cols[keep]


def population_partials(r: PairRows, grid: Grid) -> pa.Table:
    """Merchant and category totals of the accounts in ``r`` at every as-of date of ``grid``.

    Returns
    -------
    pyarrow.Table
        :data:`POPULATION_SCHEMA` rows; only non-zero totals are listed.
    """
    window = MerchantWindow(r, grid)
    parts = []
    for k, day in enumerate(grid.asof_day):
        w = window.at(*grid.period_range(k, LOOKBACK_MONTHS))
        merchant_values = [w.volume, w.round_nl, w.payers, w.night_payers]
        used = np.flatnonzero(np.any(np.array(merchant_values) != 0, axis=0))
        take = pa.array(used)
        parts.append(
            _rows(
                MERCHANT,
                day,
                r.merchants.take(take),
                np.full(len(used), -1),
                [v[used] for v in merchant_values],
            )
        )
        m, month = _first_two(w.first_hist)
        parts.append(
            _rows(FIRST_MONTH, day, r.merchants.take(pa.array(m)), month, [w.first_hist[m, month]])
        )
        c = np.flatnonzero((w.cat_n != 0) | (w.cat_log != 0))
        parts.append(
            _rows(
                CATEGORY,
                day,
                r.categories.take(pa.array(c)),
                np.full(len(c), -1),
                [w.cat_log[c], w.cat_n[c]],
            )
        )
    if not parts:
        return POPULATION_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def combine_partials(partials: pa.Table) -> pa.Table:
    """Sum partial rows by key (the reduce step, here in Arrow; Spark sums them the same)."""
    grouped = partials.group_by(list(KEY_COLUMNS), use_threads=False).aggregate(
        [(v, "sum") for v in VALUES]
    )
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    return grouped.select(list(POPULATION_SCHEMA.names)).cast(POPULATION_SCHEMA)


@dataclass
class _Totals:
    merchants: np.ndarray  # sorted ids (unicode)
    values: np.ndarray  # (4, n) volume, round_nl, payers, night_payers
    hist_merchant: np.ndarray  # first-month histogram entries
    hist_month: np.ndarray
    hist_count: np.ndarray
    categories: np.ndarray  # sorted
    cat_values: np.ndarray  # (2, n) log sum, count


def _lookup(sorted_keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted key in ``sorted_keys``; -1 when absent."""
    if not len(sorted_keys) or not len(wanted):
        return np.full(len(wanted), -1)
    pos = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == wanted, pos, -1)


class PopulationTotals:
    """Summed population totals (:func:`combine_partials` output) for training features.

    Parameters
    ----------
    totals : pyarrow.Table
        :data:`POPULATION_SCHEMA` rows, one per key (already summed).
    """

    def __init__(self, totals: pa.Table) -> None:
        self.table = totals
        self._by_day: dict[int, _Totals] = {}
        days = totals[AS_OF].cast(pa.int32()).to_numpy(zero_copy_only=False)
        kinds = totals[KIND].to_numpy(zero_copy_only=False)
        keys = np.asarray(totals[KEY].to_pylist(), dtype=str)
        months = totals[MONTH].to_numpy(zero_copy_only=False)
        values = np.array([totals[v].to_numpy(zero_copy_only=False) for v in VALUES])
        for day in np.unique(days):
            at = days == day

            def part(kind: int, at=at) -> np.ndarray:
                rows = np.flatnonzero(at & (kinds == kind))
                return rows[np.argsort(keys[rows], kind="stable")]

            m, h, c = part(MERCHANT), part(FIRST_MONTH), part(CATEGORY)
            self._by_day[int(day)] = _Totals(
                merchants=keys[m],
                values=values[:, m],
                hist_merchant=keys[h],
                hist_month=months[h],
                hist_count=values[0, h],
                categories=keys[c],
                cat_values=values[:2, c],
            )

    @classmethod
    def of(cls, partials: Sequence[pa.Table]) -> PopulationTotals:
        """Totals from partial tables (summed here)."""
        table = pa.concat_tables(partials) if partials else POPULATION_SCHEMA.empty_table()
        return cls(combine_partials(table))

    def dates(self) -> list[dt.date]:
        """Return the as-of dates the totals were taken at."""
        return [dt.date(1970, 1, 1) + dt.timedelta(days=d) for d in sorted(self._by_day)]

    def window(self, r: PairRows, grid: Grid) -> PopulationWindow:
        """Return the window ``training_stats`` reads for the batch ``r`` (see the module doc)."""
        return PopulationWindow(r, grid, self)


class _View:
    """Window attributes at one as-of date: the batch's pair sums, population totals."""


class PopulationWindow:
    """A :class:`MerchantWindow` whose merchant and category totals are the population's.

    Pair sums, each pair's first period and (account, category) sums come from the batch
    (they are the account's own); merchant and category totals (volume, payers, night
    payers, first-month histogram, category log amounts and counts) come from
    :class:`PopulationTotals`, mapped to the batch's merchant and category codes.
    """

    def __init__(self, r: PairRows, grid: Grid, totals: PopulationTotals) -> None:
        self.local = MerchantWindow(r, grid)
        self.rows, self.grid, self.totals = r, grid, totals
        self.n_months = self.local.n_months
        self._k = {grid.period_range(k, LOOKBACK_MONTHS): k for k in range(len(grid.asof_day))}
        self._merchants = np.asarray(r.merchants.to_pylist(), dtype=str)
        categories = r.categories
        if isinstance(categories, pa.ChunkedArray):
            categories = categories.combine_chunks()
        self._categories = np.asarray(pc.fill_null(categories, "").to_pylist(), dtype=str)

    def at(self, lo: int, hi: int) -> _View:
        """Move to the window of periods [lo, hi] (an as-of date's) and return its view."""
        k = self._k[(lo, hi)]
        day = int(self.grid.asof_day[k])
        local = self.local.at(lo, hi)
        found = self.totals._by_day.get(day)
        if found is None:
            raise KeyError(f"population totals hold no as-of date {day} (days since 1970)")
        n_m, n_c = len(self._merchants), len(self._categories)
        view = _View()
        view.sums, view.first_period = local.sums, local.first_period
        view.ac_log, view.ac_n = local.ac_log, local.ac_n
        view.n_months = self.n_months
        pos = _lookup(found.merchants, self._merchants)
        values = np.zeros((4, n_m))
        values[:, pos >= 0] = found.values[:, pos[pos >= 0]]
        view.volume, view.round_nl, view.payers, view.night_payers = values
        view.first_hist = np.zeros((n_m, self.n_months))
        row = _lookup(self._merchants, found.hist_merchant)  # local code of each entry
        ok = row >= 0
        view.first_hist[row[ok], found.hist_month[ok]] = found.hist_count[ok]
        cpos = _lookup(found.categories, self._categories)
        cat = np.zeros((2, n_c))
        cat[:, cpos >= 0] = found.cat_values[:, cpos[cpos >= 0]]
        view.cat_log, view.cat_n = cat
        return view
