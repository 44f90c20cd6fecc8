"""Merchant-side cash-out signals: concentration, merchant risk, amount vs category.

Purchases are reduced once to (account, merchant, period) rows sorted canonically (account
rank, merchant id in lexicographic order, period), so every float sum is taken in an order
that does not depend on the batch or the input row order. Per as-of date, masks over those
rows give each merchant's statistics over its last 36 months and each account's spend over
its last 6 months.

Training (no fitted table): merchant statistics come from the batch itself, with the
account's own rows removed (leave-one-account-out). Scoring: they come from the table made
by :func:`fit_merchant_risk` (frozen at its as-of date, includes the training accounts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.features.cashout import PurchaseFlags
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid, Transactions

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
NAMES = (
    "top1_merchant_share_6m", "merchant_hhi_6m", "category_amount_ratio_6m",
    "merchant_round_nl_share_wmean_6m", "merchant_round_nl_share_max_6m",
    "merchant_payers_wmean_6m", "merchant_age_months_wmean_6m",
    "merchant_night_payers_wmean_6m", "merchant_night_payers_max_6m",
)  # fmt: skip
_BIG = np.iinfo(np.int64).max // 4


def _sorted_codes(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes ranked by the string value (-1 for null) and the sorted distinct values."""
    enc = (
        pc.dictionary_encode(values).combine_chunks()
        if isinstance(values, pa.ChunkedArray)
        else pc.dictionary_encode(values)
    )
    order = pc.array_sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.where(idx >= 0, rank[np.maximum(idx, 0)], -1) if len(rank) else idx
    return codes, enc.dictionary.take(pa.array(order))


@dataclass
class PairRows:
    """Purchases reduced to (account, merchant, period) rows, canonically sorted."""

    acct: np.ndarray
    merch: np.ndarray
    cat: np.ndarray
    period: np.ndarray
    spend: np.ndarray
    round_nl_spend: np.ndarray
    night: np.ndarray
    log_sum: np.ndarray
    n: np.ndarray
    pair: np.ndarray  # pair id per row
    pair_start: np.ndarray
    merchants: pa.Array  # sorted distinct merchant ids (code -> id)
    categories: pa.Array


def pair_rows(tx: Transactions, flags: PurchaseFlags, n_periods: int) -> PairRows:
    """Reduce purchases with a merchant to canonical (account, merchant, period) rows."""
    merch, merchants = _sorted_codes(tx.merchant)
    cat, categories = _sorted_codes(tx.category)
    keep = tx.is_purchase & (merch >= 0) & (tx.amount > 0)
    idx = np.flatnonzero(keep)
    n_m = max(len(merchants), 1)
    key = (tx.acct[idx] * n_m + merch[idx]) * n_periods + tx.period[idx]
    order = idx[np.argsort(key, kind="stable")]
    key = (tx.acct[order] * n_m + merch[order]) * n_periods + tx.period[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, int)
    amt = tx.amount[order]

    def seg(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts) if len(starts) else np.zeros(0)

    first = order[starts]
    a, m = tx.acct[first], merch[first]
    new_pair = np.r_[True, (a[1:] != a[:-1]) | (m[1:] != m[:-1])] if len(a) else np.zeros(0, bool)
    rnl = flags.is_round[order] & flags.near_limit[order]
    return PairRows(
        acct=a,
        merch=m,
        cat=cat[first],
        period=tx.period[first],
        spend=seg(amt),
        round_nl_spend=seg(np.where(rnl, amt, 0.0)),
        night=seg(flags.is_night[order].astype(np.float64)),
        log_sum=seg(np.log(amt)),
        n=seg(np.ones(len(amt))),
        pair=np.cumsum(new_pair) - 1,
        pair_start=np.flatnonzero(new_pair),
        merchants=merchants,
        categories=categories,
    )


@dataclass
class MerchantStats:
    """Statistics per pair (training, leave-one-out) or per merchant code (scoring)."""

    volume: np.ndarray
    round_nl_volume: np.ndarray
    payers: np.ndarray
    night_payers: np.ndarray
    first_month: np.ndarray  # month index, _BIG if unknown


def _window_pairs(r: PairRows, lo: int, hi: int) -> dict[str, np.ndarray]:
    m = (r.period >= lo) & (r.period <= hi)
    n_pairs = len(r.pair_start)
    agg = {
        name: np.bincount(r.pair, np.where(m, getattr(r, name), 0.0), minlength=n_pairs)
        for name in ("spend", "round_nl_spend", "night", "log_sum", "n")
    }
    first = np.where(m, r.period, _BIG)
    agg["first_period"] = (
        np.minimum.reduceat(first, r.pair_start) if n_pairs else np.zeros(0, np.int64)
    )
    return agg


