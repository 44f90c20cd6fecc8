"""Transactions of a block: legitimate purchases, cash-out purchases, refunds, repayments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.accounts import Accounts
from risk_model.synthetic.calendar import SECONDS_PER_DAY, Calendar, random_time_of_day
from risk_model.synthetic.config import (
    CASHOUT_PATTERN_AMOUNTS,
    CATEGORY_CHANNEL_PROBS,
    CATEGORY_MEDIAN_AMOUNT,
    CATEGORY_PURCHASE_SHARE,
    MERCHANT_CATEGORIES,
    TOPUP_AMOUNTS,
)
from risk_model.synthetic.latent import N_BUCKETS
from risk_model.synthetic.merchants import MerchantPool
from risk_model.synthetic.paths import Paths
from risk_model.synthetic.statements import NOTHING, PaymentPlan

PURCHASE, REPAYMENT, REFUND = 0, 1, 2  # positions in contract.KINDS
OFFLINE_QR, ONLINE_SHOP = 0, 1  # positions in contract.CHANNELS
ENGAGEMENT_SPEND = np.array([1.0, 0.35, 0.0, 0.0])  # purchases multiplier by engagement state
STRESS_AMOUNT = np.array([1.0, 1.3, 1.7])  # purchase amount multiplier by stress level
_UTILITIES = MERCHANT_CATEGORIES.index("utilities")
_ONLINE_RETAIL = MERCHANT_CATEGORIES.index("online_retail")


@dataclass(frozen=True)
class Events:
    """Flat transactions of a block (unsorted): owner position, epoch seconds, codes, amount."""

    account: np.ndarray
    seconds: np.ndarray
    kind: np.ndarray
    amount: np.ndarray
    merchant: np.ndarray  # pool position, -1 for none
    channel: np.ndarray  # index into contract.CHANNELS, -1 for none

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        """Concatenate event sets."""
        return Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def take(self, index: np.ndarray) -> Events:
        """Select or reorder events."""
        return Events(*(getattr(self, f)[index] for f in _FIELDS))


_FIELDS = ("account", "seconds", "kind", "amount", "merchant", "channel")


def _draw_channel(category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(np.array(CATEGORY_CHANNEL_PROBS), axis=1)
    return np.minimum((rng.random(category.shape[0])[:, None] > cum[category]).sum(1), 3)


def _slots(calendar: Calendar, counts: np.ndarray, rng: np.random.Generator):
    """Repeat account-month cells by ``counts``; return rows, months and a random day offset."""
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    n_months = counts.shape[1]
    row, month = cell // n_months, cell % n_months
    lo, hi = calendar.first_day[row, month], calendar.last_day[row, month]
    day = lo + (rng.random(cell.shape[0]) * (hi - lo + 1)).astype(np.int64)
    return row, month, day


def legit_purchases(
    calendar: Calendar,
    accounts: Accounts,
    paths: Paths,
    pool: MerchantPool,
    rng: np.random.Generator,
) -> Events:
    """Everyday purchases: count by engagement, amount by category and stress."""
    engagement = np.maximum(paths.states["dormancy"], 0)
    stress = np.maximum(paths.states["overdue"], 0) // N_BUCKETS
    rate = accounts.spend_rate[:, None] * ENGAGEMENT_SPEND[engagement] * (1 + 0.1 * stress)
    counts = np.where(calendar.active, rng.poisson(rate), 0)
    row, month, day = _slots(calendar, counts, rng)
    n = row.shape[0]
    night = rng.random(n) < np.where(accounts.night_owl[row], 0.30, 0.02)
    seconds = calendar.month_seconds()[month] + day * SECONDS_PER_DAY
    seconds += random_time_of_day(night, rng)
    regular = rng.random(n) < 0.4
    cat = rng.choice(len(MERCHANT_CATEGORIES), n, p=np.array(CATEGORY_PURCHASE_SHARE))
    topup = accounts.round_buyer[row] & (rng.random(n) < 0.4)
    cat = np.where(topup, np.where(rng.random(n) < 0.7, _UTILITIES, _ONLINE_RETAIL), cat)
    merchant = pool.pick(cat, rng.random(n))
    pick_regular = accounts.regulars[row, rng.integers(0, 3, n)]
    merchant = np.where(regular & ~topup, pick_regular, merchant)
    category = pool.category[merchant]
    median = np.array(CATEGORY_MEDIAN_AMOUNT)[category] * STRESS_AMOUNT[stress[row, month]]
    amount = np.maximum(np.round(median * np.exp(0.75 * rng.standard_normal(n)), 2), 1.0)
    amount = np.where(topup, np.array(TOPUP_AMOUNTS)[rng.integers(0, 5, n)], amount)
    return Events(
        row, seconds, np.full(n, PURCHASE), amount, merchant, _draw_channel(category, rng)
    )


def _patterned(target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round or patterned cash-out amounts at or below ``target``."""
    patterns = np.array(CASHOUT_PATTERN_AMOUNTS)
    hundreds = np.maximum(np.floor(target / 100.0) * 100.0, 100.0)
    x998 = np.where(target >= 1000, np.floor(target / 1000.0) * 1000.0 - 2.0, hundreds)
    listed = patterns[np.maximum(np.searchsorted(patterns, target, side="right") - 1, 0)]
    u = rng.random(target.shape[0])
    return np.where(u < 0.5, hundreds, np.where(u < 0.8, x998, listed))


