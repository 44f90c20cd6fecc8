import dataclasses

import numpy as np
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.synthetic import WorldConfig, make_merchants
from risk_model.synthetic.merchants import make_pool

CONFIG = WorldConfig(n_accounts=100, n_months=10, seed=1, n_merchants=400)


def test_the_table_is_the_pool_sorted_by_id_with_the_contract_schema():
    pool, table = make_pool(CONFIG), make_merchants(CONFIG)
    assert table.schema.equals(C.MERCHANTS_SCHEMA) and table.num_rows == CONFIG.n_merchants
    ids = table[C.MERCHANT_ID]
    assert ids.to_pylist() == sorted(pool.ids.to_pylist())
    assert len(pc.unique(ids)) == CONFIG.n_merchants
    assert 0 < pool.colluding.sum() < CONFIG.n_merchants
    assert np.all(np.diff(pool.category) >= 0) and np.all(np.diff(pool.cumulative) >= 0)


def test_picks_stay_in_their_category_and_follow_popularity():
    pool = make_pool(CONFIG)
    rng = np.random.default_rng(0)
    category = rng.integers(0, pool.category.max() + 1, 20_000)
    picked = pool.pick(category, rng.random(20_000))
    assert np.array_equal(pool.category[picked], category)
    counts = np.bincount(picked[category == 0], minlength=len(pool.category))
    in_zero = np.flatnonzero(pool.category == 0)
    assert counts[in_zero].max() > 3 * max(counts[in_zero].min(), 1)  # not uniform


def test_the_same_seed_gives_the_same_merchants_and_another_seed_others():
    assert make_merchants(CONFIG).equals(make_merchants(CONFIG))
    other = make_merchants(dataclasses.replace(CONFIG, seed=2))
    assert not other.equals(make_merchants(CONFIG))
