"""Latent Markov chains that drive each closure cause, and their simulation.

Every cause except ``regulatory`` has a small Markov chain per account whose transition
matrix depends only on a static account class and the calendar month; the monthly hazard of
the cause depends only on (class, month, state). Chains are independent across causes given
the static attributes, which is what makes the truth in :mod:`.truth` exact. The regulatory
hazard is a deterministic function of static attributes and the policy calendar.

Month ``t`` runs over ``0 .. n_months + horizon - 1``; ``transition[q, t]`` moves the state
from month ``t - 1`` into month ``t``, ``hazard[q, t, s]`` applies during month ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.config import WorldConfig, month_index

# Overdue chain: state = stress * N_BUCKETS + bucket; buckets 0 current, 1 = 1-29 dpd,
# 2 = 30-59, 3 = 60-89, 4 = 90+.
N_STRESS, N_BUCKETS = 3, 5
OVERDUE_HAZARD = (0.0002, 0.002, 0.01, 0.08, 0.35)
# Dormancy chain states: active, fading, dormant one month, dormant two months or more.
ACTIVE, FADING, DORMANT_1, DORMANT_2 = 0, 1, 2, 3
DORMANCY_HAZARD = (0.0003, 0.0015, 0.008, 0.04)
# Cash-out chain states: off, in an episode. Classes: no propensity, material propensity.
CASHOUT_HAZARD = (0.0001, 0.18)
# Migration chain states: legacy not migrated, migrated (current accounts sit in "migrated").
NOT_MIGRATED, MIGRATED = 0, 1
CURRENT_CLASS = 3  # migration class of accounts opened on the current product


@dataclass(frozen=True)
class Chain:
    """A family of Markov chains indexed by a static class.

    Parameters
    ----------
    name : str
        Cause the chain drives.
    transition : numpy.ndarray
        ``(n_classes, n_periods, n_states, n_states)`` row-stochastic; entry ``[q, t]`` moves
        from month ``t - 1`` to month ``t``.
    hazard : numpy.ndarray
        ``(n_classes, n_periods, n_states)`` monthly closure hazard of the cause.
    initial_mature : numpy.ndarray
        ``(n_classes, n_states)`` state distribution of accounts open before the window.
    initial_new : numpy.ndarray
        ``(n_classes, n_states)`` state distribution in an account's opening month.
    """

    name: str
    transition: np.ndarray
    hazard: np.ndarray
    initial_mature: np.ndarray
    initial_new: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of states."""
        return self.transition.shape[-1]


def _periods(config: WorldConfig) -> int:
    return config.n_months + config.horizon


def overdue_chain(config: WorldConfig) -> Chain:
    """Stress x delinquency-bucket chain; classes are resilience levels (robust, mid, fragile).

    Parameters
    ----------
    config : WorldConfig
        World parameters (``macro_drift`` raises stress-up probabilities over time).

    Returns
    -------
    Chain
        15-state chain with hazard rising steeply with the delinquency bucket.
    """
    n_t = _periods(config)
    drift = 1.0 + config.macro_drift * np.arange(n_t) / max(config.n_months - 1, 1)
    up = np.array([[0.010, 0.030], [0.030, 0.060], [0.070, 0.100]])  # class x (from 0, from 1)
    down = np.array([[0.30, 0.20], [0.20, 0.12], [0.12, 0.07]])  # class x (from 1, from 2)
    stress = np.zeros((3, n_t, N_STRESS, N_STRESS))
    up_t = np.minimum(up[:, None, :] * drift[None, :, None], 0.5)
    stress[:, :, 0, 1] = up_t[:, :, 0]
    stress[:, :, 1, 2] = up_t[:, :, 1]
    stress[:, :, 1, 0] = down[:, None, 0]
    stress[:, :, 2, 1] = down[:, None, 1]
    for s in range(N_STRESS):
        stress[:, :, s, s] = 1.0 - stress[:, :, s].sum(-1)
    # Bucket moves given the new stress level: miss (roll), cure, or stay.
    miss = np.array([0.003, 0.04, 0.15])
    cure = np.array([0.60, 0.35, 0.15])
    roll = np.array([0.20, 0.40, 0.60])
    cure_90 = np.array([0.30, 0.15, 0.05])
    bucket = np.zeros((N_STRESS, N_BUCKETS, N_BUCKETS))
    bucket[:, 0, 1] = miss
    bucket[:, 0, 0] = 1.0 - miss
    for b in range(1, N_BUCKETS - 1):
        bucket[:, b, 0] = cure
        bucket[:, b, b + 1] = roll
        bucket[:, b, b] = 1.0 - cure - roll
    bucket[:, 4, 0] = cure_90
    bucket[:, 4, 4] = 1.0 - cure_90
    # joint[(s, b), (s2, b2)] = P(s2 | s) * P(b2 | b, s2)
    joint = np.einsum("qtij,jkl->qtikjl", stress, bucket)
    n_s = N_STRESS * N_BUCKETS
    transition = joint.reshape(3, n_t, n_s, n_s)
    hazard = np.broadcast_to(np.tile(OVERDUE_HAZARD, N_STRESS), (3, n_t, n_s)).copy()
    mature = _stationary(transition[:, 0])
    new = np.zeros_like(mature)
    new[:, ::N_BUCKETS] = mature.reshape(3, N_STRESS, N_BUCKETS).sum(-1)
    return Chain("overdue", transition, hazard, mature, new)


