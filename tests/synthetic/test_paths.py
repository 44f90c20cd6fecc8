import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.accounts import draw_accounts
from risk_model.synthetic.config import CAUSE_PRIORITY
from risk_model.synthetic.paths import simulate_paths
from risk_model.synthetic.world import _model, block_rng

CONFIG = WorldConfig(n_accounts=1000, n_months=12, seed=9, block_size=1000, chunk_size=1000)


@pytest.fixture(scope="module")
def drawn():
    model = _model(CONFIG)
    rng = block_rng(CONFIG, 0)
    accounts = draw_accounts(CONFIG, 0, CONFIG.block_size, model.pool, rng)
    return model, accounts, simulate_paths(CONFIG, model.chains, accounts, rng)


def test_closed_accounts_have_a_month_a_cause_and_a_date_inside_it(drawn):
    _, accounts, paths = drawn
    closed = paths.closed
    assert 0 < closed.sum() < accounts.n
    assert (paths.closure_month[~closed] == CONFIG.n_months).all()
    assert np.isnat(paths.closure_date[~closed]).all()
    assert ((paths.cause[closed] >= 0) & (paths.cause[closed] < len(CAUSE_PRIORITY))).all()
    month = (
        paths.closure_date[closed].astype("datetime64[M]") - np.datetime64(CONFIG.start, "M")
    ).astype(int)
    assert np.array_equal(month, paths.closure_month[closed])
    assert (paths.closure_date[closed] >= accounts.open_date[closed].astype("datetime64[D]")).all()
    assert (paths.closure_month >= np.maximum(accounts.open_month, 0)).all()


def test_chain_states_are_unset_before_opening_only(drawn):
    _, accounts, paths = drawn
    before = np.arange(CONFIG.n_months)[None, :] < accounts.open_month[:, None]
    for states in paths.states.values():
        assert np.array_equal(states < 0, before)
    assert paths.regulatory.shape == (accounts.n, CONFIG.n_months + CONFIG.horizon)


def test_the_block_stream_fixes_the_paths(drawn):
    model, _, paths = drawn

    def again(block):
        rng = block_rng(CONFIG, block)
        drawn_accounts = draw_accounts(CONFIG, 0, CONFIG.block_size, model.pool, rng)
        return simulate_paths(CONFIG, model.chains, drawn_accounts, rng)

    assert np.array_equal(again(0).closure_month, paths.closure_month)
    assert not np.array_equal(again(1).closure_month, paths.closure_month)
