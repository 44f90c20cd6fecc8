import numpy as np
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.synthetic import WorldConfig, iter_world, world_stats

CHUNKED = WorldConfig(n_accounts=240, n_months=9, seed=6, block_size=80, chunk_size=80)


def _stats(world):
    return world_stats(
        world.config, world.closures, world.truth, world.histories.num_rows, world.cashout_accounts
    )


def test_counts_against_the_tables(small_world, small_config):
    stats = _stats(small_world)
    monthly = stats.monthly(small_config)
    assert len(monthly) == small_config.n_months
    assert stats.accounts == small_world.histories.num_rows
    assert int(stats.closures.sum()) == small_world.closures.num_rows
    counted = {
        c["values"]: c["counts"] for c in pc.value_counts(small_world.closures[C.CAUSE]).to_pylist()
    }
    assert counted == {
        cause: int(n) for cause, n in zip(C.CAUSES, stats.closures.sum(0), strict=True) if n
    }
    assert np.isclose(stats.p_close_sum.sum(), small_world.truth[C.P_CLOSE].to_numpy().sum())


def test_months_without_the_full_horizon_have_no_realised_rate(small_world, small_config):
    monthly = _stats(small_world).monthly(small_config)
    last = small_config.n_months - small_config.horizon
    assert monthly["horizon_rate"].iloc[:last].notna().all()
    assert monthly["horizon_rate"].iloc[last:].isna().all()
    assert monthly["month"].iloc[0] == small_config.start


def test_the_sum_of_chunk_counts_is_the_whole_worlds():
    chunks = list(iter_world(CHUNKED))
    assert len(chunks) == 3
    parts = [
        world_stats(CHUNKED, c.closures, c.truth, c.n_accounts, c.cashout_accounts) for c in chunks
    ]
    total = parts[0] + parts[1] + parts[2]
    assert total.accounts == CHUNKED.n_accounts
    assert total.overall(CHUNKED)["closed_accounts"] == sum(c.closures.num_rows for c in chunks)
    # One chunk alone is not the world.
    assert parts[0].overall(CHUNKED) != total.overall(CHUNKED)
