import numpy as np
import pytest

from risk_model.synthetic import CAUSE_PRIORITY, WorldConfig
from risk_model.synthetic.paths import CHAIN_CAUSES, build_chains
from risk_model.synthetic.truth import cause_probabilities, survival_table, truth_rows

CONFIG = WorldConfig(n_accounts=10, n_months=24, seed=1)
HORIZON = CONFIG.horizon

# Hand-picked accounts: (as-of month, classes per chain, states per chain, regulatory hazard)
CASES = [
    # fragile, 60-89 dpd at stress 2, material cash-out propensity in an episode
    (
        5,
        {"overdue": 2, "cashout": 1, "dormancy": 1, "migration": 3},
        {"overdue": 2 * 5 + 3, "cashout": 1, "dormancy": 0, "migration": 1},
        0.0,
    ),
    # legacy, not migrated, just before the migration deadline (month 13), fading engagement
    (
        11,
        {"overdue": 0, "cashout": 0, "dormancy": 2, "migration": 2},
        {"overdue": 0, "cashout": 0, "dormancy": 1, "migration": 0},
        0.0,
    ),
    # targeted by a sweep that starts in month 8, dormant 2+ months, 90+ dpd
    (
        7,
        {"overdue": 1, "cashout": 0, "dormancy": 1, "migration": 3},
        {"overdue": 1 * 5 + 4, "cashout": 0, "dormancy": 3, "migration": 1},
        0.12,
    ),
]


def _exact(chains, month, classes, states, reg):
    tables = {c: survival_table(chains[c], CONFIG.n_months, HORIZON) for c in CHAIN_CAUSES}
    n_t = CONFIG.n_months + HORIZON
    regulatory = np.full((1, n_t), 0.001)
    regulatory[0, month + 2 :] = max(reg, 0.001)  # sweep reaches from the second month on
    state_grid = {c: np.full((1, CONFIG.n_months), states[c], dtype=np.int8) for c in states}
    probs = truth_rows(
        tables,
        {c: np.array([classes[c]]) for c in classes},
        state_grid,
        regulatory,
        np.array([0]),
        np.array([month]),
        HORIZON,
    )
    return {c: float(p[0]) for c, p in probs.items()}, regulatory[0]


def _monte_carlo(chains, month, classes, states, regulatory, n_paths, rng):
    """Simulate the chains forward path by path (independent of the recursion)."""
    state = {c: np.full(n_paths, states[c]) for c in CHAIN_CAUSES}
    alive = np.ones(n_paths, dtype=bool)
    counts = dict.fromkeys(CAUSE_PRIORITY, 0)
    for k in range(1, HORIZON + 1):
        t = month + k
        hazard = {"regulatory": np.full(n_paths, regulatory[t])}
        for c in CHAIN_CAUSES:
            rows = chains[c].transition[classes[c], t][state[c]]
            cum = np.cumsum(rows, axis=1)
            state[c] = np.minimum((rng.random(n_paths)[:, None] > cum).sum(1), cum.shape[1] - 1)
            hazard[c] = chains[c].hazard[classes[c], t][state[c]]
        fired_any = np.zeros(n_paths, dtype=bool)
        for c in CAUSE_PRIORITY:  # draw every cause, record the first that fires
            fires = rng.random(n_paths) < hazard[c]
            counts[c] += int((alive & fires & ~fired_any).sum())
            fired_any |= fires
        alive &= ~fired_any
    return {c: counts[c] / n_paths for c in CAUSE_PRIORITY}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_exact_truth_matches_brute_force_simulation(case):
    month, classes, states, reg = CASES[case]
    chains = build_chains(CONFIG)
    exact, regulatory = _exact(chains, month, classes, states, reg)
    simulated = _monte_carlo(
        chains, month, classes, states, regulatory, 400_000, np.random.default_rng(case)
    )
    assert sum(exact.values()) > 0.05
    for cause in CAUSE_PRIORITY:
        se = np.sqrt(max(exact[cause] * (1 - exact[cause]), 1e-6) / 400_000)
        assert abs(simulated[cause] - exact[cause]) < 4 * se + 1e-5, cause


def test_brute_force_detects_a_wrong_recursion():
    # The same comparison must fail when the exact answer is taken one month off.
    month, classes, states, reg = CASES[1]
    chains = build_chains(CONFIG)
    shifted, _ = _exact(chains, month + 2, classes, states, reg)
    _, regulatory = _exact(chains, month, classes, states, reg)
    simulated = _monte_carlo(
        chains, month, classes, states, regulatory, 100_000, np.random.default_rng(9)
    )
    assert abs(simulated["migration"] - shifted["migration"]) > 0.05


def test_cause_probabilities_sum_to_one_minus_joint_survival():
    rng = np.random.default_rng(0)
    curves = {}
    for cause in CAUSE_PRIORITY:
        hazard = rng.uniform(0, 0.4, (50, HORIZON))
        curves[cause] = np.concatenate([np.ones((50, 1)), np.cumprod(1 - hazard, 1)], 1)
    probs = cause_probabilities(curves)
    joint = np.prod([curves[c][:, -1] for c in CAUSE_PRIORITY], axis=0)
    np.testing.assert_allclose(sum(probs.values()), 1 - joint, rtol=1e-12)
    assert all((p >= 0).all() for p in probs.values())


def test_priority_decides_simultaneous_causes():
    # Two causes that surely fire in the first month: only the higher-priority one counts.
    sure = np.array([[1.0, 0.0, 0.0, 0.0]])
    never = np.ones((1, HORIZON + 1))
    curves = {c: never for c in CAUSE_PRIORITY}
    curves = {**curves, "regulatory": sure, "dormancy": sure}
    probs = cause_probabilities(curves)
    assert probs["regulatory"][0] == pytest.approx(1.0)
    assert probs["dormancy"][0] == pytest.approx(0.0)


def test_survival_tables_are_probabilities_and_decrease():
    for chain in build_chains(CONFIG).values():
        table = survival_table(chain, CONFIG.n_months, HORIZON)
        assert (table >= 0).all() and (table <= 1 + 1e-12).all()
        assert (np.diff(table, axis=-1) <= 1e-12).all()
        np.testing.assert_allclose(chain.transition.sum(-1), 1.0)
