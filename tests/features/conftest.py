"""Shared synthetic world for the parity and separation tests (generated once per session)."""

import pytest

from risk_model.synthetic.config import WorldConfig
from risk_model.synthetic.world import generate_world


@pytest.fixture(scope="session")
def world():
    return generate_world(WorldConfig(n_accounts=10_000, n_months=24, seed=11))
