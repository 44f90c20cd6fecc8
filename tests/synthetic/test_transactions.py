import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.calendar import SECONDS_PER_DAY
from risk_model.synthetic.transactions import (
    PURCHASE,
    REFUND,
    Events,
    cashout_purchases,
    legit_purchases,
    net_spend,
    refunds,
)

CONFIG = WorldConfig(n_accounts=800, n_months=10, seed=21, block_size=800, chunk_size=800)


@pytest.fixture(scope="module")
def block(draw_block):
    model, rng, accounts, paths, calendar, plan = draw_block(CONFIG, payments=True)
    legit = legit_purchases(calendar, accounts, paths, model.pool, rng)
    cash = cashout_purchases(calendar, accounts, paths, plan, model.pool, rng)
    return model, paths, calendar, legit, cash


def _usable(calendar, events):
    """Whether each event falls on a usable day of an active month of its account."""
    starts = calendar.month_seconds()
    month = np.searchsorted(starts, events.seconds, side="right") - 1
    inside = (month >= 0) & (month < calendar.active.shape[1])
    month = np.clip(month, 0, calendar.active.shape[1] - 1)
    day = (events.seconds - starts[month]) // SECONDS_PER_DAY
    row = events.account
    return (
        inside
        & calendar.active[row, month]
        & (day >= calendar.first_day[row, month])
        & (day <= calendar.last_day[row, month])
    )


def test_purchases_fall_on_usable_days_with_positive_amounts(block):
    _, _, calendar, legit, cash = block
    for events in (legit, cash):
        assert events.account.size and _usable(calendar, events).all()
        assert (events.amount > 0).all() and (events.kind == PURCHASE).all()


def test_cashout_purchases_come_from_episode_months_at_colluding_merchants(block):
    model, paths, calendar, legit, cash = block
    in_episode = (paths.states["cashout"] == 1) & calendar.active
    assert set(np.unique(cash.account)) == set(np.flatnonzero(in_episode.any(1)))
    assert model.pool.colluding[cash.merchant].mean() > 0.9
    assert model.pool.colluding[legit.merchant[legit.merchant >= 0]].mean() < 0.05


def test_refunds_follow_their_purchase_and_stop_at_the_end():
    purchases = Events(
        np.array([0, 1]), np.array([0, 0]), np.full(2, PURCHASE), np.array([10.0, 20.0]),
        np.array([3, 4]), np.array([0, 1]),
    )  # fmt: skip
    rng = np.random.default_rng(0)
    out = refunds(purchases, np.array([10**9, 10**9]), 1.0, rng)
    assert (out.kind == REFUND).all() and np.array_equal(out.merchant, [3, 4])
    assert (out.seconds >= SECONDS_PER_DAY).all() and (out.amount <= purchases.amount).all()
    assert refunds(purchases, np.array([1, 1]), 1.0, rng).account.size == 0  # after the end
    assert refunds(purchases, np.array([10**9, 10**9]), 0.0, rng).account.size == 0


def test_net_spend_is_purchases_less_refunds_by_month(block):
    _, _, calendar, legit, _ = block
    starts = calendar.month_seconds()
    one = legit.take(np.array([0]))
    back = Events(
        one.account, one.seconds + 1, np.array([REFUND]), one.amount / 4, one.merchant, one.channel
    )
    spend = net_spend(Events.concat([one, back]), starts, CONFIG.block_size)
    month = np.searchsorted(starts, one.seconds[0], side="right") - 1
    assert spend[one.account[0], month] == pytest.approx(0.75 * one.amount[0])
    assert spend.sum() == pytest.approx(0.75 * one.amount[0])
