import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.latent import (
    cashout_chain,
    dormancy_chain,
    migration_chain,
    overdue_chain,
    simulate_chain,
)

CONFIG = WorldConfig(n_accounts=100, n_months=10, seed=1, block_size=100, chunk_size=100)
CHAINS = (overdue_chain, cashout_chain, dormancy_chain, migration_chain)


@pytest.mark.parametrize("build", CHAINS)
def test_chains_are_probability_tables_over_window_and_horizon(build):
    chain = build(CONFIG)
    n_classes, periods, n_states, _ = chain.transition.shape
    assert periods == CONFIG.n_months + CONFIG.horizon
    assert np.allclose(chain.transition.sum(-1), 1.0) and (chain.transition >= 0).all()
    assert chain.hazard.shape == (n_classes, periods, n_states)
    assert ((chain.hazard >= 0) & (chain.hazard <= 1)).all() and chain.hazard.max() > 0
    for start in (chain.initial_mature, chain.initial_new):
        assert start.shape == (n_classes, n_states) and np.allclose(start.sum(-1), 1.0)


def test_paths_start_at_opening_and_repeat_for_the_same_stream():
    chain = overdue_chain(CONFIG)
    n = 2_000
    classes = np.arange(n) % chain.transition.shape[0]
    open_month = np.arange(n) % (CONFIG.n_months + 3) - 3  # some opened before the window
    states = simulate_chain(chain, classes, open_month, CONFIG.n_months, np.random.default_rng(4))
    months = np.arange(CONFIG.n_months)
    assert np.array_equal(states < 0, months[None, :] < open_month[:, None])
    assert states.max() < chain.n_states
    again = simulate_chain(chain, classes, open_month, CONFIG.n_months, np.random.default_rng(4))
    other = simulate_chain(chain, classes, open_month, CONFIG.n_months, np.random.default_rng(5))
    assert np.array_equal(states, again) and not np.array_equal(states, other)


def test_new_accounts_start_from_the_opening_distribution():
    # A chain whose new accounts all start in the last state and never move.
    chain = overdue_chain(CONFIG)
    k = chain.n_states
    stay = np.broadcast_to(np.eye(k), chain.transition.shape).copy()
    new = np.zeros_like(chain.initial_new)
    new[:, -1] = 1.0
    fixed = type(chain)(chain.name, stay, chain.hazard, chain.initial_mature, new)
    open_month = np.full(500, 2)
    states = simulate_chain(fixed, np.zeros(500, int), open_month, 6, np.random.default_rng(0))
    assert (states[:, :2] == -1).all() and (states[:, 2:] == k - 1).all()
