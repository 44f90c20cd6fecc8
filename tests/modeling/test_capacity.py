import numpy as np
import pytest

from risk_model.modeling.capacity import (
    MIN_ROWS_PER_LEAF,
    Candidate,
    candidates,
    search,
    search_sample,
)
from risk_model.modeling.config import ModelConfig
from risk_model.modeling.treeshap import MAX_SPLITS_PER_TREE


def test_candidates_fit_the_treeshap_tables_and_are_at_most_six():
    grid = candidates()
    assert 1 < len(grid) <= 6
    assert all(c.num_leaves - 1 <= MAX_SPLITS_PER_TREE for c in grid)
    assert len(set(grid)) == len(grid)


@pytest.mark.parametrize("rows", [5_000, 300_000, 5_000_000])
def test_rows_per_leaf_scale_with_the_data(rows):
    candidate = Candidate(3, 8, 0.001)
    assert candidate.rows_per_leaf(rows) == max(MIN_ROWS_PER_LEAF, round(rows * 0.001))
    config = candidate.apply(ModelConfig(), rows)
    assert (config.max_depth, config.num_leaves) == (3, 8)


def test_small_data_keeps_a_floor_of_rows_per_leaf():
    assert Candidate(3, 8, 0.0005).rows_per_leaf(5_000) == MIN_ROWS_PER_LEAF


def test_sample_keeps_whole_accounts_within_the_budget():
    groups = np.repeat(np.arange(1000), 10)
    keep = search_sample(groups, 2_000, seed=3)
    assert 1_900 <= keep.sum() <= 2_000
    kept = np.unique(groups[keep])
    assert np.all(np.isin(groups[np.isin(groups, kept)], kept))
    assert keep[np.isin(groups, kept)].all()  # every month of a kept account
    assert np.array_equal(keep, search_sample(groups, 2_000, seed=3))
    assert not np.array_equal(keep, search_sample(groups, 2_000, seed=4))


def test_sample_is_everything_under_the_budget():
    assert search_sample(np.arange(50), 100, seed=0).all()


def test_search_picks_the_lowest_selection_loss_and_prefers_the_simpler_on_ties():
    grid = [Candidate(2, 4, 0.002), Candidate(3, 8, 0.002), Candidate(4, 11, 0.002)]
    losses = {2: 0.30, 3: 0.20, 4: 0.20}

    class Fitted:
        def current_iteration(self):
            return 7

    def fit(rows, config):
        return Fitted(), losses[config.max_depth]

    y = np.r_[np.zeros(90), np.ones(10)]
    chosen, trials = search(
        fit,
        y,
        np.arange(100),
        config=ModelConfig(),
        grid=grid,
        search_rows=10_000,
        learning_rate=0.2,
        seed=0,
    )
    assert chosen == grid[1]
    assert [t.selection_log_loss for t in trials] == [0.30, 0.20, 0.20]


def test_search_fits_use_the_search_learning_rate():
    seen = []

    class Fitted:
        def current_iteration(self):
            return 1

    def fit(rows, config):
        seen.append(config.learning_rate)
        return Fitted(), 0.1

    y = np.r_[np.zeros(10), np.ones(10)]
    search(
        fit,
        y,
        np.arange(20),
        config=ModelConfig(),
        grid=candidates()[:2],
        search_rows=10_000,
        learning_rate=0.25,
        seed=0,
    )
    assert seen == [0.25, 0.25]