def _population_stats(r: PairRows, w36: dict[str, np.ndarray], grid: Grid):
    """Merchant and category totals over the 36-month window, from pairs."""
    pm = r.merch[r.pair_start]
    n_m = len(r.merchants)
    active = w36["n"] > 0
    fp = w36["first_period"]
    first_month = np.where(active, grid.period_month[np.minimum(fp, grid.n_periods - 1)], _BIG)
    return pm, {
        "volume": np.bincount(pm, w36["spend"], minlength=n_m),
        "round_nl_volume": np.bincount(pm, w36["round_nl_spend"], minlength=n_m),
        "payers": np.bincount(pm, active, minlength=n_m),
        "night_payers": np.bincount(pm, active & (w36["night"] > 0), minlength=n_m),
        "first_month": first_month,
        "active": active,
    }


def _loo_first_month(pm: np.ndarray, first: np.ndarray, n_m: int) -> np.ndarray:
    """Each pair's merchant first month with that pair's account left out."""
    min1 = np.full(n_m, _BIG)
    np.minimum.at(min1, pm, first)
    at_min = first == min1[pm]
    ties = np.bincount(pm, at_min & (first < _BIG), minlength=n_m)
    min2 = np.full(n_m, _BIG)
    np.minimum.at(min2, pm, np.where(at_min, _BIG, first))
    return np.where(at_min & (ties[pm] <= 1), min2[pm], min1[pm])


