"""Per account-month calendar of a block: which months are active and their day ranges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.accounts import Accounts
from risk_model.synthetic.config import WorldConfig
from risk_model.synthetic.paths import Paths

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Calendar:
    """Account-month grid of a block.

    Parameters
    ----------
    month_first : numpy.ndarray
        ``(n_months + 1,)`` first day of each window month (plus the month after the window).
    active : numpy.ndarray
        ``(n, n_months)`` account is open for at least part of the month.
    first_day, last_day : numpy.ndarray
        ``(n, n_months)`` first and last usable day offset in the month (opening and closure
        days bound them).
    """

    month_first: np.ndarray
    active: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray

    def month_seconds(self) -> np.ndarray:
        """Epoch seconds of each month start, ``(n_months + 1,)``."""
        return self.month_first.astype("datetime64[s]").astype(np.int64)


def build_calendar(config: WorldConfig, accounts: Accounts, paths: Paths) -> Calendar:
    """Build the account-month grid of a block from opening and closure dates."""
    n_months = config.n_months
    months = np.arange(n_months)
    month_first = (np.datetime64(config.start, "M") + np.arange(n_months + 1)).astype(
        "datetime64[D]"
    )
    days = np.diff(month_first).astype(np.int64)
    active = (months[None, :] >= accounts.open_month[:, None]) & (
        months[None, :] <= paths.closure_month[:, None]
    )
    first_day = np.zeros((accounts.n, n_months), dtype=np.int64)
    last_day = np.broadcast_to(days - 1, (accounts.n, n_months)).copy()
    opening = (accounts.open_month >= 0) & (accounts.open_month < n_months)
    rows = np.flatnonzero(opening)
    cols = accounts.open_month[rows]
    first_day[rows, cols] = (accounts.open_date[rows] - month_first[cols]).astype(np.int64)
    rows = np.flatnonzero(paths.closed)
    cols = paths.closure_month[rows]
    last_day[rows, cols] = (paths.closure_date[rows] - month_first[cols]).astype(np.int64)
    return Calendar(month_first, active, first_day, last_day)


def random_time_of_day(night: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds after midnight: 00:00-05:00 where ``night`` else 06:00-24:00."""
    u = rng.random(night.shape[0])
    return np.where(night, u * 5 * 3600, 6 * 3600 + u * 18 * 3600).astype(np.int64)
