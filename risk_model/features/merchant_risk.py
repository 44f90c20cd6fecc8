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
import weakref
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

    period: np.ndarray
    spend: np.ndarray
    round_nl_spend: np.ndarray
    night: np.ndarray
    log_sum: np.ndarray
    n: np.ndarray
    pair: np.ndarray  # pair id per row (rows of a pair are contiguous, by period)
    p_acct: np.ndarray  # per pair (pairs sorted by account, then merchant id)
    p_merch: np.ndarray
    p_cat: np.ndarray
    p_ac: np.ndarray  # per pair: id of its (account, category)
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
    sort = np.argsort(key, kind="stable")
    order, key = idx[sort], key[sort]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, int)
    amt = tx.amount[order]

    def seg(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts) if len(starts) else np.zeros(0)

    first = order[starts]
    a, m = tx.acct[first], merch[first]
    new_pair = np.r_[True, (a[1:] != a[:-1]) | (m[1:] != m[:-1])] if len(a) else np.zeros(0, bool)
    pair_start = np.flatnonzero(new_pair)
    p_acct, p_cat = a[pair_start], cat[first][pair_start]
    ac_key = p_acct * (len(categories) + 1) + p_cat + 1
    ac_new = np.r_[True, ac_key[1:] != ac_key[:-1]] if len(ac_key) else np.zeros(0, bool)
    # pairs are sorted by account but not by category within it: rank the keys
    _, p_ac = np.unique(ac_key, return_inverse=True) if len(ac_key) else (None, ac_new)
    rnl = flags.is_round[order] & flags.near_limit[order]
    return PairRows(
        period=tx.period[first],
        spend=seg(amt),
        round_nl_spend=seg(np.where(rnl, amt, 0.0)),
        night=seg(flags.is_night[order].astype(np.float64)),
        log_sum=seg(np.log(amt)),
        n=seg(np.ones(len(amt))),
        pair=np.cumsum(new_pair) - 1,
        p_acct=p_acct,
        p_merch=m[pair_start],
        p_cat=p_cat,
        p_ac=np.asarray(p_ac, dtype=np.int64),
        merchants=merchants,
        categories=categories,
    )


@dataclass
class MerchantStats:
    """Merchant statistics seen by each used pair (training: leave-one-account-out)."""

    volume: np.ndarray
    round_nl_volume: np.ndarray
    payers: np.ndarray
    night_payers: np.ndarray
    first_month: np.ndarray  # month index, _BIG if unknown
    centre: np.ndarray  # category mean log amount (NaN if unknown)


