import numpy as np
import pytest

from risk_model.features.arrays import (
    flat_index,
    nan_to_num,
    prepend_true,
    rows,
    rowsum,
    stable_order,
)


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_stable_order_equals_stable_argsort_with_ties(n):
    keys = np.random.default_rng(n).integers(0, 13, n)  # many ties
    order = stable_order(keys, 13)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))


def test_stable_order_falls_back_when_keys_times_positions_overflow():
    keys = np.array([2**61, 3, 2**61, 3], dtype=np.int64)
    assert np.array_equal(stable_order(keys, 2**62), [1, 3, 0, 2])


def test_rows_is_a_view_for_consecutive_columns_and_a_copy_otherwise():
    cube = np.arange(20.0).reshape(5, 4)
    window = rows(cube, np.array([1, 2, 3]))
    assert np.shares_memory(window, cube) and window.flags.c_contiguous
    assert np.array_equal(window, cube[[1, 2, 3]])
    gapped = rows(cube, np.array([0, 2, 3]))
    assert not np.shares_memory(gapped, cube)
    assert np.array_equal(gapped, cube[[0, 2, 3]])


@pytest.mark.parametrize(
    "values",
    [[1.5, np.nan, -0.0, 0.0], [np.inf, np.nan, -np.inf, 2.0], []],
    ids=["finite", "infinite", "empty"],
)
def test_nan_to_num_matches_numpy_bit_for_bit(values):
    x = np.array(values, dtype=np.float64)
    assert np.array_equal(nan_to_num(x).view(np.uint64), np.nan_to_num(x).view(np.uint64))


@pytest.mark.parametrize("mask", [[], [False, False], [True, False, True, True]])
def test_flat_index_equals_flatnonzero(mask):
    mask = np.array(mask, dtype=bool)
    assert np.array_equal(flat_index(mask), np.flatnonzero(mask))
    assert flat_index(mask).dtype == np.flatnonzero(mask).dtype


@pytest.mark.parametrize("flags", [[], [False], [True, False, True]])
def test_prepend_true_equals_r_(flags):
    flags = np.array(flags, dtype=bool)
    got = prepend_true(flags)
    assert got.dtype == bool and np.array_equal(got, np.r_[True, flags])
    assert got[0] and len(got) == len(flags) + 1


def test_rowsum_is_sequential_like_cumsum_and_empty_is_zero():
    x = np.array([[1e16, 1.0], [1.0, 1e16], [-1e16, -1e16]])
    assert np.array_equal(rowsum(x), np.cumsum(x, axis=0)[-1])
    assert rowsum(x).tolist() == [0.0, 0.0]  # in row order the 1.0 is absorbed by 1e16
    assert np.array_equal(rowsum(np.zeros((0, 3))), np.zeros(3))
