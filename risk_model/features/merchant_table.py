"""The fitted merchant-risk table: its schema, fitting from pairs, and the scoring lookup."""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.features.arrays import safe_divide
from risk_model.features.merchant_pairs import BIG, MerchantStats, PairRows, window_sums
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid

AS_OF_METADATA_KEY = b"closure_risk_merchant_risk_as_of"
VOLUME, ROUND_NL_VOLUME = "volume", "round_near_limit_volume"
PAYERS, NIGHT_PAYERS, FIRST_MONTH = "payers", "night_payers", "first_payment_month"
CATEGORY_LOG_SUM, CATEGORY_COUNT = "category_log_amount_sum", "category_purchases"
MERCHANT_RISK_SCHEMA = pa.schema(
    [
        pa.field(C.MERCHANT_ID, pa.string(), nullable=False),
        pa.field(C.MERCHANT_CATEGORY, pa.string()),
        pa.field(VOLUME, pa.float64()),
        pa.field(ROUND_NL_VOLUME, pa.float64()),
        pa.field(PAYERS, pa.int64()),
        pa.field(NIGHT_PAYERS, pa.int64()),
        pa.field(FIRST_MONTH, pa.date32()),
        pa.field(CATEGORY_LOG_SUM, pa.float64()),
        pa.field(CATEGORY_COUNT, pa.int64()),
    ]
)


@dataclass
class FittedLookup:
    """A fitted merchant table as sorted numpy arrays (prepared once per table)."""

    merchant_ids: np.ndarray  # sorted unicode
    merchant_row: np.ndarray  # table row of each sorted id
    volume: np.ndarray
    round_nl_volume: np.ndarray
    payers: np.ndarray
    night_payers: np.ndarray
    first_month: np.ndarray
    category_ids: np.ndarray  # sorted unicode
    category_centre: np.ndarray


def _float(table: pa.Table, name: str, fill: float) -> np.ndarray:
    col = table.column(name).combine_chunks().cast(pa.float64()).fill_null(fill)
    return col.to_numpy(zero_copy_only=False)


def _prepare(table: pa.Table) -> FittedLookup:
    ids = np.asarray(table.column(C.MERCHANT_ID).to_pylist(), dtype=str)
    order = np.argsort(ids, kind="stable")
    days = table.column(FIRST_MONTH).combine_chunks().cast(pa.int32()).fill_null(0)
    first = days.to_numpy(zero_copy_only=False).astype("datetime64[D]").astype("datetime64[M]")
    cats = np.asarray(
        [c if c is not None else "" for c in table.column(C.MERCHANT_CATEGORY).to_pylist()],
        dtype=str,
    )
    cat_l, cat_n = _float(table, CATEGORY_LOG_SUM, np.nan), _float(table, CATEGORY_COUNT, 0.0)
    centre = safe_divide(cat_l, cat_n)
    ucats, first_row = np.unique(cats, return_index=True)
    return FittedLookup(
        merchant_ids=ids[order],
        merchant_row=order,
        volume=_float(table, VOLUME, np.nan),
        round_nl_volume=_float(table, ROUND_NL_VOLUME, np.nan),
        payers=_float(table, PAYERS, np.nan),
        night_payers=_float(table, NIGHT_PAYERS, np.nan),
        first_month=first.astype(np.int64),
        category_ids=ucats,
        category_centre=centre[first_row],
    )


_LOOKUP_CACHE: list = [None, None]  # (weak reference to the last table, its lookup)


def fitted_lookup(table: pa.Table) -> FittedLookup:
    """Return the prepared lookup of ``table``, memoised for the last table (scoring path)."""
    ref, lookup = _LOOKUP_CACHE
    if ref is not None and ref() is table:
        return lookup
    lookup = _prepare(table)
    _LOOKUP_CACHE[:] = [weakref.ref(table), lookup]
    return lookup


def _find(sorted_ids: np.ndarray, values: pa.Array) -> np.ndarray:
    """Position of each value in ``sorted_ids``; -1 if absent."""
    if not len(sorted_ids) or not len(values):
        return np.full(len(values), -1)
    v = np.asarray(values.to_pylist(), dtype=str)
    pos = np.minimum(np.searchsorted(sorted_ids, v), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == v, pos, -1)


