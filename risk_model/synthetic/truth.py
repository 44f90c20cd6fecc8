"""Exact truth: probability of closure within the horizon, split by cause.

For an account open at the end of month ``t`` with chain states ``s_t``, month ``t + k``
(``k = 1 .. H``) closes by cause ``c`` when every chain survived months ``t+1 .. t+k-1``, ``c``
fires at ``t + k`` and no higher-priority cause fires then. Chains are independent given the
static classes, so the expectation factorises into per-chain survival curves
``B_c(k) = E[prod_{j<=k} (1 - h_c(s_{t+j}))]``:

``P(c at k) = (B_c(k-1) - B_c(k)) * prod_{higher c'} B_c'(k) * prod_{lower c'} B_c'(k-1)``.

Each ``B_c`` depends only on (class, t, state), so it is a small lookup table computed by a
forward pass over the chain; the regulatory hazard is deterministic per account.
"""

from __future__ import annotations

import numpy as np

from risk_model.synthetic.config import CAUSE_PRIORITY
from risk_model.synthetic.latent import Chain


def survival_table(chain: Chain, n_months: int, horizon: int) -> np.ndarray:
    """Per-chain survival curves for every (class, as-of month, state).

    Parameters
    ----------
    chain : Chain
        Chain family with at least ``n_months + horizon`` periods.
    n_months : int
        Number of as-of months ``t = 0 .. n_months - 1``.
    horizon : int
        Horizon ``H`` in months.

    Returns
    -------
    numpy.ndarray
        ``(n_classes, n_months, n_states, H + 1)``; ``[q, t, s, k]`` is the probability that
        the cause does not fire in months ``t+1 .. t+k`` given class ``q`` and state ``s`` at
        ``t`` (``k = 0`` gives 1).
    """
    n_q, n_s = chain.transition.shape[0], chain.n_states
    out = np.ones((n_q, n_months, n_s, horizon + 1))
    dist = np.broadcast_to(np.eye(n_s), (n_q, n_months, n_s, n_s)).copy()
    for k in range(1, horizon + 1):
        step = chain.transition[:, k : k + n_months]
        alive = 1.0 - chain.hazard[:, k : k + n_months]
        dist = np.einsum("qtij,qtjl->qtil", dist, step) * alive[:, :, None, :]
        out[..., k] = dist.sum(-1)
    return out


def regulatory_survival(
    hazard: np.ndarray, account: np.ndarray, month: np.ndarray, horizon: int
) -> np.ndarray:
    """Survival curves ``(rows, H + 1)`` of the deterministic regulatory hazard.

    Parameters
    ----------
    hazard : numpy.ndarray
        ``(n, n_periods)`` regulatory hazard of each account and month.
    account, month : numpy.ndarray
        Row's account position and as-of month.
    horizon : int
        Horizon ``H``.
    """
    out = np.ones((account.shape[0], horizon + 1))
    for k in range(1, horizon + 1):
        out[:, k] = out[:, k - 1] * (1.0 - hazard[account, month + k])
    return out


def cause_probabilities(survival: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Combine per-cause survival curves into P(closed by each cause within the horizon).

    Parameters
    ----------
    survival : dict of str to numpy.ndarray
        ``(rows, H + 1)`` survival curve of every cause in ``CAUSE_PRIORITY``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``(rows,)`` probability per cause; their sum is ``1 - prod_c B_c(H)``.
    """
    curves = [survival[cause] for cause in CAUSE_PRIORITY]
    horizon = curves[0].shape[1] - 1
    out = {cause: np.zeros(curves[0].shape[0]) for cause in CAUSE_PRIORITY}
    for k in range(1, horizon + 1):
        for i, cause in enumerate(CAUSE_PRIORITY):
            term = curves[i][:, k - 1] - curves[i][:, k]
            for j, other in enumerate(curves):
                if j != i:
                    term = term * (other[:, k] if j < i else other[:, k - 1])
            out[cause] += term
    return out


def truth_rows(
    tables: dict[str, np.ndarray],
    classes: dict[str, np.ndarray],
    states: dict[str, np.ndarray],
    regulatory: np.ndarray,
    account: np.ndarray,
    month: np.ndarray,
    horizon: int,
) -> dict[str, np.ndarray]:
    """Exact cause probabilities for the given (account, as-of month) rows.

    Parameters
    ----------
    tables : dict of str to numpy.ndarray
        :func:`survival_table` of each chain cause.
    classes, states : dict of str to numpy.ndarray
        Per-account class and ``(n, n_months)`` states of each chain cause.
    regulatory : numpy.ndarray
        ``(n, n_periods)`` regulatory hazard.
    account, month : numpy.ndarray
        Rows: account position in the block and as-of month.
    horizon : int
        Horizon ``H``.

    Returns
    -------
    dict of str to numpy.ndarray
        Probability per cause for each row.
    """
    survival = {"regulatory": regulatory_survival(regulatory, account, month, horizon)}
    for cause, table in tables.items():
        state = states[cause][account, month].astype(np.int64)
        survival[cause] = table[classes[cause][account], month, state]
    return cause_probabilities(survival)
