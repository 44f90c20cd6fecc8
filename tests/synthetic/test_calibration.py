"""The truth is calibrated: realised closures agree with mean p_close within 3 standard errors."""

import numpy as np
import pyarrow.compute as pc
import pytest

from risk_model import contract as C
from risk_model.synthetic import WorldConfig, generate_world, world_stats

CONFIG = WorldConfig(n_accounts=20_000, n_months=24, seed=21)


@pytest.fixture(scope="module")
def world():
    return generate_world(CONFIG)


@pytest.fixture(scope="module")
def joined(world):
    truth = world.truth.join(world.closures, C.ACCOUNT_ID, join_type="left outer")
    start = np.datetime64(CONFIG.start, "M")
    t = (truth[C.AS_OF].to_numpy().astype("datetime64[M]") - start).astype(int)
    closure = truth[C.CLOSURE_DATE].to_numpy(zero_copy_only=False).astype("datetime64[M]")
    gap = np.where(np.isnat(closure), -1, (closure - start).astype(int) - t)
    cause = np.array(truth[C.CAUSE].to_pylist(), dtype=object)
    return truth, t, gap, cause


def test_monthly_realised_rate_within_three_standard_errors(joined):
    truth, t, gap, _ = joined
    p = truth[C.P_CLOSE].to_numpy()
    within = (gap >= 1) & (gap <= CONFIG.horizon)
    for month in range(CONFIG.n_months - CONFIG.horizon):
        rows = t == month
        n = rows.sum()
        se = np.sqrt((p[rows] * (1 - p[rows])).sum()) / n
        assert abs(within[rows].mean() - p[rows].mean()) < 3 * se, month


def test_per_cause_rate_within_three_standard_errors(joined):
    truth, t, gap, cause = joined
    # Non-overlapping as-of months: an account's closure counts at most once.
    rows = (t % CONFIG.horizon == 0) & (t < CONFIG.n_months - CONFIG.horizon)
    within = (gap >= 1) & (gap <= CONFIG.horizon) & rows
    for name, column in zip(C.CAUSES, C.CAUSE_PROBABILITY_COLUMNS, strict=True):
        p = truth[column].to_numpy()[rows]
        realised = (within & (cause == name)).sum()
        se = np.sqrt((p * (1 - p)).sum())
        assert p.sum() > 10, name
        assert abs(realised - p.sum()) < 3 * se, (name, realised, p.sum())


def test_miscalibrated_truth_would_fail(joined):
    # Guard that the check has power: halving every probability is detected.
    truth, t, gap, _ = joined
    p = truth[C.P_CLOSE].to_numpy() / 2
    rows = t < CONFIG.n_months - CONFIG.horizon
    within = (gap >= 1) & (gap <= CONFIG.horizon)
    se = np.sqrt((p[rows] * (1 - p[rows])).sum()) / rows.sum()
    assert abs(within[rows].mean() - p[rows].mean()) > 3 * se


def test_world_summary_matches_the_tables(world):
    stats = world_stats(
        CONFIG, world.closures, world.truth, CONFIG.n_accounts, world.cashout_accounts
    )
    monthly = stats.monthly(CONFIG)
    assert len(monthly) == CONFIG.n_months
    assert monthly["closures"].sum() == world.closures.num_rows
    assert monthly["open_at_end"].sum() == world.truth.num_rows
    observed = monthly["z"].dropna()
    assert len(observed) == CONFIG.n_months - CONFIG.horizon
    assert (observed.abs() < 3).all()
    overall = stats.overall(CONFIG)
    assert 0.01 < overall["cashout_share"] < 0.03
    assert 0.01 < overall["horizon_rate"] < 0.08
    assert all(overall[f"closures_{c}"] > 0 for c in C.CAUSES)


def test_summary_adds_up_over_chunks(world):
    half = world.histories.num_rows // 2
    ids = world.histories[C.ACCOUNT_ID].slice(0, half)
    mask = pc.is_in(world.truth[C.ACCOUNT_ID], ids)
    closed_mask = pc.is_in(world.closures[C.ACCOUNT_ID], ids)
    parts = [
        world_stats(CONFIG, world.closures.filter(cm), world.truth.filter(tm), half, 0)
        for cm, tm in ((closed_mask, mask), (pc.invert(closed_mask), pc.invert(mask)))
    ]
    whole = world_stats(CONFIG, world.closures, world.truth, 2 * half, 0)
    added = parts[0] + parts[1]
    np.testing.assert_allclose(added.p_close_sum, whole.p_close_sum)
    np.testing.assert_array_equal(added.closures, whole.closures)
    np.testing.assert_array_equal(added.closed_within, whole.closed_within)