def scoring_stats(r: PairRows, table: pa.Table, use: np.ndarray) -> MerchantStats:
    """Merchant stats for the pairs ``use`` from a fitted table (no leave-one-out)."""
    look = fitted_lookup(table)
    pos = _find(look.merchant_ids, r.merchants)
    row = look.merchant_row[np.maximum(pos, 0)] if len(look.merchant_row) else pos
    row = np.where(pos >= 0, row, -1)
    prow = row[r.p_merch[use]] if len(row) else np.full(len(use), -1)
    known = prow >= 0
    j = np.maximum(prow, 0)

    def pick(x: np.ndarray, fill: float) -> np.ndarray:
        return np.where(known, x[j], fill) if len(x) else np.full(len(use), fill)

    cpos = _find(look.category_ids, r.categories)
    pcat = r.p_cat[use]
    crow = np.where(pcat >= 0, cpos[np.maximum(pcat, 0)], -1) if len(cpos) else pcat * 0 - 1
    centre = look.category_centre
    return MerchantStats(
        volume=pick(look.volume, np.nan),
        round_nl_volume=pick(look.round_nl_volume, np.nan),
        payers=pick(look.payers, np.nan),
        night_payers=pick(look.night_payers, np.nan),
        first_month=pick(look.first_month, BIG).astype(np.int64),
        centre=np.where(crow >= 0, centre[np.maximum(crow, 0)], np.nan)
        if len(centre)
        else np.full(len(use), np.nan),
    )


MERCHANT_PARTIALS_SCHEMA = pa.schema(
    [
        pa.field(C.MERCHANT_ID, pa.string(), nullable=False),
        pa.field(C.MERCHANT_CATEGORY, pa.string()),  # combined by max
        pa.field("volume_cents", pa.float64()),  # combined by sum (integer-valued)
        pa.field("round_near_limit_cents", pa.float64()),
        pa.field(PAYERS, pa.int64()),
        pa.field(NIGHT_PAYERS, pa.int64()),
        pa.field(FIRST_MONTH, pa.date32()),  # combined by min
    ]
)
CATEGORY_PARTIALS_SCHEMA = pa.schema(
    [
        pa.field(C.MERCHANT_CATEGORY, pa.string(), nullable=False),
        pa.field("log_amount_units", pa.float64()),  # log amounts in 1e-6 units (sum)
        pa.field(CATEGORY_COUNT, pa.int64()),
    ]
)
# How each partial column is combined: sums of integer-valued floats and counts are exact in
# any order (below 2**53), so any grouping of the accounts gives the same table, bit for bit.
MERCHANT_COMBINE = {
    C.MERCHANT_CATEGORY: "max",
    "volume_cents": "sum",
    "round_near_limit_cents": "sum",
    PAYERS: "sum",
    NIGHT_PAYERS: "sum",
    FIRST_MONTH: "min",
}
CATEGORY_COMBINE = {"log_amount_units": "sum", CATEGORY_COUNT: "sum"}
_LOG_UNITS = 1e6  # as merchant_window.LOG_SCALE (imported there from here would be circular)


def stats_partials(r: PairRows, grid: Grid, k: int = 0) -> tuple[pa.Table, pa.Table]:
    """Merchant and category partial sums of the accounts in ``r`` at ``grid``'s as-of ``k``.

    The map step of the merchant-risk table: partials of any partition of the accounts,
    combined by :data:`MERCHANT_COMBINE` / :data:`CATEGORY_COMBINE`
    (:func:`table_from_partials`), give the table of all of them. Amounts are summed in
    cents and log amounts in 1e-6 units, both rounded per purchase, so every sum is of
    integers and exact whatever the order or grouping.

    Returns
    -------
    merchants : pyarrow.Table
        :data:`MERCHANT_PARTIALS_SCHEMA`, one row per merchant paid by these accounts.
    categories : pyarrow.Table
        :data:`CATEGORY_PARTIALS_SCHEMA`, one row per category of their purchases.
    """
    names = ("cents", "round_nl_cents", "night", "log_q", "n")
    w36 = window_sums(r, *grid.period_range(k, LOOKBACK_MONTHS), names)
    pm, n_m = r.p_merch, len(r.merchants)
    active = w36["n"] > 0
    months = grid.period_month[np.minimum(w36["first_period"], grid.n_periods - 1)]
    first = np.full(n_m, BIG)
    np.minimum.at(first, pm[active], months[active])
    pcat = r.p_cat
    mcat = np.full(n_m, -1)
    np.maximum.at(mcat, pm, pcat)  # one category per merchant; ties -> the largest code
    n_c = len(r.categories)
    categories = r.categories.take(pa.array(np.maximum(mcat, 0))) if n_c else pa.nulls(n_m)
    first_day = (
        np.where(first < BIG, first, 0)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int32)
    )
    merchants = pa.table(
        {
            C.MERCHANT_ID: r.merchants,
            C.MERCHANT_CATEGORY: pc.if_else(pa.array(mcat >= 0), categories, None),
            "volume_cents": np.bincount(pm, w36["cents"], minlength=n_m),
            "round_near_limit_cents": np.bincount(pm, w36["round_nl_cents"], minlength=n_m),
            PAYERS: np.bincount(pm, active, minlength=n_m).astype(np.int64),
            NIGHT_PAYERS: np.bincount(pm, active & (w36["night"] > 0), minlength=n_m).astype(
                np.int64
            ),
            FIRST_MONTH: pc.if_else(
                pa.array(first < BIG), pa.array(first_day, pa.int32()).cast(pa.date32()), None
            ),
        }
    ).cast(MERCHANT_PARTIALS_SCHEMA)
    cat_ok = pcat >= 0
    category_table = pa.table(
        {
            C.MERCHANT_CATEGORY: r.categories,
            "log_amount_units": np.bincount(pcat[cat_ok], w36["log_q"][cat_ok], minlength=n_c),
            CATEGORY_COUNT: np.bincount(pcat[cat_ok], w36["n"][cat_ok], minlength=n_c).astype(
                np.int64
            ),
        }
    ).cast(CATEGORY_PARTIALS_SCHEMA)
    return merchants, category_table


