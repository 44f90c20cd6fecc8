import numpy as np
import pytest

from risk_model.features.monthly import make_grid


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