def _window_pairs(r: PairRows, lo: int, hi: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-pair sums over rows with period in [lo, hi]; also the first period in the window."""
    idx = np.flatnonzero((r.period >= lo) & (r.period <= hi))
    n_pairs = len(r.p_acct)
    pid = r.pair[idx]
    agg = {name: np.bincount(pid, getattr(r, name)[idx], minlength=n_pairs) for name in names}
    first = np.full(n_pairs, _BIG)
    if len(idx):
        lead = np.r_[True, pid[1:] != pid[:-1]]  # rows of a pair are in period order
        first[pid[lead]] = r.period[idx[lead]]
    agg["first_period"] = first
    return agg


def _first_month_histogram(pm, months, active, n_m, n_months):
    """(merchant x month) counts of pairs by the month of their first payment in the window."""
    key = pm[active] * n_months + months[active]
    return np.bincount(key, minlength=n_m * n_months).reshape(n_m, n_months)


def _first_nonzero(h: np.ndarray) -> np.ndarray:
    """Column of the first non-zero entry of each row; _BIG if none."""
    nz = h > 0
    return np.where(nz.any(axis=1), nz.argmax(axis=1), _BIG)


def training_stats(r: PairRows, grid: Grid, k: int, use: np.ndarray) -> MerchantStats:
    """Leave-one-account-out merchant stats for the pairs ``use`` (indices)."""
    names = ("spend", "round_nl_spend", "night", "log_sum", "n")
    w36 = _window_pairs(r, *grid.period_range(k, LOOKBACK_MONTHS), names)
    pm, n_m = r.p_merch, len(r.merchants)
    active = w36["n"] > 0
    night = active & (w36["night"] > 0)
    volume = np.bincount(pm, w36["spend"], minlength=n_m)
    round_nl = np.bincount(pm, w36["round_nl_spend"], minlength=n_m)
    payers = np.bincount(pm, active, minlength=n_m)
    night_payers = np.bincount(pm, night, minlength=n_m)
    # first month without the pair: the runner-up when the pair alone holds the minimum
    n_months = int(grid.period_month[-1] - grid.first_month + 1)
    fp = w36["first_period"]
    months = np.where(active, grid.period_month[np.minimum(fp, grid.n_periods - 1)], 0)
    months = months - grid.first_month
    hist = _first_month_histogram(pm, months, active, n_m, n_months)
    min1 = _first_nonzero(hist)
    ties = hist[np.arange(n_m), np.minimum(min1, n_months - 1)] * (min1 < _BIG)
    runner = hist.copy()
    runner[np.arange(n_m), np.minimum(min1, n_months - 1)] = 0
    min2 = _first_nonzero(runner)
    um, umonth = pm[use], months[use]
    alone_at_min = (umonth == min1[um]) & (ties[um] <= 1)
    first = np.where(alone_at_min, min2[um], min1[um])
    first = np.where(first < _BIG, first + grid.first_month, _BIG)
    # category centre without the account's own purchases in that category
    cat = r.p_cat
    ok = cat >= 0
    tot_l = np.bincount(cat[ok], w36["log_sum"][ok], minlength=len(r.categories))
    tot_n = np.bincount(cat[ok], w36["n"][ok], minlength=len(r.categories))
    n_ac = int(r.p_ac.max()) + 1 if len(r.p_ac) else 0
    own_l = np.bincount(r.p_ac, w36["log_sum"], minlength=n_ac)[r.p_ac[use]]
    own_n = np.bincount(r.p_ac, w36["n"], minlength=n_ac)[r.p_ac[use]]
    uc = np.maximum(cat[use], 0)
    den = np.where(cat[use] >= 0, tot_n[uc] - own_n, 0.0) if len(tot_n) else np.zeros(len(use))
    num = np.where(cat[use] >= 0, tot_l[uc] - own_l, 0.0) if len(tot_l) else np.zeros(len(use))
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return MerchantStats(
        volume=volume[um] - w36["spend"][use],
        round_nl_volume=round_nl[um] - w36["round_nl_spend"][use],
        payers=(payers[um] - active[use]).astype(np.float64),
        night_payers=(night_payers[um] - night[use]).astype(np.float64),
        first_month=first,
        centre=centre,
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
        first_month=pick(look.first_month, _BIG).astype(np.int64),
        centre=np.where(crow >= 0, centre[np.maximum(crow, 0)], np.nan)
        if len(centre)
        else np.full(len(use), np.nan),
    )


def _segments(a: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, np.int64)


def account_features(
    r: PairRows, grid: Grid, k: int, table: pa.Table | None, n_acc: int
) -> dict[str, np.ndarray]:
    """Merchant-side features of every account at as-of ``k``."""
    w6 = _window_pairs(r, *grid.period_range(k, 6), ("spend", "log_sum", "n"))
    use = np.flatnonzero(w6["spend"] > 0)
    stats = training_stats(r, grid, k, use) if table is None else scoring_stats(r, table, use)
    a, s = r.p_acct[use], w6["spend"][use]  # a is sorted: pairs are in account order
    starts = _segments(a)
    seg_acct = a[starts]
    total = np.bincount(a, s, minlength=n_acc)
    has = total > 0
    safe_total = np.where(has, total, 1.0)
    out: dict[str, np.ndarray] = {}
    top = np.zeros(n_acc)
    if len(starts):
        top[seg_acct] = np.maximum.reduceat(s, starts)
    out["top1_merchant_share_6m"] = np.where(has, top / safe_total, np.nan)
    share = s / safe_total[a]
    out["merchant_hhi_6m"] = np.where(has, np.bincount(a, share * share, minlength=n_acc), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = stats.centre
        ok = ~np.isnan(c)
        dev = w6["log_sum"][use][ok] - w6["n"][use][ok] * c[ok]
        num = np.bincount(a[ok], dev, minlength=n_acc)
        den = np.bincount(a[ok], w6["n"][use][ok], minlength=n_acc)
        out["category_amount_ratio_6m"] = np.where(
            den > 0, np.exp(num / np.where(den > 0, den, 1)), np.nan
        )
        vol = stats.volume
        rnl_share = np.where(vol > 0, stats.round_nl_volume / np.where(vol > 0, vol, 1), np.nan)
        payers = np.where(stats.payers > 0, stats.payers, np.nan)
        night = stats.night_payers / payers
        fm = stats.first_month
        now = grid.asof_month[k]
        age = np.where(fm < _BIG, now - np.minimum(fm, now), np.nan)
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
        if len(starts):
            mx[seg_acct] = np.fmax.reduceat(x, starts)
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
    for k in range(n_asof):
        for name, x in account_features(r, grid, k, table, n_acc).items():
            out[name][k] = x
    for arr in out.values():
        arr[:, ~tx.known] = np.nan
    return out


def stats_table(r: PairRows, grid: Grid, as_of: dt.date) -> pa.Table:
    """Merchant statistics at the (single) as-of date of ``grid``, as a fitted table."""
    names = ("spend", "round_nl_spend", "night", "log_sum", "n")
    w36 = _window_pairs(r, *grid.period_range(0, LOOKBACK_MONTHS), names)
    pm, n_m = r.p_merch, len(r.merchants)
    active = w36["n"] > 0
    months = grid.period_month[np.minimum(w36["first_period"], grid.n_periods - 1)]
    first = np.full(n_m, _BIG)
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
