"""The fitted merchant-risk table: its schema, fitting from pairs, and the scoring lookup."""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
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
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(cat_n > 0, cat_l / np.where(cat_n > 0, cat_n, 1), np.nan)
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


def stats_table(r: PairRows, grid: Grid, as_of: dt.date) -> pa.Table:
    """Merchant statistics at the (single) as-of date of ``grid``, as a fitted table."""
    names = ("spend", "round_nl_spend", "night", "log_sum", "n")
    w36 = window_sums(r, *grid.period_range(0, LOOKBACK_MONTHS), names)
    pm, n_m = r.p_merch, len(r.merchants)
    active = w36["n"] > 0
    months = grid.period_month[np.minimum(w36["first_period"], grid.n_periods - 1)]
    first = np.full(n_m, BIG)
    np.minimum.at(first, pm[active], months[active])
    payers = np.bincount(pm, active, minlength=n_m)
    pop = {
        "volume": np.bincount(pm, w36["spend"], minlength=n_m),
        "round_nl_volume": np.bincount(pm, w36["round_nl_spend"], minlength=n_m),
        "payers": payers,
        "night_payers": np.bincount(pm, active & (w36["night"] > 0), minlength=n_m),
    }
    seen = payers > 0
    pcat = r.p_cat
    mcat = np.full(n_m, -1)
    np.maximum.at(mcat, pm, pcat)  # one category per merchant; ties -> the largest code
    cat_ok = pcat >= 0
    n_c = len(r.categories)
    tot_l = np.bincount(pcat[cat_ok], w36["log_sum"][cat_ok], minlength=n_c)
    tot_n = np.bincount(pcat[cat_ok], w36["n"][cat_ok], minlength=n_c)
    keep = np.flatnonzero(seen)
    mc = mcat[keep]
    first_day = (
        np.where(first[keep] < BIG, first[keep], 0)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int32)
    )
    categories = r.categories.take(pa.array(np.maximum(mc, 0))) if n_c else pa.nulls(len(keep))
    table = pa.table(
        {
            C.MERCHANT_ID: r.merchants.take(pa.array(keep)),
            C.MERCHANT_CATEGORY: pc.if_else(pa.array(mc >= 0), categories, None),
            VOLUME: pop["volume"][keep],
            ROUND_NL_VOLUME: pop["round_nl_volume"][keep],
            PAYERS: pop["payers"][keep].astype(np.int64),
            NIGHT_PAYERS: pop["night_payers"][keep].astype(np.int64),
            FIRST_MONTH: pa.array(first_day, pa.int32()).cast(pa.date32()),
            CATEGORY_LOG_SUM: np.where(mc >= 0, tot_l[np.maximum(mc, 0)] if n_c else 0, np.nan),
            CATEGORY_COUNT: np.where(mc >= 0, tot_n[np.maximum(mc, 0)] if n_c else 0, 0).astype(
                np.int64
            ),
        }
    )
    table = table.cast(MERCHANT_RISK_SCHEMA)
    return table.replace_schema_metadata({AS_OF_METADATA_KEY: as_of.isoformat().encode()})
