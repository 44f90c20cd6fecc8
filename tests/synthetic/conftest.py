"""Shared small worlds for the synthetic-world tests (built once per session)."""

import pytest

from risk_model.synthetic import WorldConfig, generate_world


@pytest.fixture(scope="session")
def small_config() -> WorldConfig:
    return WorldConfig(n_accounts=1500, n_months=18, seed=11, block_size=500, chunk_size=500)


@pytest.fixture(scope="session")
def small_world(small_config):
    return generate_world(small_config)
