"""Summary figures of a world, accumulated chunk by chunk (memory bounded)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.synthetic.config import WorldConfig


@dataclass(frozen=True)
class WorldStats:
    """Counts of a world or of a part of it; add parts with ``+``.

    Arrays are indexed by window month ``t`` (and cause in ``contract.CAUSES`` order).
    """

    open_at_end: np.ndarray  # accounts open at the end of t (truth rows)
    p_close_sum: np.ndarray  # sum of truth p_close at t
    p_close_var: np.ndarray  # sum of p (1 - p) at t
    p_cause_sum: np.ndarray  # (t, cause) sum of truth cause probabilities
    closed_within: np.ndarray  # open at end of t and closed within the horizon
    closed_cause_within: np.ndarray  # (t, cause)
    closures: np.ndarray  # (t, cause) closures during month t
    accounts: int
    cashout_accounts: int

    def __add__(self, other: WorldStats) -> WorldStats:
        return WorldStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def monthly(self, config: WorldConfig) -> pd.DataFrame:
        """Per-month figures: open accounts, closures by cause, rates and calibration.

        Parameters
        ----------
        config : WorldConfig
            World parameters (start month and horizon).

        Returns
        -------
        pandas.DataFrame
            One row per window month. ``closure_rate`` is closures in the month over accounts
            open during it; ``horizon_rate`` is the realised share of accounts open at the
            month end closed within the horizon (NaN when not fully observed), ``mean_p_close``
            the mean truth and ``z`` their difference in standard errors.
        """
        n_months = self.open_at_end.shape[0]
        months = pd.period_range(config.start, periods=n_months, freq="M").astype(str)
        observed = np.arange(n_months) + config.horizon < n_months
        closures = self.closures.sum(1)
        n = np.maximum(self.open_at_end, 1)
        rate = np.where(observed, self.closed_within / n, np.nan)
        se = np.sqrt(self.p_close_var) / n
        frame = pd.DataFrame(
            {
                "month": months,
                "open_at_end": self.open_at_end,
                "closures": closures,
                "closure_rate": closures / np.maximum(self.open_at_end + closures, 1),
                "horizon_rate": rate,
                "mean_p_close": self.p_close_sum / n,
                "z": np.where(
                    observed, (rate - self.p_close_sum / n) / np.maximum(se, 1e-12), np.nan
                ),
            }
        )
        for i, cause in enumerate(C.CAUSES):
            frame[f"closed_{cause}"] = self.closures[:, i]
        return frame

    def overall(self, config: WorldConfig) -> dict[str, float]:
        """Headline figures over the months whose horizon is fully observed."""
        observed = np.arange(self.open_at_end.shape[0]) + config.horizon < len(self.open_at_end)
        n = max(int(self.open_at_end[observed].sum()), 1)
        out = {
            "accounts": float(self.accounts),
            "closed_accounts": float(self.closures.sum()),
            "cashout_share": self.cashout_accounts / max(self.accounts, 1),
            "horizon_rate": float(self.closed_within[observed].sum() / n),
            "mean_p_close": float(self.p_close_sum[observed].sum() / n),
        }
        for i, cause in enumerate(C.CAUSES):
            out[f"closures_{cause}"] = float(self.closures[:, i].sum())
        return out


def world_stats(
    config: WorldConfig, closures: pa.Table, truth: pa.Table, accounts: int, cashout_accounts: int
) -> WorldStats:
    """Count the figures of :class:`WorldStats` for one chunk (or a whole world).

    Parameters
    ----------
    config : WorldConfig
        World parameters.
    closures, truth : pyarrow.Table
        ``CLOSURES_SCHEMA`` and ``TRUTH_SCHEMA`` tables of the same accounts.
    accounts, cashout_accounts : int
        Number of accounts, and of accounts with a cash-out episode.

    Returns
    -------
    WorldStats
        Counts for these accounts.
    """
    n_months, n_causes = config.n_months, len(C.CAUSES)
    start = np.datetime64(config.start, "M")
    as_of = truth[C.AS_OF].to_numpy().astype("datetime64[M]")
    t = (as_of - start).astype(np.int64)
    p = truth[C.P_CLOSE].to_numpy()
    where = pc.index_in(truth[C.ACCOUNT_ID], closures[C.ACCOUNT_ID]).to_numpy(zero_copy_only=False)
    closed = ~np.isnan(where.astype(np.float64))
    pos = np.where(closed, np.nan_to_num(where.astype(np.float64)), 0).astype(np.int64)
    closure_month = (closures[C.CLOSURE_DATE].to_numpy().astype("datetime64[M]") - start).astype(
        np.int64
    )
    cause = pc.index_in(closures[C.CAUSE], pa.array(C.CAUSES)).to_numpy(zero_copy_only=False)
    cause = np.nan_to_num(cause.astype(np.float64), nan=0).astype(np.int64)
    gap = np.where(closed, closure_month[pos] - t, 0) if len(closures) else np.zeros_like(t)
    within = closed & (gap >= 1) & (gap <= config.horizon)
    row_cause = cause[pos] if len(closures) else np.zeros_like(t)
    p_cause = np.stack([truth[col].to_numpy() for col in C.CAUSE_PROBABILITY_COLUMNS], 1)
    cells = n_months * n_causes
    return WorldStats(
        open_at_end=np.bincount(t, minlength=n_months),
        p_close_sum=np.bincount(t, weights=p, minlength=n_months),
        p_close_var=np.bincount(t, weights=p * (1 - p), minlength=n_months),
        p_cause_sum=np.stack(
            [np.bincount(t, weights=p_cause[:, i], minlength=n_months) for i in range(n_causes)], 1
        ),
        closed_within=np.bincount(t, weights=within, minlength=n_months),
        closed_cause_within=np.bincount(
            t[within] * n_causes + row_cause[within], minlength=cells
        ).reshape(n_months, n_causes),
        closures=np.bincount(closure_month * n_causes + cause, minlength=cells).reshape(
            n_months, n_causes
        ),
        accounts=accounts,
        cashout_accounts=cashout_accounts,
    )
