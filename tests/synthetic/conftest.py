"""Shared small worlds for the synthetic-world tests (built once per session)."""

import pytest

from risk_model.synthetic import WorldConfig, generate_world


@pytest.fixture(scope="session")
def small_config() -> WorldConfig:
    return WorldConfig(n_accounts=1500, n_months=18, seed=11, block_size=500, chunk_size=500)


@pytest.fixture(scope="session")
def small_world(small_config):
    return generate_world(small_config)


@pytest.fixture(scope="session")
def draw_block():
    """``draw_block(config, payments=False)``: the world's block 0, drawn as the world draws it.

    Returns ``(model, rng, accounts, paths, calendar, plan)``; ``plan`` is ``None`` unless
    ``payments`` (planning consumes the block's generator, as the world does next).
    """
    from risk_model.synthetic.accounts import draw_accounts
    from risk_model.synthetic.calendar import build_calendar
    from risk_model.synthetic.paths import simulate_paths
    from risk_model.synthetic.statements import plan_payments
    from risk_model.synthetic.world import _model, block_rng

    def draw(config: WorldConfig, payments: bool = False):
        model, rng = _model(config), block_rng(config, 0)
        accounts = draw_accounts(config, 0, config.block_size, model.pool, rng)
        paths = simulate_paths(config, model.chains, accounts, rng)
        calendar = build_calendar(config, accounts, paths)
        plan = plan_payments(config, calendar, paths, rng) if payments else None
        return model, rng, accounts, paths, calendar, plan

    return draw