def cashout_chain(config: WorldConfig) -> Chain:
    """Off / in-episode chain; classes are no propensity and material propensity."""
    n_t = _periods(config)
    start = np.array([0.0002, 0.12])
    stop = np.array([0.50, 0.25])
    transition = np.zeros((2, n_t, 2, 2))
    transition[:, :, 0, 1] = start[:, None]
    transition[:, :, 0, 0] = 1.0 - start[:, None]
    transition[:, :, 1, 0] = stop[:, None]
    transition[:, :, 1, 1] = 1.0 - stop[:, None]
    hazard = np.broadcast_to(np.array(CASHOUT_HAZARD), (2, n_t, 2)).copy()
    initial = np.array([[1.0, 0.0], [0.7, 0.3]])
    return Chain("cashout", transition, hazard, initial, initial.copy())


def dormancy_chain(config: WorldConfig) -> Chain:
    """Engagement chain (active, fading, dormant-1, dormant-2+); classes loyal, normal, drifting."""
    n_t = _periods(config)
    fade = np.array([0.01, 0.03, 0.08])
    revive = np.array([0.30, 0.20, 0.10])
    sleep = np.array([0.15, 0.25, 0.35])
    wake_1 = np.array([0.10, 0.08, 0.05])
    wake_2 = np.array([0.04, 0.03, 0.02])
    m = np.zeros((3, 4, 4))
    m[:, ACTIVE, FADING] = fade
    m[:, ACTIVE, ACTIVE] = 1.0 - fade
    m[:, FADING, ACTIVE] = revive
    m[:, FADING, DORMANT_1] = sleep
    m[:, FADING, FADING] = 1.0 - revive - sleep
    m[:, DORMANT_1, ACTIVE] = wake_1
    m[:, DORMANT_1, DORMANT_2] = 1.0 - wake_1
    m[:, DORMANT_2, ACTIVE] = wake_2
    m[:, DORMANT_2, DORMANT_2] = 1.0 - wake_2
    transition = np.broadcast_to(m[:, None], (3, n_t, 4, 4)).copy()
    hazard = np.broadcast_to(np.array(DORMANCY_HAZARD), (3, n_t, 4)).copy()
    mature = _stationary(transition[:, 0])
    # Old accounts do not sit at the stationary dormancy share: closures thin it out.
    mature = mature * np.array([1.0, 1.0, 0.6, 0.35])
    mature /= mature.sum(-1, keepdims=True)
    new = np.zeros_like(mature)
    new[:, ACTIVE] = 1.0
    return Chain("dormancy", transition, hazard, mature, new)


