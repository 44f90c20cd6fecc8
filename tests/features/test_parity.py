"""Scoring parity: an account alone equals its row in a batch of 10,000; order is irrelevant."""

import numpy as np
import pandas as pd
import pytest
from frames import assert_frame_equal

from risk_model import contract as C
from risk_model.features import build_features, fit_merchant_risk


@pytest.fixture(scope="module")
def dates(world):
    unique = sorted(set(world.truth.column(C.AS_OF).to_pylist()))
    return unique[-7::3]  # three month ends


@pytest.fixture(scope="module")
def fitted(world, dates):
    return fit_merchant_risk(world.histories, dates[0])


@pytest.fixture(scope="module")
def batch(world, dates, fitted):
    return build_features(world.histories, dates, merchant_risk=fitted, policy=world.config.policy)


def test_alone_equals_batch_row(world, dates, fitted, batch):
    assert world.histories.num_rows == 10_000
    rng = np.random.default_rng(3)
    picks = rng.choice(world.histories.num_rows, size=40, replace=False)
    for i in picks:
        one = world.histories.slice(int(i), 1)
        alone = build_features(one, dates, merchant_risk=fitted, policy=world.config.policy)
        account_id = one.column(C.ACCOUNT_ID)[0].as_py()
        expected = batch[batch[C.ACCOUNT_ID] == account_id].reset_index(drop=True)
        assert len(alone) == len(expected)
        assert_frame_equal(alone, expected, check_exact=True)


def test_merchant_features_are_informative(batch):
    # guards against a trivially-NaN merchant table making the parity test vacuous
    assert batch["merchant_payers_wmean_6m"].notna().mean() > 0.5


def test_shuffled_rows_give_identical_output(world, dates, fitted, batch):
    order = np.random.default_rng(5).permutation(world.histories.num_rows)
    shuffled = world.histories.take(order)
    again = build_features(shuffled, dates, merchant_risk=fitted, policy=world.config.policy)
    assert_frame_equal(again, batch, check_exact=True)
    train_a = build_features(world.histories.slice(0, 3000), dates[-1])
    train_b = build_features(world.histories.slice(0, 3000).take(order[order < 3000]), dates[-1])
    assert_frame_equal(train_a, train_b, check_exact=True)


def test_training_mode_differs_from_scoring_mode(world, dates, batch):
    """The documented asymmetry: batch (leave-one-out) merchant stats are not the table's."""
    train = build_features(world.histories, dates[0], policy=world.config.policy)
    score = batch[batch[C.AS_OF] == train[C.AS_OF].iloc[0]].reset_index(drop=True)
    assert not np.array_equal(
        train["merchant_payers_wmean_6m"].to_numpy(),
        score["merchant_payers_wmean_6m"].to_numpy(),
        equal_nan=True,
    )
    pd.testing.assert_series_equal(train["spend_6m"], score["spend_6m"])


def test_dates_together_equal_dates_one_by_one(world):
    """Training mode moves merchant windows incrementally; that must not change a bit."""
    table = world.histories.slice(0, 3000)
    unique = sorted(set(world.truth.column(C.AS_OF).to_pylist()))
    dates = unique[-9::4]
    together = build_features(table, dates)
    for d in dates:
        alone = build_features(table, d)
        part = together[together[C.AS_OF] == pd.Timestamp(d)].reset_index(drop=True)
        assert_frame_equal(alone, part, check_exact=True)
