"""Training-mode merchant statistics over a window that moves forward through the as-of dates.

Every total is a sum of integer-valued floats (amounts in cents, counts, log amounts in
units of 1e-6), which floating point adds exactly in any order below 2**53. So moving the
window forward period by period gives bit-for-bit the totals a fresh sum would give, and
per as-of work is proportional to the rows that enter the window, not to all rows. When
rows would leave the window (its start passes them), the window is rebuilt from zero.
"""

from __future__ import annotations

import numpy as np

from risk_model.features.merchant_pairs import BIG, PairRows
from risk_model.features.monthly import Grid

LOG_SCALE = 1e6  # log amounts are summed in units of 1e-6
PAIR_SUMS = ("cents", "round_nl_cents", "night", "n", "log_q")


class MerchantWindow:
    """Pair, merchant, category and (account, category) totals over a moving window.

    Attributes (after :meth:`at`): per pair ``sums[name]`` and ``first_period``; per
    merchant ``volume``, ``round_nl``, ``payers``, ``night_payers`` and ``first_hist``
    (merchant x month counts of pairs by their first month in the window); per category
    ``cat_log``, ``cat_n``; per (account, category) ``ac_log``, ``ac_n``.
    """

    def __init__(self, rows: PairRows, grid: Grid) -> None:
        self.rows, self.grid = rows, grid
        self.n_months = int(grid.period_month[-1] - grid.first_month + 1)
        self.lo = self.hi = -1
        self.ready = False

    def at(self, lo: int, hi: int) -> MerchantWindow:
        """Move to the window of periods [lo, hi] and return self."""
        off = self.rows.period_offsets
        if not self.ready or hi < self.hi or lo < self.lo or off[lo] > off[self.lo]:
            self._reset()
            self._add(range(lo, hi + 1))
        else:
            self._add(range(self.hi + 1, hi + 1))
        self.lo, self.hi, self.ready = lo, hi, True
        return self

    def _reset(self) -> None:
        r = self.rows
        n_pairs, n_m, n_c = len(r.p_acct), len(r.merchants), len(r.categories)
        n_ac = int(r.p_ac.max()) + 1 if len(r.p_ac) else 0
        self.sums = {name: np.zeros(n_pairs) for name in PAIR_SUMS}
        self.first_period = np.full(n_pairs, BIG)
        self.volume, self.round_nl = np.zeros(n_m), np.zeros(n_m)
        self.payers, self.night_payers = np.zeros(n_m), np.zeros(n_m)
        self.first_hist = np.zeros((n_m, self.n_months))
        self.cat_log, self.cat_n = np.zeros(n_c), np.zeros(n_c)
        self.ac_log, self.ac_n = np.zeros(n_ac), np.zeros(n_ac)

    def _add(self, periods: range) -> None:
        r, off, sums = self.rows, self.rows.period_offsets, self.sums
        ordered = r.in_period_order  # a period's rows are a slice of these columns
        for p in periods:
            rows = slice(off[p], off[p + 1])
            if rows.start == rows.stop:
                continue
            pid = ordered("pair")[rows]  # unique within a period
            was_active = sums["n"][pid] > 0
            was_night = sums["night"][pid] > 0
            for name in PAIR_SUMS:
                sums[name][pid] += ordered(name)[rows]
            m = r.p_merch[pid]
            new = ~was_active
            self.first_period[pid[new]] = p
            np.add.at(self.volume, m, ordered("cents")[rows])
            np.add.at(self.round_nl, m, ordered("round_nl_cents")[rows])
            np.add.at(self.payers, m[new], 1.0)
            np.add.at(self.night_payers, m[~was_night & (sums["night"][pid] > 0)], 1.0)
            month = int(self.grid.period_month[p] - self.grid.first_month)
            np.add.at(self.first_hist[:, month], m[new], 1.0)
            log_q, n = ordered("log_q")[rows], ordered("n")[rows]
            cat, ok = r.p_cat[pid], r.p_cat[pid] >= 0
            np.add.at(self.cat_log, cat[ok], log_q[ok])
            np.add.at(self.cat_n, cat[ok], n[ok])
            ac = r.p_ac[pid]
            np.add.at(self.ac_log, ac, log_q)
            np.add.at(self.ac_n, ac, n)