def migration_chain(config: WorldConfig) -> Chain:
    """Legacy-not-migrated / migrated chain of the product migration.

    Classes 0-2 are legacy accounts by engagement class; class 3 holds current-product
    accounts (always in the migrated state, zero hazard).
    """
    n_t = _periods(config)
    policy = config.policy
    assert policy is not None
    offer = month_index(config, policy.migration_offer) if policy.migration_offer else n_t
    deadline = month_index(config, policy.migration_deadline) if policy.migration_deadline else n_t
    months = np.arange(n_t)
    open_offer = (months >= offer) & (months < deadline)
    rate = np.array([0.20, 0.12, 0.05, 0.0])
    p = rate[:, None] * open_offer[None, :]
    transition = np.zeros((4, n_t, 2, 2))
    transition[:, :, 0, 1] = p
    transition[:, :, 0, 0] = 1.0 - p
    transition[:, :, 1, 1] = 1.0
    hazard = np.zeros((4, n_t, 2))
    hazard[:CURRENT_CLASS, :, NOT_MIGRATED] = np.where(
        months >= deadline, config.migration_deadline_hazard, 0.0
    )
    initial = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]])
    return Chain("migration", transition, hazard, initial, initial.copy())


def _stationary(transition: np.ndarray) -> np.ndarray:
    """Stationary distributions of ``(n_classes, S, S)`` matrices by repeated squaring."""
    power = transition.copy()
    for _ in range(10):  # power 1024
        power = power @ power
    dist = power[:, 0, :]
    return dist / dist.sum(-1, keepdims=True)


def simulate_chain(
    chain: Chain,
    classes: np.ndarray,
    open_month: np.ndarray,
    n_months: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw state paths of one chain for a block of accounts.

    Parameters
    ----------
    chain : Chain
        The chain family.
    classes : numpy.ndarray
        ``(n,)`` class index of each account.
    open_month : numpy.ndarray
        ``(n,)`` window month of opening (negative: opened before the window).
    n_months : int
        Months to simulate (``0 .. n_months - 1``).
    rng : numpy.random.Generator
        Block generator; exactly ``n * n_months`` uniforms are drawn.

    Returns
    -------
    numpy.ndarray
        ``(n, n_months)`` int8 states (``-1`` before the account opens).
    """
    n = classes.shape[0]
    states = np.full((n, n_months), -1, dtype=np.int8)
    cum = np.cumsum(chain.transition, axis=-1)
    init_mature = np.cumsum(chain.initial_mature, axis=-1)
    init_new = np.cumsum(chain.initial_new, axis=-1)
    uniforms = rng.random((n_months, n))
    prev = np.zeros(n, dtype=np.int64)
    last = chain.n_states - 1
    for m in range(n_months):
        u = uniforms[m]
        step = (u[:, None] > cum[classes, m, prev]).sum(-1)
        if m == 0:
            start = (u[:, None] > init_mature[classes]).sum(-1)
            step = np.where(open_month < 0, start, step)
        fresh = open_month == m
        if fresh.any():
            step[fresh] = (u[fresh, None] > init_new[classes[fresh]]).sum(-1)
        prev = np.minimum(step, last)
        prev[open_month > m] = 0
        states[:, m] = np.where(open_month > m, -1, prev)
    return states


def regulatory_hazard(
    config: WorldConfig,
    birth_year: np.ndarray,
    is_student: np.ndarray,
    kyc_date: np.ndarray,
    other_lines: np.ndarray,
) -> np.ndarray:
    """Monthly regulatory hazard ``(n, n_months + horizon)`` from the true static attributes.

    During a sweep a targeted account (student, under 22 in that year, KYC older than three
    years at the month start, or more than six other credit lines) has the sweep hazard; all
    other account-months have the base hazard.
    """
    n_t = _periods(config)
    policy = config.policy
    assert policy is not None
    months = np.arange(n_t)
    in_sweep = np.zeros(n_t, dtype=bool)
    for day in policy.regulatory_sweeps:
        first = month_index(config, day)
        in_sweep |= (months >= first) & (months < first + config.sweep_months)
    month_start = np.datetime64(config.start, "M") + months
    year = month_start.astype("datetime64[Y]").astype(np.int64) + 1970
    stale_before = month_start.astype("datetime64[D]") - np.timedelta64(3 * 365 + 1, "D")
    targeted = (
        is_student[:, None]
        | (year[None, :] - birth_year[:, None] < 22)
        | (kyc_date[:, None] < stale_before[None, :])
        | (other_lines[:, None] > 6)
    )
    return np.where(
        targeted & in_sweep[None, :], config.regulatory_sweep_hazard, config.regulatory_base_hazard
    )