def _combine(table: pa.Table, key: str, how: dict[str, str]) -> pa.Table:
    """One row per ``key``: the partial columns combined as ``how`` says."""
    grouped = table.group_by(key, use_threads=False).aggregate(list(how.items()))
    named = {f"{column}_{op}": column for column, op in how.items()}
    return grouped.rename_columns([named.get(name, name) for name in grouped.column_names])


def table_from_partials(merchants: pa.Table, categories: pa.Table, as_of: dt.date) -> pa.Table:
    """Return the merchant-risk table from partials (:func:`stats_partials`).

    The reduce step: rows of the same merchant (category) are combined first, so the
    partials of several partitions, or already combined totals, may be given.

    Returns
    -------
    pyarrow.Table
        :data:`MERCHANT_RISK_SCHEMA`, merchants with at least one payer, sorted by id,
        the as-of date in the schema metadata.
    """
    m = _combine(merchants, C.MERCHANT_ID, MERCHANT_COMBINE)
    m = m.filter(pc.greater(m[PAYERS], 0))
    m = m.take(pc.sort_indices(m[C.MERCHANT_ID]))
    cats = _combine(categories, C.MERCHANT_CATEGORY, CATEGORY_COMBINE)
    where = pc.index_in(m[C.MERCHANT_CATEGORY], value_set=cats[C.MERCHANT_CATEGORY])
    known = pc.is_valid(where).to_numpy(zero_copy_only=False)
    row = np.where(known, where.fill_null(0).to_numpy(zero_copy_only=False), 0)
    log_units = cats["log_amount_units"].to_numpy() if cats.num_rows else np.zeros(1)
    count = cats[CATEGORY_COUNT].to_numpy() if cats.num_rows else np.zeros(1, np.int64)
    table = pa.table(
        {
            C.MERCHANT_ID: m[C.MERCHANT_ID],
            C.MERCHANT_CATEGORY: m[C.MERCHANT_CATEGORY],
            VOLUME: pc.divide(m["volume_cents"], 100.0),
            ROUND_NL_VOLUME: pc.divide(m["round_near_limit_cents"], 100.0),
            PAYERS: m[PAYERS],
            NIGHT_PAYERS: m[NIGHT_PAYERS],
            FIRST_MONTH: m[FIRST_MONTH],
            CATEGORY_LOG_SUM: np.where(known, log_units[row] / _LOG_UNITS, np.nan),
            CATEGORY_COUNT: np.where(known, count[row], 0).astype(np.int64),
        }
    )
    table = table.cast(MERCHANT_RISK_SCHEMA)
    return table.replace_schema_metadata({AS_OF_METADATA_KEY: as_of.isoformat().encode()})


def stats_table(r: PairRows, grid: Grid, as_of: dt.date) -> pa.Table:
    """Merchant statistics at the (single) as-of date of ``grid``, as a fitted table."""
    return table_from_partials(*stats_partials(r, grid), as_of)
