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

import numpy as np
import pyarrow as pa

from risk_model.features.arrays import flat_index, prepend_true
from risk_model.features.feature import Context
from risk_model.features.merchant_pairs import (
    BIG,
    MerchantStats,
    PairRows,
    pair_rows,
    window_sums,
)
from risk_model.features.merchant_table import (
    AS_OF_METADATA_KEY,
    MERCHANT_RISK_SCHEMA,
    scoring_stats,
    stats_table,
)
from risk_model.features.merchant_window import LOG_SCALE, MerchantWindow
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid

__all__ = [
    "AS_OF_METADATA_KEY",
    "MERCHANT_RISK_SCHEMA",
    "account_features",
    "compute",
    "pair_rows",
    "stats_table",
    "training_stats",
]

_WEIGHTED = (
    "merchant_round_nl_share", "merchant_payers", "merchant_age_months", "merchant_night_payers"
)  # fmt: skip


_STACK_PAIRS = 2**16  # up to this many pairs, the four weighted means in one go (memory)


def _weighted_means(a: np.ndarray, s: np.ndarray, xs: list[np.ndarray], n_acc: int) -> np.ndarray:
    """Spend-weighted means per account of each of ``xs`` (NaN values skipped), as rows.

    One bincount over row-offset keys adds each row's values in the order a bincount per
    row would, so the sums are the same.
    """
    x = np.stack(xs)
    ok = ~np.isnan(x)
    key = (a + n_acc * np.arange(len(xs))[:, None]).ravel()
    size = len(xs) * n_acc
    wsum = np.bincount(key, np.where(ok, s * x, 0.0).ravel(), minlength=size)
    wden = np.bincount(key, np.where(ok, s, 0.0).ravel(), minlength=size)
    wsum, wden = wsum.reshape(len(xs), n_acc), wden.reshape(len(xs), n_acc)
    positive = wden > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, wsum / np.where(positive, wden, 1), np.nan)


def _first_nonzero(h: np.ndarray) -> np.ndarray:
    """Column of the first non-zero entry of each row; BIG if none."""
    nz = h > 0
    return np.where(nz.any(axis=1), nz.argmax(axis=1), BIG)


def training_stats(
    r: PairRows, grid: Grid, k: int, use: np.ndarray, window: MerchantWindow
) -> MerchantStats:
    """Leave-one-account-out merchant stats for the pairs ``use`` (indices)."""
    w = window.at(*grid.period_range(k, LOOKBACK_MONTHS))
    um = r.p_merch[use]
    own = {name: w.sums[name][use] for name in ("cents", "round_nl_cents", "night", "n")}
    active, night = own["n"] > 0, own["night"] > 0
    # first month without the pair: the runner-up when the pair alone holds the minimum
    hist, n_m, n_months = w.first_hist, len(r.merchants), w.n_months
    min1 = _first_nonzero(hist)
    col = np.minimum(min1, n_months - 1)
    ties = hist[np.arange(n_m), col] * (min1 < BIG)
    runner = hist.copy()
    runner[np.arange(n_m), col] = 0
    min2 = _first_nonzero(runner)
    fp = w.first_period[use]
    umonth = np.where(fp < BIG, grid.period_month[np.minimum(fp, grid.n_periods - 1)], BIG)
    umonth = np.where(fp < BIG, umonth - grid.first_month, BIG)
    alone_at_min = (umonth == min1[um]) & (ties[um] <= 1)
    first = np.where(alone_at_min, min2[um], min1[um])
    first = np.where(first < BIG, first + grid.first_month, BIG)
    # category centre without the account's own purchases in that category
    cat, ac = r.p_cat[use], r.p_ac[use]
    ok = cat >= 0
    c = np.maximum(cat, 0)
    if len(w.cat_n):
        den = np.where(ok, w.cat_n[c] - w.ac_n[ac], 0.0)
        num = np.where(ok, w.cat_log[c] - w.ac_log[ac], 0.0) / LOG_SCALE
    else:
        den = num = np.zeros(len(use))
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return MerchantStats(
        volume=(w.volume[um] - own["cents"]) / 100.0,
        round_nl_volume=(w.round_nl[um] - own["round_nl_cents"]) / 100.0,
        payers=w.payers[um] - active,
        night_payers=w.night_payers[um] - night,
        first_month=first,
        centre=centre,
    )


