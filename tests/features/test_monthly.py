import numpy as np
import pytest

from risk_model.features.monthly import cells, cube, cubes, make_grid


def test_grid_is_shared_and_read_only():
    days = np.array([20_000, 20_030], dtype=np.int64)
    grid = make_grid(days)
    assert make_grid(days.copy()) is grid
    with pytest.raises(ValueError, match="read-only"):
        grid.period_end[0] = 0


def test_bucket_marks_days_outside_the_grid():
    grid = make_grid(np.array([20_000], dtype=np.int64))
    days = np.array([grid.first_day - 1, grid.first_day, 20_000, 20_001])
    assert grid.bucket(days).tolist() == [-1, 0, int(grid.asof_period[0]), -1]


def test_month_columns_are_memoised_and_read_only():
    grid = make_grid(np.array([20_000, 20_045], dtype=np.int64))
    cols = grid.month_columns(1, 6)
    assert grid.month_columns(1, 6) is cols
    assert np.all(np.diff(cols) > 0) and cols[-1] == grid.asof_period[1]
    with pytest.raises(ValueError, match="read-only"):
        cols[0] = 0


def _events(grid, n_acc=2, n=40, seed=0):
    rng = np.random.default_rng(seed)
    acct = rng.integers(0, n_acc, n)
    period = rng.integers(-1, grid.n_periods, n)  # -1: outside the grid
    return acct, period, rng.random(n) * 100


def _month_to_date(grid, by_period):
    """The expected cube: per-period sums accumulated within each month, by a plain loop."""
    out = by_period.copy()
    for p in range(1, grid.n_periods):
        if grid.period_month[p] == grid.period_month[p - 1]:
            out[p] += out[p - 1]
    return out


def test_cubes_layers_are_month_to_date_sums_of_their_weights():
    grid = make_grid(np.array([20_000, 20_010], dtype=np.int64))  # mid-month: split months
    assert len(grid.same_month)
    acct, period, amount = _events(grid)
    got = cubes(grid, 2, cells(2, acct, period), [None, amount, amount > 50])
    for layer, weights in enumerate([np.ones_like(amount), amount, amount > 50]):
        by_period = np.zeros((grid.n_periods, 2))
        inside = period >= 0
        np.add.at(by_period, (period[inside], acct[inside]), weights[inside])
        assert np.allclose(got[:, layer], _month_to_date(grid, by_period))
    # each layer is, bit for bit, the cube of its own weights
    assert np.array_equal(got[:, 1], cube(grid, 2, cells(2, acct, period), amount))


def test_cubes_keep_layers_apart_and_drop_events_outside_the_grid():
    grid = make_grid(np.array([20_000], dtype=np.int64))
    acct, period, amount = _events(grid, seed=1)
    where = cells(2, acct, period)
    base = cubes(grid, 2, where, [None, amount])
    other = cubes(grid, 2, where, [None, amount * 2])
    assert np.array_equal(base[:, 0], other[:, 0]) and not np.array_equal(base[:, 1], other[:, 1])
    inside = period >= 0
    assert not inside.all()
    only_inside = cubes(grid, 2, cells(2, acct[inside], period[inside]), [None, amount[inside]])
    assert np.array_equal(base, only_inside)  # an event of period -1 is counted nowhere


def test_cubes_from_a_first_period_are_the_later_rows():
    grid = make_grid(np.array([20_000], dtype=np.int64))
    acct, period, amount = _events(grid, seed=2)
    first = int(grid.month_first_period[grid.asof_month[0] - 5 - grid.first_month])
    late = np.where(period >= first, period - first, -1)
    whole = cubes(grid, 2, cells(2, acct, np.where(period >= first, period, -1)), [amount])
    assert np.array_equal(cubes(grid, 2, cells(2, acct, late), [amount], first), whole[first:])