def cashout_purchases(
    calendar: Calendar,
    accounts: Accounts,
    paths: Paths,
    plan: PaymentPlan,
    pool: MerchantPool,
    rng: np.random.Generator,
) -> Events:
    """Episode purchases: 1-3 a month near the line at the account's colluding merchants.

    The first purchase of a month follows the repayment of the previous statement by a few
    hours when there is one (repay, then re-spend the line).
    """
    episode = calendar.active & (paths.states["cashout"] == 1)
    counts = np.where(episode, 1 + rng.binomial(2, 0.4, episode.shape), 0)
    row, month, day = _slots(calendar, counts, rng)
    n = row.shape[0]
    first = np.ones(n, dtype=bool)
    first[1:] = (row[1:] != row[:-1]) | (month[1:] != month[:-1])
    night = rng.random(n) < 0.6
    seconds = calendar.month_seconds()[month] + day * SECONDS_PER_DAY
    seconds += random_time_of_day(night, rng)
    prev = np.maximum(month - 1, 0)
    repaid = (month > 0) & (plan.kind[row, prev] > NOTHING)
    loop = first & repaid
    after = plan.seconds[row, prev] + (1800 + rng.random(n) * 4 * 3600).astype(np.int64)
    seconds = np.where(loop, after, seconds)
    # Keep the loop purchase within the account's usable days.
    last = calendar.month_seconds()[month] + (calendar.last_day[row, month] + 1) * SECONDS_PER_DAY
    seconds = np.minimum(seconds, last - 1)
    share = counts[row, month]
    target = accounts.credit_limit[row] * (0.85 + 0.15 * rng.random(n)) / share
    merchant = accounts.ring[row, (rng.random(n) < 0.25).astype(np.int64)]
    online = pool.category[merchant] == _ONLINE_RETAIL
    channel = np.where(online & (rng.random(n) < 0.5), ONLINE_SHOP, OFFLINE_QR)
    return Events(row, seconds, np.full(n, PURCHASE), _patterned(target, rng), merchant, channel)


def refunds(
    purchases: Events, end_seconds: np.ndarray, rate: float, rng: np.random.Generator
) -> Events:
    """Refund some purchases at the same merchant 1-10 days later (never after ``end``)."""
    picked = np.flatnonzero(rng.random(purchases.account.shape[0]) < rate)
    base = purchases.take(picked)
    n = picked.shape[0]
    seconds = base.seconds + (SECONDS_PER_DAY * (1 + 9 * rng.random(n))).astype(np.int64)
    partial = rng.random(n) < 0.3
    amount = np.where(partial, np.round(base.amount * (0.2 + 0.7 * rng.random(n)), 2), base.amount)
    keep = seconds < end_seconds[base.account]
    out = Events(
        base.account,
        seconds,
        np.full(n, REFUND),
        np.maximum(amount, 0.01),
        base.merchant,
        base.channel,
    )
    return out.take(np.flatnonzero(keep))


def repayments(plan: PaymentPlan, paid: np.ndarray) -> Events:
    """One repayment per statement with a positive payment, at the planned time."""
    row, month = np.nonzero((plan.kind > NOTHING) & (paid > 0))
    n = row.shape[0]
    none = np.full(n, -1)
    return Events(
        row, plan.seconds[row, month], np.full(n, REPAYMENT), paid[row, month], none, none
    )


def net_spend(events: Events, month_seconds: np.ndarray, n: int) -> np.ndarray:
    """Purchases minus refunds per ``(account, month)`` of the event time."""
    n_months = month_seconds.shape[0] - 1
    month = np.searchsorted(month_seconds, events.seconds, side="right") - 1
    keep = (month >= 0) & (month < n_months)
    sign = np.where(events.kind == REFUND, -1.0, 1.0)
    flat = np.bincount(
        events.account[keep] * n_months + month[keep],
        weights=(sign * events.amount)[keep],
        minlength=n * n_months,
    )
    return flat.reshape(n, n_months)
