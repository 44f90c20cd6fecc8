import re

import lightgbm as lgb
import numpy as np
import pytest

from risk_model.modeling.treeshap import MAX_SPLITS_PER_TREE, tree_tables

ROWS, COLS = 3000, 6


def _data(seed=0, nan=0.15, zero=0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, COLS))
    x[:, 1] = rng.integers(0, 4, ROWS)  # ties and exact zeros at thresholds
    y = x[:, 0] + 0.8 * (x[:, 1] > 1) - 0.5 * x[:, 2] + rng.normal(0, 1, ROWS) > 0.3
    x[rng.random(x.shape) < nan] = np.nan
    x[rng.random(x.shape) < zero] = 0.0
    return x, y.astype(float)


def _booster(x, y, categorical=(), **params):
    base = {
        "objective": "binary",
        "num_leaves": 8,
        "max_depth": 3,
        "min_data_in_leaf": 20,
        "learning_rate": 0.2,
        "verbose": -1,
        "seed": 1,
        "deterministic": True,
        "num_threads": 1,
    }
    data = lgb.Dataset(x, y, categorical_feature=list(categorical) or "auto")
    return lgb.train({**base, **params}, data, num_boost_round=40)


def _score_rows(x):
    """Rows to score: the data plus NaN, zero, tiny and huge values in every column."""
    special = np.array([np.nan, 0.0, -0.0, 1e-40, -1e300, 1e300, 1.0, 2.0])
    extra = np.repeat(special[:, None], COLS, axis=1)
    return np.vstack([x, extra, np.roll(extra, 3, axis=0)])


@pytest.mark.parametrize(
    "params",
    [
        {},  # missing type "nan": NaN goes the learnt default way
        {"use_missing": False},  # type "none": NaN counts as 0
        {"zero_as_missing": True},  # type "zero": 0 and NaN go the default way
        {"num_leaves": 11, "max_depth": -1},  # deeper, uneven trees (10 splits)
        {"max_depth": 1, "num_leaves": 2},  # stumps
    ],
)
def test_equals_lightgbm_pred_contrib(params):
    x, y = _data()
    booster = _booster(x, y, **params)
    tables = tree_tables(booster.model_to_string(), COLS)
    assert tables is not None
    rows = _score_rows(x)
    expected = booster.predict(rows, pred_contrib=True)
    got = tables.contributions(rows)
    assert got.shape == expected.shape == (len(rows), COLS + 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    raw = booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(got.sum(axis=1), raw, rtol=0, atol=1e-12)


def test_a_row_alone_equals_its_row_in_a_batch_exactly():
    x, y = _data(seed=3)
    booster = _booster(x, y)
    tables = tree_tables(booster.model_to_string(), COLS)
    rows = _score_rows(x)
    batch = tables.contributions(rows)
    for i in range(0, len(rows), 97):
        assert np.array_equal(tables.contributions(rows[i : i + 1])[0], batch[i])
    assert np.array_equal(tables.contributions(rows[::-1]), batch[::-1])


def test_single_leaf_trees_only_move_the_expected_value():
    x, y = _data(seed=4)
    booster = _booster(x, y, min_data_in_leaf=2000)  # no split leaves 2000 rows each side
    assert "num_leaves=1" in booster.model_to_string()
    tables = tree_tables(booster.model_to_string(), COLS)
    got = tables.contributions(x[:50])
    np.testing.assert_allclose(got, booster.predict(x[:50], pred_contrib=True), atol=1e-12)
    assert np.all(got[:, :COLS] == 0.0) and np.all(got[:, COLS] == got[0, COLS])


def test_no_rows_give_an_empty_result():
    x, y = _data()
    tables = tree_tables(_booster(x, y).model_to_string(), COLS)
    assert tables.contributions(np.empty((0, COLS))).shape == (0, COLS + 1)


def test_categorical_splits_are_left_to_lightgbm():
    x, y = _data(nan=0, zero=0)
    x[:, 1] = np.abs(x[:, 1])
    booster = _booster(x, y, categorical=[1], min_data_per_group=5, cat_smooth=1)
    assert re.search(r"^num_cat=[1-9]", booster.model_to_string(), re.MULTILINE)
    assert tree_tables(booster.model_to_string(), COLS) is None


def test_trees_with_too_many_splits_are_left_to_lightgbm():
    x, y = _data()
    booster = _booster(x, y, num_leaves=MAX_SPLITS_PER_TREE + 2, max_depth=-1)
    assert tree_tables(booster.model_to_string(), COLS) is None
