"""Overdue family: days past due, payment ratios, minimum-only months, utilisation."""

from __future__ import annotations

import numpy as np

from risk_model.features.arrays import (
    last_index,
    nan_block,
    rowsum,
    rowsums,
    safe_divide,
    take_at,
    take_last,
    window,
)
from risk_model.features.feature import (
    KNOWN_AT_PAYMENT,
    KNOWN_AT_STATEMENT,
    Context,
    declarer,
)
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid, Statements, cells, cube, cubes

_DPD_LEVELS = (1, 30, 90)
_DPD_COLUMN = np.array(_DPD_LEVELS, dtype=np.float64)[:, None, None]
_MIN_ONLY_TOLERANCE = 0.01  # paid within min_due + 1% of the bill counts as "minimum only"


def _slope(y: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Least-squares slope of y over row index, using present rows only (>= 2)."""
    x = np.arange(y.shape[0], dtype=np.float64)[:, None]
    w = present.astype(np.float64)
    yz = np.where(present, y, 0.0)
    n, sx, sxx = w.sum(0), (w * x).sum(0), (w * x * x).sum(0)  # whole numbers: exact sums
    sy, sxy = rowsums(yz, x * yz)
    den = n * sxx - sx * sx
    return safe_divide(n * sxy - sx * sy, np.where(n >= 2, den, np.nan))  # NaN below 2 points


def _statement_cubes(
    st: Statements, grid: Grid, n_acc: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the statements' month-to-date cubes, by statement month.

    The sums, one layer each: count, billed, utilisation, count with a utilisation, over
    90%, limit; then the largest days past due and the largest utilisation.
    """
    util = safe_divide(st.billed, st.limit)
    has_util = ~np.isnan(util)
    at_p = cells(n_acc, st.acct, st.period)
    layers = [
        None, st.billed, np.where(has_util, util, 0.0), has_util,
        np.where(has_util, util > 0.9, False), st.limit,
    ]  # fmt: skip
    sums = cubes(grid, n_acc, at_p, layers)
    dpd = cube(grid, n_acc, at_p, st.dpd, how="max")
    util_max = cube(grid, n_acc, at_p, np.where(has_util, util, -np.inf), how="max")
    return sums, dpd, util_max


def _payment_cubes(st: Statements, grid: Grid, n_acc: int) -> np.ndarray:
    """Return the payments' month-to-date sums, by due month (a payment is known from then).

    One layer each: count, paid ratio, minimum-only and below-minimum payments, of bills
    > 0 with a recorded payment.
    """
    paid_known = ~np.isnan(st.paid) & (st.billed > 0)
    pay_p = np.where(paid_known, st.due_period, -1)
    ratio = safe_divide(st.paid, st.billed).clip(0.0, 1.0)  # NaN where unpaid: not a layer value
    min_only = (
        (st.min_due < st.billed)
        & (st.paid >= st.min_due)
        & (st.paid < st.min_due + _MIN_ONLY_TOLERANCE * st.billed)
    )
    below_min = st.paid < st.min_due - 1e-9
    layers = [None, np.where(paid_known, ratio, 0.0), min_only & paid_known, below_min & paid_known]
    return cubes(grid, n_acc, cells(n_acc, st.acct, pay_p), layers)


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return overdue features as (n_asof, n_acc) arrays ({} without a statements column)."""
    st, grid, n_acc, n_asof = ctx.statements, ctx.grid, ctx.n_acc, ctx.n_asof
    if st is None:
        return {}
    statements, c_dpd, c_util_max = _statement_cubes(st, grid, n_acc)
    payments = _payment_cubes(st, grid, n_acc)
    out = nan_block([f.name for f in FEATURES], n_asof, n_acc)

    for k in range(n_asof):
        cols = grid.month_columns(k, LOOKBACK_MONTHS)
        # (month, account) views of each layer over the 36 months; counts add up exactly
        # in any order (plain sums), amounts and ratios in month order (rowsum)
        n, billed, util_sum, un, u90, limit = window(statements, cols).transpose(1, 0, 2)
        pn, pr, min_only_n, below_n = window(payments, cols).transpose(1, 0, 2)
        has = n > 0
        dpd = window(c_dpd, cols)
        w12 = slice(-12, None)
        out["dpd_now"][k] = take_last(dpd[w12], has[w12])
        late = has[w12] & (dpd[w12] >= _DPD_COLUMN)  # (level, last 12 months, account)
        for w in (3, 6, 12):
            win = slice(-w, None)
            any_w = has[win].any(0)
            out[f"dpd_max_{w}m"][k] = np.where(any_w, dpd[win].max(0), np.nan)
            late_months = late[:, win].sum(1)  # the three levels in one reduction
            for i, t in enumerate(_DPD_LEVELS):
                out[f"months_dpd{t}_{w}m"][k] = late_months[i]
        late = has & (dpd >= 1)
        last_late = np.where(late, np.arange(LOOKBACK_MONTHS)[:, None], -1).max(0)
        out["months_since_dpd"][k] = np.where(
            last_late >= 0, LOOKBACK_MONTHS - 1 - last_late, np.nan
        )
        last_paid = last_index(pn > 0)
        out["paid_ratio_last"][k] = safe_divide(take_at(pr, last_paid), take_at(pn, last_paid))
        for w in (3, 6):
            out[f"paid_ratio_mean_{w}m"][k] = safe_divide(rowsum(pr[-w:]), pn[-w:].sum(0))
        out["min_only_months_6m"][k] = min_only_n[-6:].sum(0)
        for w in (6, 12):
            out[f"below_min_months_{w}m"][k] = below_n[-w:].sum(0)
        um = safe_divide(util_sum[-12:], un[-12:])
        out["util_last"][k] = take_last(um, un[-12:] > 0)
        out["util_mean_6m"][k] = safe_divide(rowsum(util_sum[-6:]), un[-6:].sum(0))
        umax = window(c_util_max, cols[-6:]).max(0)
        out["util_max_6m"][k] = np.where(np.isfinite(umax), umax, np.nan)
        out["util_slope_6m"][k] = _slope(um[-6:], un[-6:] > 0)
        out["months_util90_6m"][k] = (u90[-6:] > 0).sum(0)
        b = billed[-6:]
        nb = n[-6:]
        billed_before, billed_recent = rowsums(b[:3], b[3:])  # the 3 months before, the last 3
        recent = safe_divide(billed_recent, nb[-3:].sum(0))
        before = safe_divide(billed_before, nb[:3].sum(0))
        out["balance_growth_6m"][k] = np.log1p(recent) - np.log1p(before)
        lim = safe_divide(limit[-6:], nb)
        first = np.where(nb > 0, np.arange(6)[:, None], 99).min(0)
        first_lim = lim[np.minimum(first, 5), np.arange(n_acc)]
        out["limit_change_6m"][k] = safe_divide(take_last(lim, nb > 0), first_lim) - 1.0
        out["n_statements_36m"][k] = n.sum(0)

    return out


feature = declarer("overdue", known_at=KNOWN_AT_STATEMENT)
# fmt: off
FEATURES = (
    feature("dpd_now", "overdue", "at as-of", 1, "days",
            "Days past due on the latest statement known in the last 12 months.",
            "Your latest statement was {value:z.0f} day{s} past due.",
            zero="Your latest statement is not past due."),
    feature("dpd_max_3m", "overdue", "last 3 months", 1, "days",
            "Maximum days past due over statements of the last 3 months.",
            "A statement of yours in the last 3 months was {value:z.0f} day{s} past due.",
            zero="None of your statements of the last 3 months was past due."),
    feature("dpd_max_6m", "overdue", "last 6 months", 1, "days",
            "Maximum days past due over statements of the last 6 months.",
            "A statement of yours in the last 6 months was {value:z.0f} day{s} past due.",
            zero="None of your statements of the last 6 months was past due."),
    feature("dpd_max_12m", "overdue", "last 12 months", 1, "days",
            "Maximum days past due over statements of the last 12 months.",
            "A statement of yours in the last 12 months was {value:z.0f} day{s} past due.",
            zero="None of your statements of the last 12 months was past due."),
    feature("months_dpd1_3m", "overdue", "last 3 months", 1, "months",
            "Statement months with days past due >= 1 in the last 3 months.",
            "In the last 3 months, {value:z.0f} of your monthly statements went past due."),
    feature("months_dpd1_6m", "overdue", "last 6 months", 1, "months",
            "Statement months with days past due >= 1 in the last 6 months.",
            "In the last 6 months, {value:z.0f} of your monthly statements went past due."),
    feature("months_dpd1_12m", "overdue", "last 12 months", 1, "months",
            "Statement months with days past due >= 1 in the last 12 months.",
            "In the last 12 months, {value:z.0f} of your monthly statements went past due."),
    feature("months_dpd30_3m", "overdue", "last 3 months", 1, "months",
            "Statement months with days past due >= 30 in the last 3 months.",
            "In the last 3 months, {value:z.0f} of your monthly statements went 30 or more "
            "days past due."),
    feature("months_dpd30_6m", "overdue", "last 6 months", 1, "months",
            "Statement months with days past due >= 30 in the last 6 months.",
            "In the last 6 months, {value:z.0f} of your monthly statements went 30 or more "
            "days past due."),
    feature("months_dpd30_12m", "overdue", "last 12 months", 1, "months",
            "Statement months with days past due >= 30 in the last 12 months.",
            "In the last 12 months, {value:z.0f} of your monthly statements went 30 or more "
            "days past due."),
    feature("months_dpd90_3m", "overdue", "last 3 months", 1, "months",
            "Statement months with days past due >= 90 in the last 3 months.",
            "In the last 3 months, {value:z.0f} of your monthly statements went 90 or more "
            "days past due."),
    feature("months_dpd90_6m", "overdue", "last 6 months", 1, "months",
            "Statement months with days past due >= 90 in the last 6 months.",
            "In the last 6 months, {value:z.0f} of your monthly statements went 90 or more "
            "days past due."),
    feature("months_dpd90_12m", "overdue", "last 12 months", 1, "months",
            "Statement months with days past due >= 90 in the last 12 months.",
            "In the last 12 months, {value:z.0f} of your monthly statements went 90 or more "
            "days past due."),
    feature("months_since_dpd", "overdue", "last 36 months", -1, "months",
            "Months from the last statement with days past due > 0 to the as-of month; NaN if none "
            "in 36 months.",
            "Your last late payment was {value:z.0f} month{s} ago.",
            zero="Your statement this month is past due.",
            missing="You have had no late payment in the last 3 years."),
    feature("paid_ratio_last", "overdue", "at as-of", -1, "ratio",
            "amount_paid / billed_amount (clipped to 0..1) of the latest statement past its due "
            "date (billed > 0).",
            "You paid {value:z.0%} of your latest bill.",
            known_at=KNOWN_AT_PAYMENT),
    feature("paid_ratio_mean_3m", "overdue", "last 3 months", -1, "ratio",
            "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 3 months.",
            "Over the last 3 months you paid on average {value:z.0%} of your bills.",
            known_at=KNOWN_AT_PAYMENT),
    feature("paid_ratio_mean_6m", "overdue", "last 6 months", -1, "ratio",
            "Mean paid/billed ratio (0..1) of statements whose due date fell in the last 6 months.",
            "Over the last 6 months you paid on average {value:z.0%} of your bills.",
            known_at=KNOWN_AT_PAYMENT),
    feature("min_only_months_6m", "overdue", "last 6 months", 1, "months",
            "Statements (due in the window) paid at the minimum only (min_due <= paid < min_due + "
            "1% of billed, min_due < billed).",
            "You paid only the minimum in {value:z.0f} of the last 6 months.",
            known_at=KNOWN_AT_PAYMENT),
    feature("below_min_months_6m", "overdue", "last 6 months", 1, "months",
            "Statements due in the last 6 months paid below the minimum due.",
            "You paid less than the minimum in {value:z.0f} of the last 6 months.",
            known_at=KNOWN_AT_PAYMENT),
    feature("below_min_months_12m", "overdue", "last 12 months", 1, "months",
            "Statements due in the last 12 months paid below the minimum due.",
            "You paid less than the minimum in {value:z.0f} of the last 12 months.",
            known_at=KNOWN_AT_PAYMENT),
    feature("util_last", "overdue", "at as-of", 1, "ratio",
            "billed / credit limit of the latest statement in the last 12 months.",
            "Your latest bill used {value:z.0%} of your credit limit."),
    feature("util_mean_6m", "overdue", "last 6 months", 1, "ratio",
            "Mean billed / limit over statements of the last 6 months.",
            "Over the last 6 months your bills used on average {value:z.0%} of your credit "
            "limit."),
    feature("util_max_6m", "overdue", "last 6 months", 1, "ratio",
            "Maximum billed / limit over statements of the last 6 months.",
            "Your highest bill of the last 6 months used {value:z.0%} of your credit limit."),
    feature("util_slope_6m", "overdue", "last 6 months", 0, "ratio/month",
            "Least-squares slope of billed / limit against month over the last 6 months (>= 2 "
            "statements).",
            "The share of your credit limit you use changed by {value:+z.0%} a month over the "
            "last 6 months."),
    feature("months_util90_6m", "cashout", "last 6 months", 1, "months",
            "Statements of the last 6 months with billed / limit > 0.9.",
            "Your credit line was more than 90% used in {value:z.0f} of the last 6 months."),
    feature("balance_growth_6m", "overdue", "last 6 months", 0, "log ratio",
            "log((mean billed, last 3 months + 1) / (mean billed, 3 months before + 1)).",
            "Your bills of the last 3 months were very different from those of the 3 months "
            "before."),
    feature("limit_change_6m", "overdue", "last 6 months", 0, "ratio",
            "Latest limit / earliest limit in the last 6 months - 1.",
            "Your credit limit changed by {value:+z.0%} over the last 6 months."),
    feature("n_statements_36m", "overdue", "last 36 months", 0, "count",
            "Statements known in the last 36 months (history length).",
            "You have {value:z.0f} monthly statement{s} on record from the last 3 years."),
)
# fmt: on
