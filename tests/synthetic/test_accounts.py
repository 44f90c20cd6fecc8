import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.accounts import draw_accounts
from risk_model.synthetic.world import _model, block_rng

CONFIG = WorldConfig(n_accounts=3000, n_months=12, seed=9, block_size=1500, chunk_size=1500)


@pytest.fixture(scope="module")
def pool():
    return _model(CONFIG).pool


def test_attributes_are_plausible_and_indexed_from_the_first_account(pool):
    accounts = draw_accounts(CONFIG, 1500, 1500, pool, block_rng(CONFIG, 1))
    assert accounts.n == 1500 and np.array_equal(accounts.index, np.arange(1500, 3000))
    start = np.datetime64(CONFIG.start, "M")
    opened = (accounts.open_date.astype("datetime64[M]") - start).astype(int)
    assert np.array_equal(opened, accounts.open_month)
    assert (accounts.open_month < CONFIG.n_months).all() and (accounts.open_month < 0).any()
    assert (accounts.credit_limit > 0).all()
    age = int(CONFIG.start[:4]) - accounts.birth_year
    assert age.min() >= 16 and age.max() < 100
    assert 0 < accounts.is_student.mean() < 0.5 and 0 < accounts.is_legacy.mean() < 1
    # Observed flags hide some values, never all.
    for flag in (accounts.birth_observed, accounts.kyc_observed, accounts.city_observed):
        assert 0.3 < flag.mean() <= 1.0


def test_blocks_draw_from_their_own_streams(pool):
    a = draw_accounts(CONFIG, 0, 1500, pool, block_rng(CONFIG, 0))
    b = draw_accounts(CONFIG, 0, 1500, pool, block_rng(CONFIG, 0))
    c = draw_accounts(CONFIG, 0, 1500, pool, block_rng(CONFIG, 1))
    assert np.array_equal(a.credit_limit, b.credit_limit)
    assert not np.array_equal(a.credit_limit, c.credit_limit)