def _segments(a: np.ndarray) -> np.ndarray:
    return flat_index(prepend_true(a[1:] != a[:-1])) if len(a) else np.zeros(0, np.int64)


def account_features(
    r: PairRows,
    grid: Grid,
    k: int,
    table: pa.Table | None,
    n_acc: int,
    window: MerchantWindow | None = None,
) -> dict[str, np.ndarray]:
    """Merchant-side features of every account at as-of ``k``."""
    w6 = window_sums(r, *grid.period_range(k, 6), ("spend", "log_sum", "n"), first=False)
    use = flat_index(w6["spend"] > 0)
    if table is None:
        window = window or MerchantWindow(r, grid)
        stats = training_stats(r, grid, k, use, window)
    else:
        stats = scoring_stats(r, table, use)
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
        # weights of 0 instead of boolean selections: same sums, no copies
        ok = ~np.isnan(stats.centre)
        n6 = np.where(ok, w6["n"][use], 0.0)
        dev = np.where(ok, w6["log_sum"][use] - n6 * stats.centre, 0.0)
        num = np.bincount(a, dev, minlength=n_acc)
        den = np.bincount(a, n6, minlength=n_acc)
        out["category_amount_ratio_6m"] = np.where(
            den > 0, np.exp(num / np.where(den > 0, den, 1)), np.nan
        )
        vol = stats.volume
        rnl_share = np.where(vol > 0, stats.round_nl_volume / np.where(vol > 0, vol, 1), np.nan)
        payers = np.where(stats.payers > 0, stats.payers, np.nan)
        night = stats.night_payers / payers
        fm = stats.first_month
        now = grid.asof_month[k]
        age = np.where(fm < BIG, now - np.minimum(fm, now), np.nan)
    stats_x = [rnl_share, payers, age, night]
    groups = [stats_x] if len(a) <= _STACK_PAIRS else [[x] for x in stats_x]
    wmean = np.concatenate([_weighted_means(a, s, g, n_acc) for g in groups])
    for i, name in enumerate(_WEIGHTED):
        out[f"{name}_wmean_6m"] = wmean[i]
    for name, x in (("merchant_round_nl_share", rnl_share), ("merchant_night_payers", night)):
        mx = np.full(n_acc, np.nan)
        if len(starts):
            mx[seg_acct] = np.fmax.reduceat(x, starts)
        out[f"{name}_max_6m"] = mx
    return out


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return the cash-out family's merchant-side features as (n_asof, n_acc) arrays.

    ``{}`` without transactions. Training mode (no fitted table) takes merchant totals from
    the batch, or from ``ctx.population`` when given (a population larger than the batch).
    """
    tx, flags, grid, n_acc, n_asof = ctx.transactions, ctx.flags, ctx.grid, ctx.n_acc, ctx.n_asof
    if tx is None or flags is None:
        return {}
    table = ctx.merchant_risk
    if table is None:
        r = pair_rows(tx, flags, grid.n_periods)
        population = ctx.population
        window = MerchantWindow(r, grid) if population is None else population.window(r, grid)
    else:  # scoring reads only the accounts' last 6 months: drop older purchases up front
        since = min(grid.period_range(k, 6)[0] for k in range(n_asof))
        r = pair_rows(tx, flags, grid.n_periods, since_period=since, training=False)
        window = None
    out: dict[str, np.ndarray] = {}
    for k in range(n_asof):
        for name, x in account_features(r, grid, k, table, n_acc, window).items():
            out.setdefault(name, np.full((n_asof, n_acc), np.nan, dtype=np.float32))[k] = x
    return out