def training_stats(r: PairRows, grid: Grid, k: int) -> tuple[MerchantStats, np.ndarray]:
    """Leave-one-account-out merchant stats per pair and per-pair category centre."""
    w36 = _window_pairs(r, *grid.period_range(k, LOOKBACK_MONTHS))
    pm, pop = _population_stats(r, w36, grid)
    own_night = pop["active"] & (w36["night"] > 0)
    stats = MerchantStats(
        volume=pop["volume"][pm] - w36["spend"],
        round_nl_volume=pop["round_nl_volume"][pm] - w36["round_nl_spend"],
        payers=pop["payers"][pm] - pop["active"],
        night_payers=pop["night_payers"][pm] - own_night,
        first_month=_loo_first_month(pm, pop["first_month"], len(r.merchants)),
    )
    # category centre without the account's own purchases in that category
    pc_ = r.cat[r.pair_start]
    n_c = len(r.categories)
    pa_ = r.acct[r.pair_start]
    ac_key = pa_ * max(n_c, 1) + pc_
    uniq, ac = np.unique(ac_key, return_inverse=True)
    own_l = np.bincount(ac, w36["log_sum"], minlength=len(uniq))[ac]
    own_n = np.bincount(ac, w36["n"], minlength=len(uniq))[ac]
    cat_ok = pc_ >= 0
    tot_l = np.bincount(pc_[cat_ok], w36["log_sum"][cat_ok], minlength=n_c)
    tot_n = np.bincount(pc_[cat_ok], w36["n"][cat_ok], minlength=n_c)
    den = np.where(cat_ok, tot_n[np.maximum(pc_, 0)] - own_n, 0.0)
    num = np.where(cat_ok, tot_l[np.maximum(pc_, 0)] - own_l, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return stats, centre


def scoring_stats(r: PairRows, table: pa.Table) -> tuple[MerchantStats, np.ndarray]:
    """Merchant stats per pair and category centre per pair from a fitted table."""
    pm = r.merch[r.pair_start]
    row = pc.index_in(r.merchants, value_set=table.column(C.MERCHANT_ID).combine_chunks())
    row = row.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    prow = row[pm] if len(pm) else np.zeros(0, np.int64)
    known = prow >= 0

    def col(name: str, fill: float) -> np.ndarray:
        x = table.column(name).combine_chunks().cast(pa.float64()).fill_null(fill).to_numpy()
        return np.where(known, x[np.maximum(prow, 0)], fill) if len(x) else np.full(len(pm), fill)

    fm = table.column(FIRST_MONTH).combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
    first = month_index_or_big(fm)
    stats = MerchantStats(
        volume=col(VOLUME, np.nan),
        round_nl_volume=col(ROUND_NL_VOLUME, np.nan),
        payers=col(PAYERS, np.nan),
        night_payers=col(NIGHT_PAYERS, np.nan),
        first_month=np.where(known, first[np.maximum(prow, 0)], _BIG)
        if len(first)
        else np.full(len(pm), _BIG),
    )
    # category centre: by the purchase's own category, looked up among the table's categories
    cats = table.column(C.MERCHANT_CATEGORY).combine_chunks()
    cat_l = table.column(CATEGORY_LOG_SUM).combine_chunks().fill_null(np.nan).to_numpy()
    cat_n = table.column(CATEGORY_COUNT).combine_chunks().cast(pa.float64()).fill_null(0).to_numpy()
    crow = (
        pc.index_in(r.categories, value_set=cats)
        .fill_null(-1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    pcat = r.cat[r.pair_start]
    trow = np.where(pcat >= 0, crow[np.maximum(pcat, 0)] if len(crow) else -1, -1)
    ok = trow >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        centre_t = np.where(cat_n > 0, cat_l / np.where(cat_n > 0, cat_n, 1), np.nan)
    centre = np.where(ok, centre_t[np.maximum(trow, 0)] if len(centre_t) else np.nan, np.nan)
    return stats, centre


def month_index_or_big(days: np.ndarray) -> np.ndarray:
    """Month index of day numbers (int32 with nulls already impossible)."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def account_features(
    r: PairRows, grid: Grid, k: int, stats: MerchantStats, centre: np.ndarray, n_acc: int
) -> dict[str, np.ndarray]:
    """Merchant-side features of every account at as-of ``k``."""
    w6 = _window_pairs(r, *grid.period_range(k, 6))
    s6 = w6["spend"]
    pa_ = r.acct[r.pair_start]
    use = s6 > 0
    a, s = pa_[use], s6[use]
    total = np.bincount(a, s, minlength=n_acc)
    out: dict[str, np.ndarray] = {}
    top = np.zeros(n_acc)
    np.maximum.at(top, a, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        has = total > 0
        safe_total = np.where(has, total, 1.0)
        out["top1_merchant_share_6m"] = np.where(has, top / safe_total, np.nan)
        share = s / safe_total[a]
        out["merchant_hhi_6m"] = np.where(
            has, np.bincount(a, share * share, minlength=n_acc), np.nan
        )
        c = centre[use]
        ok = ~np.isnan(c)
        num = np.bincount(a[ok], w6["log_sum"][use][ok] - w6["n"][use][ok] * c[ok], n_acc)
        den = np.bincount(a[ok], w6["n"][use][ok], minlength=n_acc)
        out["category_amount_ratio_6m"] = np.where(
            den > 0, np.exp(num / np.where(den > 0, den, 1)), np.nan
        )

        vol = stats.volume[use]
        rnl_share = np.where(
            vol > 0, stats.round_nl_volume[use] / np.where(vol > 0, vol, 1), np.nan
        )
        payers = stats.payers[use]
        payers = np.where(payers > 0, payers, np.nan)
        night = stats.night_payers[use] / payers
        fm = stats.first_month[use]
        age = np.where(fm < _BIG, grid.asof_month[k] - np.minimum(fm, grid.asof_month[k]), np.nan)
    for name, x in (
        ("merchant_round_nl_share", rnl_share),
        ("merchant_payers", payers),
        ("merchant_age_months", age),
        ("merchant_night_payers", night),
    ):
        ok = ~np.isnan(x)
        wsum = np.bincount(a[ok], s[ok] * x[ok], minlength=n_acc)
        wden = np.bincount(a[ok], s[ok], minlength=n_acc)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{name}_wmean_6m"] = np.where(wden > 0, wsum / np.where(wden > 0, wden, 1), np.nan)
        mx = np.full(n_acc, np.nan)
        np.fmax.at(mx, a[ok], x[ok])
        out[f"{name}_max_6m"] = mx
    return {name: out[name] for name in NAMES}


def compute(
    tx: Transactions | None,
    flags: PurchaseFlags | None,
    grid: Grid,
    n_acc: int,
    table: pa.Table | None,
) -> dict[str, np.ndarray]:
    """Merchant-side features as (n_asof, n_acc) arrays; NaN where transactions unknown."""
    if tx is None or flags is None:
        return {}
    n_asof = len(grid.asof_day)
    out = {name: np.full((n_asof, n_acc), np.nan, dtype=np.float32) for name in NAMES}
    r = pair_rows(tx, flags, grid.n_periods)
    fixed = None if table is None else scoring_stats(r, table)
    for k in range(n_asof):
        stats, centre = fixed if fixed is not None else training_stats(r, grid, k)
        for name, x in account_features(r, grid, k, stats, centre, n_acc).items():
            out[name][k] = x
    for arr in out.values():
        arr[:, ~tx.known] = np.nan
    return out


def stats_table(r: PairRows, grid: Grid, as_of: dt.date) -> pa.Table:
    """Merchant statistics at the (single) as-of date of ``grid``, as a fitted table."""
    w36 = _window_pairs(r, *grid.period_range(0, LOOKBACK_MONTHS))
    pm, pop = _population_stats(r, w36, grid)
    n_m = len(r.merchants)
    first = np.full(n_m, _BIG)
    np.minimum.at(first, pm, pop["first_month"])
    seen = pop["payers"] > 0
    pcat = r.cat[r.pair_start]
    mcat = np.full(n_m, -1)
    np.maximum.at(mcat, pm, pcat)  # one category per merchant; ties -> the last in order
    cat_ok = pcat >= 0
    n_c = len(r.categories)
    tot_l = np.bincount(pcat[cat_ok], w36["log_sum"][cat_ok], minlength=n_c)
    tot_n = np.bincount(pcat[cat_ok], w36["n"][cat_ok], minlength=n_c)
    keep = np.flatnonzero(seen)
    mc = mcat[keep]
    first_day = (
        np.where(first[keep] < _BIG, first[keep], 0)
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
