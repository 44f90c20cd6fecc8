"""Cash-out family (account side): amount patterns, near-limit spend, repay-then-re-spend.

Merchant-side signals (concentration, merchant risk, amounts unusual for the category)
live in :mod:`risk_model.features.merchant_risk`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.features.arrays import flat_index, nan_block, nan_to_num, rows, rowsum, stable_order
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid, Statements, Transactions, cells, cube

NEAR_LIMIT_FRACTION = 0.8  # purchase >= 80% of the available line
AVAILABLE_FLOOR = 0.1  # available line floored at 10% of the limit (a full line is not "0")
RESPEND_FRACTION = 0.5  # "large" purchase after a repayment: >= 50% of the limit
RESPEND_HOURS = 24.0
NIGHT_END_HOUR = 5
_DAY_BITS = 2**21  # day numbers below ~5700 AD
_SEC_BITS = 2**34


@dataclass
class PurchaseFlags:
    """Per-transaction derived values (arrays aligned with ``Transactions``)."""

    is_round: np.ndarray
    is_patterned: np.ndarray
    is_night: np.ndarray
    limit: np.ndarray  # limit of the last statement known before the purchase (NaN if none)
    near_limit: np.ndarray
    respend_hours: np.ndarray  # hours since the previous repayment (NaN if none)


def _previous(
    acct_a: np.ndarray, key_a: np.ndarray, acct_b: np.ndarray, key_b: np.ndarray, width: int
) -> np.ndarray:
    """For each b, the index into a of the last a of the same account with key_a < key_b.

    Returns -1 when there is none. ``a`` must not be empty.
    """
    ka = acct_a * width + key_a.clip(0, width - 1)
    n_acc = int(max(acct_a.max(), acct_b.max(initial=0))) + 1
    order = stable_order(ka, n_acc * width)
    ka = ka[order]
    kb = acct_b * width + key_b.clip(0, width - 1)
    pos = np.searchsorted(ka, kb, side="left") - 1
    ok = pos >= 0
    idx = np.where(ok, order[np.maximum(pos, 0)], -1)
    same = ok & (acct_a[np.maximum(idx, 0)] == acct_b)
    return np.where(same, idx, -1)


def purchase_flags(tx: Transactions, st: Statements | None, since_period: int = 0) -> PurchaseFlags:
    """Derive amount, time and line-usage flags for the purchases.

    Flags are computed for purchases in periods ``>= since_period`` only (each flag is a
    function of its own purchase and of earlier statements and repayments, so the values
    are the same as over all rows); other transactions get False / NaN. Every reader of
    the flags selects purchases.
    """
    sub = flat_index(tx.is_purchase & (tx.period >= since_period))
    if len(sub) == len(tx.acct):
        return _flags(tx, st, sub)
    part = _flags(tx, st, sub)
    n = len(tx.acct)

    def spread(x: np.ndarray, fill: float | bool) -> np.ndarray:
        out = np.full(n, fill, dtype=x.dtype)
        out[sub] = x
        return out

    return PurchaseFlags(
        is_round=spread(part.is_round, False),
        is_patterned=spread(part.is_patterned, False),
        is_night=spread(part.is_night, False),
        limit=spread(part.limit, np.nan),
        near_limit=spread(part.near_limit, False),
        respend_hours=spread(part.respend_hours, np.nan),
    )


def _flags(tx: Transactions, st: Statements | None, sub: np.ndarray) -> PurchaseFlags:
    """Compute the flags of the transactions ``sub`` (indices), aligned with ``sub``."""
    full = len(sub) == len(tx.acct)
    amt = tx.amount if full else tx.amount[sub]
    acct = tx.acct if full else tx.acct[sub]
    sec = tx.sec if full else tx.sec[sub]
    day = tx.day if full else tx.day[sub]
    whole = np.round(amt)
    is_int = np.abs(amt - whole) < 0.005
    cents = np.mod(whole, 100)
    is_round = is_int & (cents == 0) & (whole > 0)
    patterned_cents = (cents == 88) | (cents == 98) | (cents == 99)  # np.isin, minus its setup
    is_patterned = is_int & (whole >= 100) & patterned_cents
    is_night = (np.mod(sec, 86400) // 3600) < NIGHT_END_HOUR

    limit = np.full(len(amt), np.nan)
    available = np.full(len(amt), np.nan)
    if st is not None and len(st.acct) and len(amt):
        i = _previous(st.acct, st.known_day, acct, day, _DAY_BITS)
        has = (i >= 0) & (st.limit[np.maximum(i, 0)] > 0)
        j = np.maximum(i, 0)
        limit = np.where(has, st.limit[j], np.nan)
        available = (limit - st.billed[j]).clip(AVAILABLE_FLOOR * limit, limit)
    with np.errstate(invalid="ignore"):
        near_limit = amt >= NEAR_LIMIT_FRACTION * available

    hours = np.full(len(amt), np.nan)
    rep = flat_index(tx.is_repayment)
    if len(rep) and len(amt):
        i = _previous(tx.acct[rep], tx.sec[rep], acct, sec, _SEC_BITS)
        prev_sec = tx.sec[rep][np.maximum(i, 0)]
        hours = np.where(i >= 0, (sec - prev_sec) / 3600.0, np.nan)
    return PurchaseFlags(is_round, is_patterned, is_night, limit, near_limit, hours)


def _median_by_account(acct: np.ndarray, values: np.ndarray, n_acc: int) -> np.ndarray:
    out = np.full(n_acc, np.nan)
    if not len(acct):
        return out
    order = np.lexsort((values, acct))
    a, v = acct[order], values[order]
    counts = np.bincount(a, minlength=n_acc)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


NAMES = (
    "round_share_6m", "patterned_share_6m", "near_limit_count_6m", "near_limit_share_6m",
    "round_near_limit_count_6m", "repay_respend_count_6m", "repay_respend_median_hours_6m",
    "night_share_6m", "burst_after_quiet", "months_since_cashout_like", "cashout_like_months_36m",
)  # fmt: skip


def cashout_like(flags: PurchaseFlags) -> np.ndarray:
    """Purchases shaped like a cash-out: a round or patterned amount near the available line."""
    return flags.near_limit & (flags.is_round | flags.is_patterned)


def compute(
    tx: Transactions | None,
    flags: PurchaseFlags | None,
    grid: Grid,
    n_acc: int,
    st: Statements | None,
) -> dict[str, np.ndarray]:
    """Return account-side cash-out features as (n_asof, n_acc) arrays.

    Counts that need a credit limit are NaN for accounts with no statement known in the
    last 36 months (or no statements column). ``flags`` must cover the last 36 months of
    every as-of date (the long-memory features read them).
    """
    if tx is None or flags is None:
        return {}
    n_asof = len(grid.asof_day)
    out = nan_block(NAMES, n_asof, n_acc)
    pur = tx.is_purchase
    a = tx.acct
    # every purchase cube is read over 6-month windows only: cubes start at their first period
    since = min(grid.period_range(k, 6)[0] for k in range(n_asof))
    p = np.where(pur & (tx.period >= since), tx.period - since, -1)
    has_limit = ~np.isnan(flags.limit)
    big = pur & has_limit & (tx.amount >= RESPEND_FRACTION * nan_to_num(flags.limit))
    big_after_repay = big & ~np.isnan(flags.respend_hours)
    loop = big_after_repay & (flags.respend_hours <= RESPEND_HOURS)
    at_p = cells(n_acc, a, p)
    c_n = cube(grid, n_acc, at_p, first=since)
    c_round = cube(grid, n_acc, at_p, flags.is_round, first=since)
    c_pat = cube(grid, n_acc, at_p, flags.is_patterned, first=since)
    c_elig = cube(grid, n_acc, at_p, has_limit, first=since)
    c_nl = cube(grid, n_acc, at_p, flags.near_limit, first=since)
    c_rnl = cube(grid, n_acc, at_p, flags.near_limit & flags.is_round, first=since)
    c_loop = cube(grid, n_acc, at_p, loop, first=since)
    c_night = cube(grid, n_acc, at_p, flags.is_night, first=since)

    def share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        positive = den > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(positive, num / np.where(positive, den, 1), np.nan)

    for k in range(n_asof):
        cols = grid.month_columns(k, 6) - since
        n = rowsum(rows(c_n, cols))
        out["round_share_6m"][k] = share(rowsum(rows(c_round, cols)), n)
        out["patterned_share_6m"][k] = share(rowsum(rows(c_pat, cols)), n)
        nl = rowsum(rows(c_nl, cols))
        out["near_limit_count_6m"][k] = nl
        out["near_limit_share_6m"][k] = share(nl, rowsum(rows(c_elig, cols)))
        out["round_near_limit_count_6m"][k] = rowsum(rows(c_rnl, cols))
        out["repay_respend_count_6m"][k] = rowsum(rows(c_loop, cols))
        out["night_share_6m"][k] = share(rowsum(rows(c_night, cols)), n)
        lo, hi = grid.period_range(k, 6)
        sel = big_after_repay & (tx.period >= lo) & (tx.period <= hi)
        out["repay_respend_median_hours_6m"][k] = _median_by_account(
            a[sel], flags.respend_hours[sel], n_acc
        )
        recent = rows(c_n, grid.month_columns(k, 4) - since)
        out["burst_after_quiet"][k] = (recent[-1] > 0) & (rowsum(recent[:-1]) == 0)
    out.update(_long_memory(tx, flags, grid, n_acc))
    if st is None:
        no_limit = np.ones((n_asof, n_acc), dtype=bool)
    else:
        c_st = cube(grid, n_acc, cells(n_acc, st.acct, st.period))
        no_limit = np.stack(
            [rowsum(rows(c_st, grid.month_columns(k, LOOKBACK_MONTHS))) == 0 for k in range(n_asof)]
        )
    for name in (
        "near_limit_count_6m", "round_near_limit_count_6m", "repay_respend_count_6m",
        "cashout_like_months_36m",
    ):  # fmt: skip
        out[name][no_limit] = np.nan
    return out


def _long_memory(
    tx: Transactions, flags: PurchaseFlags, grid: Grid, n_acc: int
) -> dict[str, np.ndarray]:
    """Cash-out-like months over 36 months: months since the last one, months with one.

    A month is cash-out-like when a round or patterned purchase takes >= 0.8 of the available
    line, or when its round and patterned purchases add up to >= 0.8 of the credit limit
    (the line drained in two or three round amounts). A cash-out propensity outlives an
    episode: an account that drained its line so a year ago is far likelier to do it again
    than one that never did, which the 6-month counts forget.
    """
    n_asof = len(grid.asof_day)
    first = min(grid.period_range(k, LOOKBACK_MONTHS)[0] for k in range(n_asof))
    p = np.where(tx.is_purchase & (tx.period >= first), tx.period - first, -1)
    at_p = cells(n_acc, tx.acct, p)
    c_like = cube(grid, n_acc, at_p, cashout_like(flags), first=first)
    shaped = (flags.is_round | flags.is_patterned) & ~np.isnan(flags.limit)
    line_share = np.where(shaped, tx.amount / np.where(shaped, flags.limit, 1.0), 0.0)
    c_share = cube(grid, n_acc, at_p, line_share, first=first)
    months = np.arange(LOOKBACK_MONTHS)[:, None]
    since = np.full((n_asof, n_acc), np.nan, dtype=np.float32)
    count = np.zeros((n_asof, n_acc), dtype=np.float32)
    for k in range(n_asof):
        cols = grid.month_columns(k, LOOKBACK_MONTHS) - first
        seen = (rows(c_like, cols) > 0) | (rows(c_share, cols) >= NEAR_LIMIT_FRACTION)
        last = np.where(seen, months, -1).max(0)
        since[k] = np.where(last >= 0, LOOKBACK_MONTHS - 1 - last, np.nan)
        count[k] = seen.sum(0)
    return {"months_since_cashout_like": since, "cashout_like_months_36m": count}
