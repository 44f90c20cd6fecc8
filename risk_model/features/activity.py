"""Activity / dormancy family: recency, active months, spend and its trend."""

from __future__ import annotations

import numpy as np

from risk_model.features.arrays import nan_block, rowsum, rowsums, safe_divide, window
from risk_model.features.feature import KNOWN_AT_TRANSACTION, Context, declarer
from risk_model.features.monthly import LOOKBACK_MONTHS, cells, cube, cubes


def _trend(recent: np.ndarray, before: np.ndarray) -> np.ndarray:
    return safe_divide(recent - before, recent + before)


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return activity features as (n_asof, n_acc) arrays ({} without a transactions column)."""
    tx, grid, n_acc, n_asof = ctx.transactions, ctx.grid, ctx.n_acc, ctx.n_asof
    if tx is None:
        return {}
    out = nan_block([f.name for f in FEATURES], n_asof, n_acc)
    pur = np.where(tx.is_purchase, tx.period, -1)
    at_pur = cells(n_acc, tx.acct, pur)
    purchases = cubes(grid, n_acc, at_pur, [None, tx.amount])  # count and amount layers
    at_any = cells(n_acc, tx.acct, tx.period)
    c_last = cube(grid, n_acc, at_any, tx.day.astype(np.float64), how="max")
    months = np.arange(LOOKBACK_MONTHS)[:, None]
    for k in range(n_asof):
        cols = grid.month_columns(k, LOOKBACK_MONTHS)
        n, amt = window(purchases, cols).transpose(1, 0, 2)  # (month, account) each
        last = np.where(n > 0, months, -1).max(0)
        out["months_since_purchase"][k] = np.where(last >= 0, LOOKBACK_MONTHS - 1 - last, np.nan)
        spend_before, spend_recent = rowsums(amt[-6:-3], amt[-3:])
        spend = {3: spend_recent, 6: rowsum(amt[-6:]), 12: rowsum(amt[-12:])}
        count = {w: n[-w:].sum(0) for w in (3, 12)}  # whole numbers: exact in any order
        for w in (3, 6, 12):
            out[f"active_months_{w}m"][k] = (n[-w:] > 0).sum(0)
            out[f"spend_{w}m"][k] = spend[w]
        for w in (3, 12):
            out[f"purchases_{w}m"][k] = count[w]
        out["spend_trend_3v3"][k] = _trend(spend_recent, spend_before)
        out["count_trend_3v3"][k] = _trend(count[3], n[-6:-3].sum(0))
        lastday = window(c_last, cols).max(0)
        out["days_since_txn"][k] = np.where(
            np.isfinite(lastday), grid.asof_day[k] - lastday, np.nan
        )
    return out


feature = declarer("activity", known_at=KNOWN_AT_TRANSACTION)
# fmt: off
FEATURES = (
    feature("months_since_purchase", "dormancy", "last 36 months", 1, "months",
            "Months from the last purchase to the as-of month; NaN if none in 36 months.",
            "You have not made a purchase in {value:z.0f} month{s}.",
            zero="You made a purchase this month.",
            missing="You have not made a purchase in the last 3 years."),
    feature("active_months_3m", "dormancy", "last 3 months", -1, "months",
            "Months with at least one purchase in the last 3 months.",
            "You used your credit line in {value:z.0f} of the last 3 months."),
    feature("active_months_6m", "dormancy", "last 6 months", -1, "months",
            "Months with at least one purchase in the last 6 months.",
            "You used your credit line in {value:z.0f} of the last 6 months."),
    feature("active_months_12m", "dormancy", "last 12 months", -1, "months",
            "Months with at least one purchase in the last 12 months.",
            "You used your credit line in {value:z.0f} of the last 12 months."),
    feature("spend_3m", "dormancy", "last 3 months", 0, "CNY",
            "Sum of purchase amounts in the last 3 months.",
            "You spent CNY {value:z,.0f} with your credit line in the last 3 months."),
    feature("spend_6m", "dormancy", "last 6 months", 0, "CNY",
            "Sum of purchase amounts in the last 6 months.",
            "You spent CNY {value:z,.0f} with your credit line in the last 6 months."),
    feature("spend_12m", "dormancy", "last 12 months", 0, "CNY",
            "Sum of purchase amounts in the last 12 months.",
            "You spent CNY {value:z,.0f} with your credit line in the last 12 months."),
    feature("purchases_3m", "dormancy", "last 3 months", 0, "count",
            "Number of purchases in the last 3 months.",
            "You made {value:z.0f} purchase{s} in the last 3 months."),
    feature("purchases_12m", "dormancy", "last 12 months", 0, "count",
            "Number of purchases in the last 12 months.",
            "You made {value:z.0f} purchase{s} in the last 12 months."),
    feature("spend_trend_3v3", "dormancy", "last 6 months", -1, "ratio",
            "(spend last 3 months - spend 3 months before) / their sum; NaN if both 0.",
            "Your spending of the last 3 months changed by {value:+z.0%} from the 3 months "
            "before.",
            missing="You have made no purchases in the last 6 months."),
    feature("count_trend_3v3", "dormancy", "last 6 months", -1, "ratio",
            "Same trend as spend_trend_3v3 for the number of purchases.",
            "The number of your purchases of the last 3 months changed by {value:+z.0%} from "
            "the 3 months before.",
            missing="You have made no purchases in the last 6 months."),
    feature("days_since_txn", "dormancy", "last 36 months", 1, "days",
            "Days from the last transaction of any kind to the as-of date.",
            "Your last payment or purchase was {value:z.0f} day{s} ago.",
            zero="You made a payment or purchase today."),
)
# fmt: on
