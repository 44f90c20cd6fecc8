import numpy as np
import pytest

from risk_model.synthetic import WorldConfig
from risk_model.synthetic.latent import N_BUCKETS
from risk_model.synthetic.statements import (
    FULL,
    NOTHING,
    UNKNOWN,
    build_statements,
)

CONFIG = WorldConfig(n_accounts=800, n_months=10, seed=22, block_size=800, chunk_size=800)


@pytest.fixture(scope="module")
def block(draw_block):
    _, _, accounts, paths, calendar, plan = draw_block(CONFIG, payments=True)
    spend = np.round(np.random.default_rng(1).gamma(2.0, 400.0, calendar.active.shape), 2)
    return accounts, paths, calendar, plan, spend


def _statements(block, missing):
    accounts, paths, calendar, plan, spend = block
    return build_statements(
        calendar, accounts, paths, plan, spend, missing, np.random.default_rng(2)
    )


def test_plans_use_the_known_codes(block):
    _, _, _, plan, _ = block
    assert set(np.unique(plan.kind)) <= set(range(UNKNOWN, FULL + 1))
    assert (plan.kind == FULL).any() and (plan.kind == NOTHING).any()


def test_bills_minimums_and_payments_hold_together(block):
    _, paths, calendar, plan, _ = block
    s = _statements(block, 0.0)
    assert np.array_equal(s.present, calendar.active)
    assert (s.billed >= 0).all() and np.allclose(s.minimum, np.round(0.1 * s.billed, 2))
    assert (s.paid <= s.billed + 1e-9).all() and (s.paid >= 0).all()
    full = plan.kind == FULL
    assert np.allclose(s.paid[full], s.billed[full])
    current = paths.states["overdue"] % N_BUCKETS == 0  # the state holds bucket and stress
    assert (s.dpd[current] == 0).all() and (s.dpd[~current & calendar.active] > 0).all()
    assert np.array_equal(s.paid_known, plan.kind != UNKNOWN)


def test_missing_statements_are_dropped_only_among_active_months(block):
    _, _, calendar, _, _ = block
    some = _statements(block, 0.3)
    assert not (some.present & ~calendar.active).any()
    assert 0.6 < some.present.sum() / calendar.active.sum() < 0.8
    assert not _statements(block, 1.0).present.any()
