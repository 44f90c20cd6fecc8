"""Realised latent paths of a block: chain states, closure month, cause and date."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.accounts import Accounts
from risk_model.synthetic.config import CAUSE_PRIORITY, WorldConfig
from risk_model.synthetic.latent import (
    Chain,
    cashout_chain,
    dormancy_chain,
    migration_chain,
    overdue_chain,
    regulatory_hazard,
    simulate_chain,
)

CHAIN_CAUSES: tuple[str, ...] = ("overdue", "cashout", "dormancy", "migration")
_DAY = np.timedelta64(1, "D")


def build_chains(config: WorldConfig) -> dict[str, Chain]:
    """Return the chain of every chain-driven cause, keyed by cause."""
    return {
        "overdue": overdue_chain(config),
        "cashout": cashout_chain(config),
        "dormancy": dormancy_chain(config),
        "migration": migration_chain(config),
    }


def chain_classes(accounts: Accounts) -> dict[str, np.ndarray]:
    """Return each account's class in every chain, keyed by cause."""
    return {
        "overdue": accounts.resilience,
        "cashout": accounts.cashout_class,
        "dormancy": accounts.engagement,
        "migration": accounts.migration_class,
    }


@dataclass(frozen=True)
class Paths:
    """Realised latent paths of a block of accounts.

    Parameters
    ----------
    states : dict of str to numpy.ndarray
        ``(n, n_months)`` int8 state of each chain (``-1`` before opening; after closure the
        path continues but is never observed).
    regulatory : numpy.ndarray
        ``(n, n_months + horizon)`` regulatory hazard.
    closure_month : numpy.ndarray
        Window month of closure, ``n_months`` if still open at the window end.
    cause : numpy.ndarray
        Index into ``CAUSE_PRIORITY`` of the recorded cause, ``-1`` if open.
    closure_date : numpy.ndarray
        ``datetime64[D]`` closure date (NaT if open).
    """

    states: dict[str, np.ndarray]
    regulatory: np.ndarray
    closure_month: np.ndarray
    cause: np.ndarray
    closure_date: np.ndarray

    @property
    def closed(self) -> np.ndarray:
        """Whether each account closed within the window."""
        return self.cause >= 0


def monthly_hazards(
    chains: dict[str, Chain],
    classes: dict[str, np.ndarray],
    states: dict[str, np.ndarray],
    regulatory: np.ndarray,
) -> np.ndarray:
    """Stack the hazard of every cause, ``(n, n_months, n_causes)`` in ``CAUSE_PRIORITY`` order."""
    n, n_months = states["overdue"].shape
    months = np.arange(n_months)[None, :]
    out = np.empty((n, n_months, len(CAUSE_PRIORITY)))
    for i, cause in enumerate(CAUSE_PRIORITY):
        if cause == "regulatory":
            out[:, :, i] = regulatory[:, :n_months]
            continue
        state = states[cause].astype(np.int64)
        out[:, :, i] = chains[cause].hazard[classes[cause][:, None], months, np.maximum(state, 0)]
    return out


def simulate_paths(
    config: WorldConfig, chains: dict[str, Chain], accounts: Accounts, rng: np.random.Generator
) -> Paths:
    """Draw chain paths and closures of a block from the same hazards the truth uses.

    Within a month every cause fires independently with its hazard; the account closes if any
    fires and the first firing cause in ``CAUSE_PRIORITY`` is recorded.
    """
    n, n_months = accounts.n, config.n_months
    classes = chain_classes(accounts)
    states = {
        cause: simulate_chain(chains[cause], classes[cause], accounts.open_month, n_months, rng)
        for cause in CHAIN_CAUSES
    }
    regulatory = regulatory_hazard(
        config, accounts.birth_year, accounts.is_student, accounts.kyc_date, accounts.other_lines
    )
    hazards = monthly_hazards(chains, classes, states, regulatory)
    opened = np.arange(n_months)[None, :] >= accounts.open_month[:, None]
    fires = (rng.random(hazards.shape) < hazards) & opened[:, :, None]
    any_fire = fires.any(-1)
    closed = any_fire.any(-1)
    closure_month = np.where(closed, any_fire.argmax(-1), n_months)
    rows = np.flatnonzero(closed)
    cause = np.full(n, -1, dtype=np.int64)
    cause[rows] = fires[rows, closure_month[rows]].argmax(-1)
    # Closure day: uniform within the month, not before the opening date.
    month_first = (np.datetime64(config.start, "M") + closure_month).astype("datetime64[D]")
    days = (
        (np.datetime64(config.start, "M") + closure_month + 1).astype("datetime64[D]") - month_first
    ).astype(np.int64)
    earliest = np.maximum((accounts.open_date - month_first).astype(np.int64), 0)
    day = earliest + (rng.random(n) * (days - earliest)).astype(np.int64)
    closure_date = np.where(closed, month_first + day * _DAY, np.datetime64("NaT", "D"))
    return Paths(states, regulatory, closure_month, cause, closure_date)
