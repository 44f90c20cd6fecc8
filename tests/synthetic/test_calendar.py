import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.calendar import random_time_of_day

CONFIG = WorldConfig(n_accounts=400, n_months=12, seed=8, block_size=400, chunk_size=400)


@pytest.fixture(scope="module")
def block(draw_block):
    """One real block's accounts, paths and calendar, drawn as the world draws them."""
    _, _, accounts, paths, calendar, _ = draw_block(CONFIG)
    return accounts, paths, calendar


def test_months_are_active_from_opening_to_closure(block):
    accounts, paths, calendar = block
    months = np.arange(CONFIG.n_months)
    expected = (months >= accounts.open_month[:, None]) & (months <= paths.closure_month[:, None])
    assert np.array_equal(calendar.active, expected)
    assert calendar.active.any(1).all()  # every account is open in some month
    assert (
        str(calendar.month_first[0]) == "2023-01-01"
        and str(calendar.month_first[-1]) == "2024-01-01"
    )
    assert np.all(np.diff(calendar.month_seconds()) >= 28 * 86_400)


def test_opening_and_closure_days_bound_their_months(block):
    accounts, paths, calendar = block
    rows = np.flatnonzero((accounts.open_month >= 0) & (accounts.open_month < CONFIG.n_months))
    assert rows.size  # some accounts open inside the window
    cols = accounts.open_month[rows]
    opened = calendar.month_first[cols] + calendar.first_day[rows, cols].astype("timedelta64[D]")
    assert np.array_equal(opened, accounts.open_date[rows].astype("datetime64[D]"))
    closed = np.flatnonzero(paths.closed)
    cols = paths.closure_month[closed]
    last = calendar.month_first[cols] + calendar.last_day[closed, cols].astype("timedelta64[D]")
    assert np.array_equal(last, paths.closure_date[closed].astype("datetime64[D]"))
    # Elsewhere a month runs from its first to its last day.
    never = np.flatnonzero(~paths.closed & (accounts.open_month < 0))
    assert never.size and np.all(calendar.first_day[never] == 0)
    days = np.diff(calendar.month_first).astype(int)
    assert np.array_equal(
        calendar.last_day[never], np.broadcast_to(days - 1, (never.size, CONFIG.n_months))
    )


def test_night_times_fall_before_five_and_day_times_after_six():
    rng = np.random.default_rng(0)
    night = np.arange(10_000) % 2 == 0
    seconds = random_time_of_day(night, rng)
    assert seconds[night].min() >= 0 and seconds[night].max() < 5 * 3600
    assert seconds[~night].min() >= 6 * 3600 and seconds[~night].max() < 24 * 3600
