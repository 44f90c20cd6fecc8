"""Activity / dormancy family: recency, active months, spend and its trend."""

from __future__ import annotations

import numpy as np

from risk_model.features.arrays import nan_block, rows, rowsum
from risk_model.features.monthly import LOOKBACK_MONTHS, Grid, Transactions, cells, cube

NAMES = (
    "months_since_purchase", "active_months_3m", "active_months_6m", "active_months_12m",
    "spend_3m", "spend_6m", "spend_12m", "purchases_3m", "purchases_12m",
    "spend_trend_3v3", "count_trend_3v3", "days_since_txn",
)  # fmt: skip


def _trend(recent: np.ndarray, before: np.ndarray) -> np.ndarray:
    tot = recent + before
    positive = tot > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, (recent - before) / np.where(positive, tot, 1.0), np.nan)


def compute(tx: Transactions | None, grid: Grid, n_acc: int) -> dict[str, np.ndarray]:
    """Return activity features as (n_asof, n_acc) arrays ({} without a transactions column)."""
    if tx is None:
        return {}
    n_asof = len(grid.asof_day)
    out = nan_block(NAMES, n_asof, n_acc)
    pur = np.where(tx.is_purchase, tx.period, -1)
    at_pur = cells(n_acc, tx.acct, pur)
    c_n = cube(grid, n_acc, at_pur)
    c_amt = cube(grid, n_acc, at_pur, tx.amount)
    at_any = cells(n_acc, tx.acct, tx.period)
    c_last = cube(grid, n_acc, at_any, tx.day.astype(np.float64), how="max")
    months = np.arange(LOOKBACK_MONTHS)[:, None]
    for k in range(n_asof):
        cols = grid.month_columns(k, LOOKBACK_MONTHS)
        n = rows(c_n, cols)
        amt = rows(c_amt, cols)
        last = np.where(n > 0, months, -1).max(0)
        out["months_since_purchase"][k] = np.where(last >= 0, LOOKBACK_MONTHS - 1 - last, np.nan)
        spend = {w: rowsum(amt[-w:]) for w in (3, 6, 12)}
        count = {w: rowsum(n[-w:]) for w in (3, 12)}
        for w in (3, 6, 12):
            out[f"active_months_{w}m"][k] = (n[-w:] > 0).sum(0)
            out[f"spend_{w}m"][k] = spend[w]
        for w in (3, 12):
            out[f"purchases_{w}m"][k] = count[w]
        out["spend_trend_3v3"][k] = _trend(spend[3], rowsum(amt[-6:-3]))
        out["count_trend_3v3"][k] = _trend(count[3], rowsum(n[-6:-3]))
        lastday = rows(c_last, cols).max(0)
        out["days_since_txn"][k] = np.where(
            np.isfinite(lastday), grid.asof_day[k] - lastday, np.nan
        )
    return out
