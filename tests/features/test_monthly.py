import numpy as np
import pytest

from risk_model.features.monthly import make_grid, stable_order


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_stable_order_equals_stable_argsort_with_ties(n):
    keys = np.random.default_rng(n).integers(0, 13, n)  # many ties
    order = stable_order(keys, 13)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))


def test_stable_order_falls_back_when_keys_times_positions_overflow():
    keys = np.array([2**61, 3, 2**61, 3], dtype=np.int64)
    assert np.array_equal(stable_order(keys, 2**62), [1, 3, 0, 2])


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
