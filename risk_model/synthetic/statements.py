"""Monthly statements of a block: payment plans, balances, days past due."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.accounts import Accounts
from risk_model.synthetic.calendar import SECONDS_PER_DAY, Calendar
from risk_model.synthetic.config import WorldConfig
from risk_model.synthetic.latent import N_BUCKETS
from risk_model.synthetic.paths import Paths

# Payment plan of a statement, fixed by the delinquency transition that follows it.
UNKNOWN, NOTHING, PARTIAL, MINIMUM, BETWEEN, FULL = -1, 0, 1, 2, 3, 4
FULL_PAYER_SHARE = np.array([0.80, 0.45, 0.20])  # by stress level in the next month
DUE_DAY = 20


@dataclass(frozen=True)
class PaymentPlan:
    """What each statement's payment looks like, decided before amounts are known.

    Parameters
    ----------
    kind : numpy.ndarray
        ``(n, n_months)`` plan code (``UNKNOWN`` when the payment falls outside the data).
    seconds : numpy.ndarray
        ``(n, n_months)`` epoch seconds of the payment (meaningful when ``kind > NOTHING``).
    fraction : numpy.ndarray
        ``(n, n_months)`` uniform used to size partial and in-between payments.
    """

    kind: np.ndarray
    seconds: np.ndarray
    fraction: np.ndarray


def plan_payments(
    config: WorldConfig, calendar: Calendar, paths: Paths, rng: np.random.Generator
) -> PaymentPlan:
    """Decide each statement's payment from the delinquency bucket it leads to."""
    n, n_months = calendar.active.shape
    overdue = paths.states["overdue"].astype(np.int64)
    bucket, stress = overdue % N_BUCKETS, overdue // N_BUCKETS
    nxt = np.concatenate([bucket[:, 1:], bucket[:, -1:]], axis=1)
    nxt_stress = np.concatenate([stress[:, 1:], stress[:, -1:]], axis=1)
    u = rng.random((3, n, n_months))
    missed = (nxt > bucket) | ((bucket == N_BUCKETS - 1) & (nxt == bucket))
    full = u[0] < FULL_PAYER_SHARE[np.clip(nxt_stress, 0, 2)]
    kind = np.where(
        nxt == 0,
        np.where(full, FULL, np.where(u[1] < 0.5, MINIMUM, BETWEEN)),
        np.where(missed, np.where(u[1] < 0.3, PARTIAL, NOTHING), PARTIAL),
    )
    months = np.arange(n_months)[None, :]
    known = calendar.active & (months < n_months - 1) & (months < paths.closure_month[:, None])
    kind = np.where(known, kind, UNKNOWN)
    next_first = calendar.month_seconds()[1:][None, :]
    day = (u[2] * DUE_DAY).astype(np.int64)
    tod = 8 * 3600 + (rng.random((n, n_months)) * 15 * 3600).astype(np.int64)
    seconds = next_first + day * SECONDS_PER_DAY + tod
    return PaymentPlan(kind=kind, seconds=seconds, fraction=rng.random((n, n_months)))


@dataclass(frozen=True)
class Statements:
    """Statement values on the ``(n, n_months)`` grid (``present`` marks rows in the data)."""

    present: np.ndarray
    billed: np.ndarray
    minimum: np.ndarray
    paid: np.ndarray
    paid_known: np.ndarray
    paid_date: np.ndarray
    dpd: np.ndarray


def build_statements(
    calendar: Calendar,
    accounts: Accounts,
    paths: Paths,
    plan: PaymentPlan,
    net_spend: np.ndarray,
    missing_rate: float,
    rng: np.random.Generator,
) -> Statements:
    """Roll balances month by month: billed = carried balance + net spend; pay by the plan."""
    n, n_months = calendar.active.shape
    bucket = paths.states["overdue"].astype(np.int64) % N_BUCKETS
    limit = accounts.credit_limit
    u = rng.random((3, n))
    carry = limit * (0.3 * u[0] + np.where(bucket[:, 0] > 0, 0.3 + 0.4 * u[1], 0.0))
    carry = np.where(accounts.open_month < 0, np.round(carry, 2), 0.0)
    billed = np.zeros((n, n_months))
    minimum = np.zeros((n, n_months))
    paid = np.zeros((n, n_months))
    run_90 = np.zeros(n, dtype=np.int64)
    dpd = np.zeros((n, n_months), dtype=np.int64)
    extra_days = rng.integers(1, 31, (n, n_months))
    for m in range(n_months):
        bill = np.round(np.maximum(carry + net_spend[:, m], 0.0), 2)
        low = np.round(0.1 * bill, 2)
        kind, f = plan.kind[:, m], plan.fraction[:, m]
        pay = np.select(
            [kind == PARTIAL, kind == MINIMUM, kind == BETWEEN, kind == FULL],
            [np.round((0.1 + 0.8 * f) * low, 2), low, np.round(low + f * (bill - low), 2), bill],
            0.0,
        )
        billed[:, m], minimum[:, m], paid[:, m] = bill, low, pay
        carry = np.where(calendar.active[:, m], bill - pay, carry)
        b = bucket[:, m]
        run_90 = np.where(b == N_BUCKETS - 1, run_90 + 1, 0)
        dpd[:, m] = np.where(
            b == 0, 0, 30 * (b - 1) + 30 * np.maximum(run_90 - 1, 0) + extra_days[:, m]
        )
    present = calendar.active & (rng.random((n, n_months)) >= missing_rate)
    return Statements(
        present=present,
        billed=billed,
        minimum=minimum,
        paid=paid,
        paid_known=plan.kind != UNKNOWN,
        paid_date=(plan.seconds // SECONDS_PER_DAY).astype("datetime64[D]"),
        dpd=np.minimum(dpd, 3650),
    )
