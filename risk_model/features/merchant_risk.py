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

from risk_model.features.arrays import safe_divide, starts_of_runs
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


def _weighted_mean(a: np.ndarray, s: np.ndarray, x: np.ndarray, n_acc: int) -> np.ndarray:
    """Spend-weighted mean of ``x`` per account (row account ``a``, spend ``s``; NaN skipped)."""
    known = ~np.isnan(x)
    total = np.bincount(a, np.where(known, s * x, 0.0), minlength=n_acc)
    weight = np.bincount(a, np.where(known, s, 0.0), minlength=n_acc)
    return safe_divide(total, weight)


def _first_nonzero(h: np.ndarray) -> np.ndarray:
    """Column of the first non-zero entry of each row; BIG if none."""
    nz = h > 0
    return np.where(nz.any(axis=1), nz.argmax(axis=1), BIG)


def _first_month_without_pair(
    hist: np.ndarray, merchant: np.ndarray, own_month: np.ndarray
) -> np.ndarray:
    """Each merchant's first month with a payer once one pair (its account) is left out.

    ``hist`` counts each merchant's pairs by their first month (merchant x month);
    ``merchant`` and ``own_month`` are the left-out pair's merchant and first month (BIG:
    none). The merchant's first month stays its earliest one, unless the pair is alone
    there: then it is the merchant's next month with a pair. Months in ``hist`` columns;
    BIG where there is none.
    """
    n_m = len(hist)
    earliest = _first_nonzero(hist)
    has_earliest = earliest < BIG
    column = np.where(has_earliest, earliest, 0)
    at_earliest = np.where(has_earliest, hist[np.arange(n_m), column], 0)
    without_earliest = hist.copy()
    without_earliest[np.arange(n_m)[has_earliest], column[has_earliest]] = 0
    next_month = _first_nonzero(without_earliest)
    alone = (own_month == earliest[merchant]) & (at_earliest[merchant] <= 1)
    return np.where(alone, next_month[merchant], earliest[merchant])


def training_stats(
    r: PairRows, grid: Grid, k: int, use: np.ndarray, window: MerchantWindow
) -> MerchantStats:
    """Leave-one-account-out merchant stats for the pairs ``use`` (indices)."""
    w = window.at(*grid.period_range(k, LOOKBACK_MONTHS))
    um = r.p_merch[use]
    own = {name: w.sums[name][use] for name in ("cents", "round_nl_cents", "night", "n")}
    active, night = own["n"] > 0, own["night"] > 0
    # the pair's own first month, as a column of the merchants' month histogram
    fp = w.first_period[use]
    has_first = fp < BIG
    own_month = grid.period_month[np.where(has_first, fp, 0)] - grid.first_month
    own_month = np.where(has_first, own_month, BIG)
    first = _first_month_without_pair(w.first_hist, um, own_month)
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
    return MerchantStats(
        volume=(w.volume[um] - own["cents"]) / 100.0,
        round_nl_volume=(w.round_nl[um] - own["round_nl_cents"]) / 100.0,
        payers=w.payers[um] - active,
        night_payers=w.night_payers[um] - night,
        first_month=first,
        centre=safe_divide(num, den),
    )


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
    use = np.flatnonzero(w6["spend"] > 0)
    if table is None:
        window = window or MerchantWindow(r, grid)
        stats = training_stats(r, grid, k, use, window)
    else:
        stats = scoring_stats(r, table, use)
    a, s = r.p_acct[use], w6["spend"][use]  # a is sorted: pairs are in account order
    starts = starts_of_runs(a)
    seg_acct = a[starts]
    total = np.bincount(a, s, minlength=n_acc)
    out: dict[str, np.ndarray] = {}
    top = np.zeros(n_acc)
    if len(starts):
        top[seg_acct] = np.maximum.reduceat(s, starts)
    out["top1_merchant_share_6m"] = safe_divide(top, total)
    share = s / total[a]
    hhi = np.bincount(a, share * share, minlength=n_acc)
    out["merchant_hhi_6m"] = np.where(total > 0, hhi, np.nan)
    # the account's purchases against their category's centre (geometric mean of the ratio)
    known = ~np.isnan(stats.centre)
    n6 = np.where(known, w6["n"][use], 0.0)
    deviation = np.where(known, w6["log_sum"][use] - n6 * stats.centre, 0.0)
    mean_deviation = safe_divide(
        np.bincount(a, deviation, minlength=n_acc), np.bincount(a, n6, minlength=n_acc)
    )
    out["category_amount_ratio_6m"] = np.exp(mean_deviation)
    per_pair = {
        "merchant_round_nl_share": safe_divide(stats.round_nl_volume, stats.volume),
        "merchant_payers": np.where(stats.payers > 0, stats.payers, np.nan),
        "merchant_age_months": _age_months(stats.first_month, grid.asof_month[k]),
        "merchant_night_payers": safe_divide(stats.night_payers, stats.payers),
    }
    for name, x in per_pair.items():
        out[f"{name}_wmean_6m"] = _weighted_mean(a, s, x, n_acc)
    for name in ("merchant_round_nl_share", "merchant_night_payers"):
        mx = np.full(n_acc, np.nan)
        if len(starts):
            mx[seg_acct] = np.fmax.reduceat(per_pair[name], starts)
        out[f"{name}_max_6m"] = mx
    return out


def _age_months(first_month: np.ndarray, now: int) -> np.ndarray:
    """Months from a merchant's first month to ``now`` (NaN when unknown)."""
    return np.where(first_month < BIG, now - np.minimum(first_month, now), np.nan)


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
