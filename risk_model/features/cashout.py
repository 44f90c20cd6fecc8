"""Cash-out family: amount patterns, near-limit spend, repay-then-re-spend, merchant risk.

The account-side features are computed here; the merchant-side ones (concentration,
merchant risk, amounts unusual for the category) by :mod:`risk_model.features.merchant_risk`,
and declared here with the rest of the family, in column order.
"""

from __future__ import annotations

import numpy as np

from risk_model.features import merchant_risk
from risk_model.features.arrays import nan_block, safe_divide, window
from risk_model.features.feature import (
    KNOWN_AT_MERCHANTS,
    KNOWN_AT_TRANSACTION,
    Context,
    declarer,
)
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid, Transactions, cells, cube, cubes
from risk_model.features.purchases import NEAR_LIMIT_FRACTION, PurchaseFlags

RESPEND_FRACTION = 0.5  # "large" purchase after a repayment: >= 50% of the limit
RESPEND_HOURS = 24.0


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


def cashout_like(flags: PurchaseFlags) -> np.ndarray:
    """Purchases shaped like a cash-out: a round or patterned amount near the available line."""
    return flags.near_limit & (flags.is_round | flags.is_patterned)


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return cash-out features as (n_asof, n_acc) arrays ({} without transactions).

    Counts that need a credit limit are NaN for accounts with no statement known in the
    last 36 months (or no statements column). ``flags`` must cover the last 36 months of
    every as-of date (the long-memory features read them).
    """
    tx, flags, st = ctx.transactions, ctx.flags, ctx.statements
    grid, n_acc, n_asof = ctx.grid, ctx.n_acc, ctx.n_asof
    if tx is None or flags is None:
        return {}
    out = merchant_risk.compute(ctx)
    out.update(nan_block([f.name for f in FEATURES if f.name not in out], n_asof, n_acc))
    pur = tx.is_purchase
    a = tx.acct
    # every purchase cube is read over 6-month windows only: cubes start at their first period
    since = min(grid.period_range(k, 6)[0] for k in range(n_asof))
    p = np.where(pur & (tx.period >= since), tx.period - since, -1)
    has_limit = ~np.isnan(flags.limit)
    big = pur & has_limit & (tx.amount >= RESPEND_FRACTION * flags.limit)
    big_after_repay = big & ~np.isnan(flags.respend_hours)
    loop = big_after_repay & (flags.respend_hours <= RESPEND_HOURS)
    # purchase counts, one layer each (counts add up exactly in any order: plain sums)
    counts = cubes(
        grid,
        n_acc,
        cells(n_acc, a, p),
        [
            None, flags.is_round, flags.is_patterned, has_limit, flags.near_limit,
            flags.near_limit & flags.is_round, loop, flags.is_night,
        ],
        first=since,
    )  # fmt: skip
    for k in range(n_asof):
        cols = grid.month_columns(k, 6) - since
        n, rnd, pat, eligible, nl, rnl, loops, night = window(counts, cols).sum(0)
        out["round_share_6m"][k] = safe_divide(rnd, n)
        out["patterned_share_6m"][k] = safe_divide(pat, n)
        out["near_limit_count_6m"][k] = nl
        out["near_limit_share_6m"][k] = safe_divide(nl, eligible)
        out["round_near_limit_count_6m"][k] = rnl
        out["repay_respend_count_6m"][k] = loops
        out["night_share_6m"][k] = safe_divide(night, n)
        lo, hi = grid.period_range(k, 6)
        sel = big_after_repay & (tx.period >= lo) & (tx.period <= hi)
        out["repay_respend_median_hours_6m"][k] = _median_by_account(
            a[sel], flags.respend_hours[sel], n_acc
        )
        recent = window(counts, grid.month_columns(k, 4) - since)[:, 0]
        out["burst_after_quiet"][k] = (recent[-1] > 0) & (recent[:-1].sum(0) == 0)
    out.update(_long_memory(tx, flags, grid, n_acc))
    if st is None:
        no_limit = np.ones((n_asof, n_acc), dtype=bool)
    else:
        c_st = cube(grid, n_acc, cells(n_acc, st.acct, st.period))
        no_limit = np.stack(
            [
                window(c_st, grid.month_columns(k, LOOKBACK_MONTHS)).sum(0) == 0
                for k in range(n_asof)
            ]
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
    shaped = (flags.is_round | flags.is_patterned) & ~np.isnan(flags.limit)
    line_share = np.where(shaped, safe_divide(tx.amount, flags.limit), 0.0)
    # cash-out-like purchases and the share of the line the shaped ones took, per month
    monthly = cubes(grid, n_acc, cells(n_acc, tx.acct, p), [cashout_like(flags), line_share], first)
    months = np.arange(LOOKBACK_MONTHS)[:, None]
    since = np.full((n_asof, n_acc), np.nan, dtype=np.float32)
    count = np.zeros((n_asof, n_acc), dtype=np.float32)
    for k in range(n_asof):
        cols = grid.month_columns(k, LOOKBACK_MONTHS) - first
        like, share = window(monthly, cols).transpose(1, 0, 2)  # (month, account) each
        seen = (like > 0) | (share >= NEAR_LIMIT_FRACTION)
        last = np.where(seen, months, -1).max(0)
        since[k] = np.where(last >= 0, LOOKBACK_MONTHS - 1 - last, np.nan)
        count[k] = seen.sum(0)
    return {"months_since_cashout_like": since, "cashout_like_months_36m": count}


feature = declarer("cashout", known_at=KNOWN_AT_TRANSACTION)
# fmt: off
FEATURES = (
    feature("round_share_6m", "cashout", "last 6 months", 1, "share",
            "Share of purchases whose amount is a multiple of 100.",
            "In the last 6 months, {value:z.0%} of your purchases were round amounts such as "
            "500 or 1000."),
    feature("patterned_share_6m", "cashout", "last 6 months", 1, "share",
            "Share of purchases with an integer amount >= 100 ending in 88, 98 or 99 (998 / 1999 / "
            "588 style).",
            "In the last 6 months, {value:z.0%} of your purchases were amounts such as 998 or "
            "1988."),
    feature("near_limit_count_6m", "cashout", "last 6 months", 1, "count",
            "Purchases >= 0.8 x available line (limit - billed of the last known statement, floored"
            " at 10% of the limit).",
            "In the last 6 months you made {value:z.0f} purchase{s} that used up nearly all "
            "of your available credit."),
    feature("near_limit_share_6m", "cashout", "last 6 months", 1, "share",
            "near_limit_count / purchases made with a known limit.",
            "In the last 6 months, {value:z.0%} of your purchases used up nearly all of your "
            "available credit."),
    feature("round_near_limit_count_6m", "cashout", "last 6 months", 1, "count",
            "Purchases both round (multiple of 100) and near the available line.",
            "In the last 6 months you made {value:z.0f} round-amount purchase{s} that used up "
            "nearly all of your available credit."),
    feature("repay_respend_count_6m", "cashout", "last 6 months", 1, "count",
            "Purchases >= 0.5 x limit made within 24 h after a repayment.",
            "In the last 6 months you made {value:z.0f} large purchase{s} within a day of a "
            "repayment."),
    feature("repay_respend_median_hours_6m", "cashout", "last 6 months", -1, "hours",
            "Median hours from the latest repayment to each purchase >= 0.5 x limit.",
            "Your large purchases came typically {value:z.0f} hour{s} after a repayment."),
    feature("months_since_cashout_like", "cashout", "last 36 months", -1, "months",
            "Months from the last cash-out-like month to the as-of month: a month with a round "
            "(multiple of 100) or patterned (integer >= 100 ending in 88, 98 or 99) purchase "
            ">= 0.8 x available line, or whose round and patterned purchases add up to >= 0.8 x "
            "the credit limit; NaN if none in 36 months.",
            "The last month in which you used up nearly all of your credit with round-amount "
            "purchases was {value:z.0f} month{s} ago.",
            zero="This month you used up nearly all of your credit with round-amount purchases.",
            missing="In the last 3 years you have not used up nearly all of your credit with "
                    "round-amount purchases."),
    feature("cashout_like_months_36m", "cashout", "last 36 months", 1, "months",
            "Cash-out-like months (as in months_since_cashout_like) among the last 36.",
            "In {value:z.0f} of the last 36 months you used up nearly all of your credit with "
            "round-amount purchases.",
            zero="In the last 3 years you have not used up nearly all of your credit with "
                 "round-amount purchases."),
    feature("top1_merchant_share_6m", "cashout", "last 6 months", 0, "share",
            "Largest single merchant's share of purchase spend.",
            "In the last 6 months, {value:z.0%} of your spending went to a single shop."),
    feature("merchant_hhi_6m", "cashout", "last 6 months", 0, "index",
            "Herfindahl index of purchase spend over merchants (sum of squared shares).",
            "In the last 6 months your spending went to very few shops."),
    feature("night_share_6m", "cashout", "last 6 months", 1, "share",
            "Share of purchases made between 00:00 and 05:00.",
            "In the last 6 months, {value:z.0%} of your purchases were made between midnight "
            "and 5 am."),
    feature("category_amount_ratio_6m", "cashout", "last 6 months", 1, "ratio",
            "Geometric mean of amount / geometric-mean amount of the merchant category (category "
            "statistics over 36 months, like merchant risk).",
            "Your purchases were {value:z.1f} times the usual amount for their type of shop.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("burst_after_quiet", "cashout", "last 4 months", 0, "flag",
            "1 if the as-of month has purchases after 3 months without any, else 0.",
            "You made purchases this month after 3 months without any.",
            zero="You made no sudden purchases this month after a quiet spell."),
    feature("merchant_round_nl_share_wmean_6m", "cashout", "last 6 months", 1, "share",
            "Spend-weighted mean over the account's merchants of the merchant's share of volume "
            "that is round and near the payer's limit (merchant stats over 36 months).",
            "The shops you used had {value:z.0%} of their sales as round amounts that emptied "
            "the buyer's credit line.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("merchant_round_nl_share_max_6m", "cashout", "last 6 months", 1, "share",
            "Maximum of the same merchant share over the account's merchants.",
            "A shop you used had {value:z.0%} of its sales as round amounts that emptied the "
            "buyer's credit line.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("merchant_payers_wmean_6m", "cashout", "last 6 months", 0, "payers",
            "Spend-weighted mean number of distinct payers of the account's merchants.",
            "The shops you used had on average {value:z,.0f} paying customer{s}.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("merchant_age_months_wmean_6m", "cashout", "last 6 months", 0, "months",
            "Spend-weighted mean months since the merchant's first payment seen (<= 35).",
            "The shops you used had been taking payments for {value:z,.0f} month{s} on "
            "average.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("merchant_night_payers_wmean_6m", "cashout", "last 6 months", 1, "share",
            "Spend-weighted mean share of a merchant's payers who paid it between 00:00-05:00.",
            "On average, {value:z.0%} of the customers of the shops you used paid them at "
            "night.",
            known_at=KNOWN_AT_MERCHANTS),
    feature("merchant_night_payers_max_6m", "cashout", "last 6 months", 1, "share",
            "Maximum over the account's merchants of the night-payer share.",
            "A shop you used was paid at night by {value:z.0%} of its customers.",
            known_at=KNOWN_AT_MERCHANTS),
)
# fmt: on
