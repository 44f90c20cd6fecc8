import numpy as np
import pytest

from risk_model.features.arrays import (
    last_index,
    rowsum,
    rowsums,
    safe_divide,
    starts_of_runs,
    take_at,
    take_last,
    window,
)


def test_safe_divide_is_nan_where_the_denominator_is_not_positive():
    num = np.array([1.0, 1.0, 0.0, 3.0, np.nan])
    den = np.array([2.0, 0.0, -1.0, np.nan, 4.0])
    with np.errstate(all="raise"):  # no warning either
        got = safe_divide(num, den)
    assert got[0] == 0.5 and np.isnan(got[1:]).all()
    halves = safe_divide(np.ones(3, dtype=np.float32), np.array([2, 0, 4], dtype=np.float32))
    assert halves.dtype == np.float32 and np.isnan(halves[1])  # float32 stays float32
    assert safe_divide(np.arange(3), np.array([2, 2, -2])).tolist()[:2] == [0.0, 0.5]  # ints


def test_safe_divide_broadcasts_and_types_like_division():
    num = np.arange(6, dtype=np.float32).reshape(2, 3)
    den = np.array([2.0, 0.0, 4.0])
    got = safe_divide(num, den)
    assert got.dtype == np.result_type(num, den) == np.float64 and got.shape == (2, 3)
    assert np.isnan(got[:, 1]).all() and got[1, 2] == 1.25
    assert np.isnan(safe_divide(np.float64(1.0), 0.0)) and safe_divide(3, 2.0) == 1.5


@pytest.mark.parametrize(
    ("values", "starts"),
    [([], []), ([4], [0]), ([1, 1, 2, 2, 2, 1], [0, 2, 5])],
)
def test_starts_of_runs(values, starts):
    got = starts_of_runs(np.array(values, dtype=np.int64))
    assert got.tolist() == starts and got.dtype == np.int64


def test_rowsum_is_sequential_like_cumsum_and_empty_is_zero():
    x = np.array([[1e16, 1.0], [1.0, 1e16], [-1e16, -1e16]])
    assert np.array_equal(rowsum(x), np.cumsum(x, axis=0)[-1])
    assert rowsum(x).tolist() == [0.0, 0.0]  # in row order the 1.0 is absorbed by 1e16
    assert np.array_equal(rowsum(np.zeros((0, 3))), np.zeros(3))
    x32 = np.array([[0.1, 3.0], [0.2, 1e8], [0.3, 1.0]], dtype=np.float32)
    got = rowsum(x32)  # float32 rows add up in float64, in row order
    assert got.dtype == np.float64
    assert np.array_equal(got, np.add.accumulate(x32, axis=0, dtype=np.float64)[-1])
    assert not np.array_equal(got, x32.sum(axis=0))  # float32 sums would differ


def test_last_index_and_take_last():
    present = np.array([[True, False, True], [False, False, True], [True, False, False]])
    assert last_index(present).tolist() == [2, -1, 1]  # the last True, not the first
    assert last_index(np.zeros((0, 2), dtype=bool)).tolist() == [-1, -1]
    values = np.arange(9.0).reshape(3, 3)
    got = take_last(values, present)
    assert got[0] == 6.0 and np.isnan(got[1]) and got[2] == 5.0


def test_rowsums_are_each_arrays_rowsum_bit_for_bit():
    rng = np.random.default_rng(0)
    # one account, mixed magnitudes: the order of the additions shows in the last bits
    x = rng.random((9, 1)) * 10.0 ** rng.integers(-3, 9, (9, 1))
    y = rng.random((9, 1))
    got = rowsums(x, y)
    assert np.array_equal(got[0], rowsum(x)) and np.array_equal(got[1], rowsum(y))
    assert not np.array_equal(got[0], x.sum(0))  # numpy's pairwise sum would differ here
    with pytest.raises(ValueError):
        rowsums(x, y[:3])  # one shape for all


def test_take_at_reads_one_row_per_column_and_nan_where_there_is_none():
    values = np.arange(9.0).reshape(3, 3)
    got = take_at(values, np.array([2, -1, 0]))
    assert got[0] == 6.0 and np.isnan(got[1]) and got[2] == 2.0  # -1 is none, not the last row


def test_window_is_a_view_for_consecutive_months_and_a_copy_otherwise():
    cube = np.arange(20.0).reshape(5, 4)
    months = window(cube, np.array([1, 2, 3]))
    assert np.shares_memory(months, cube) and np.array_equal(months, cube[[1, 2, 3]])
    gapped = window(cube, np.array([0, 2, 3]))
    assert not np.shares_memory(gapped, cube) and np.array_equal(gapped, cube[[0, 2, 3]])
