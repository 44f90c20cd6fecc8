"""Static account attributes: profile, latent classes and behavioural traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.synthetic.config import WorldConfig, month_index
from risk_model.synthetic.latent import CURRENT_CLASS
from risk_model.synthetic.merchants import MerchantPool

_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Accounts:
    """True static attributes of a block of accounts (arrays of length ``n``).

    ``*_observed`` masks say which nullable profile values appear in the data; the truth uses
    the true values.
    """

    index: np.ndarray
    open_month: np.ndarray
    open_date: np.ndarray
    birth_year: np.ndarray
    is_student: np.ndarray
    kyc_date: np.ndarray
    is_legacy: np.ndarray
    city_tier: np.ndarray
    other_lines: np.ndarray
    birth_observed: np.ndarray
    student_observed: np.ndarray
    kyc_observed: np.ndarray
    city_observed: np.ndarray
    lines_observed: np.ndarray
    resilience: np.ndarray
    cashout_class: np.ndarray
    engagement: np.ndarray
    credit_limit: np.ndarray
    spend_rate: np.ndarray
    round_buyer: np.ndarray
    night_owl: np.ndarray
    regulars: np.ndarray
    ring: np.ndarray

    @property
    def n(self) -> int:
        """Number of accounts."""
        return self.index.shape[0]

    @property
    def migration_class(self) -> np.ndarray:
        """Class of the migration chain: engagement class if legacy, else the current class."""
        return np.where(self.is_legacy, self.engagement, CURRENT_CLASS)


def draw_accounts(
    config: WorldConfig, first_index: int, n: int, pool: MerchantPool, rng: np.random.Generator
) -> Accounts:
    """Draw the static attributes of accounts ``first_index .. first_index + n - 1``.

    Parameters
    ----------
    config : WorldConfig
        World parameters.
    first_index : int
        Global index of the first account of the block.
    n : int
        Number of accounts.
    pool : MerchantPool
        Merchants (for regular and colluding merchants of each account).
    rng : numpy.random.Generator
        Block generator.

    Returns
    -------
    Accounts
        Static attributes.
    """
    start = np.datetime64(config.start, "M")
    start_year = int(config.start[:4])
    young = rng.random(n) < 0.18
    age = np.where(
        young, rng.integers(18, 24, n), 23 + np.minimum(rng.gamma(2.5, 7.0, n), 47).astype(int)
    )
    birth_year = (start_year - age).astype(np.int16)
    before = rng.random(n) < config.pre_window_share
    open_month = np.where(
        before,
        -np.minimum(rng.integers(1, 73, n), np.maximum((age - 18) * 12, 1)),
        rng.integers(0, config.n_months, n),
    )
    month_first = (start + open_month).astype("datetime64[D]")
    days = ((start + open_month + 1).astype("datetime64[D]") - month_first).astype(np.int64)
    open_date = month_first + (rng.random(n) * days).astype(np.int64) * _DAY
    is_student = rng.random(n) < np.where(age < 24, 0.45, 0.005)
    window_start = start.astype("datetime64[D]")
    # Most holders refreshed their KYC in the 8 months before the window; the rest may be stale.
    refreshed = rng.random(n) < 0.85
    recent = window_start - (rng.random(n) * 240).astype(np.int64) * _DAY
    kyc_date = np.where(refreshed, np.maximum(open_date, recent), open_date)
    other_lines = rng.poisson(rng.gamma(2.0, 1.1, n)).astype(np.int16)
    city_tier = (rng.choice(5, n, p=[0.15, 0.25, 0.3, 0.2, 0.1]) + 1).astype(np.int8)
    policy = config.policy
    assert policy is not None
    offer = month_index(config, policy.migration_offer) if policy.migration_offer else 10**6
    is_legacy = (open_month < offer) & (rng.random(n) < config.legacy_share)
    # A latent fragility links overdue stress and cash-out propensity.
    fragility = rng.standard_normal(n)
    resilience = (fragility > 0.5).astype(np.int64) + (fragility > 1.5)
    p_cashout = config.cashout_share * np.where(fragility > 1.0, 3.35, 0.55)
    cashout_class = (rng.random(n) < p_cashout).astype(np.int64)
    engagement = rng.choice(3, n, p=[0.40, 0.45, 0.15])
    limit = np.round(np.exp(rng.normal(np.log(8000.0), 0.7, n)) / 500.0) * 500.0
    credit_limit = np.clip(limit, 1000.0, 100_000.0)
    spend_rate = config.purchases_per_month * rng.lognormal(0.0, 0.5, n) / np.exp(0.125)
    null = config.profile_null_rate
    colluding = pool.colluding_index
    regulars = pool.pick(
        rng.choice(8, (n, 3), p=[0.4, 0.3, 0.1, 0, 0, 0.05, 0.1, 0.05]), rng.random((n, 3))
    )
    return Accounts(
        index=np.arange(first_index, first_index + n, dtype=np.int64),
        open_month=open_month.astype(np.int64),
        open_date=open_date,
        birth_year=birth_year,
        is_student=is_student,
        kyc_date=kyc_date,
        is_legacy=is_legacy,
        city_tier=city_tier,
        other_lines=other_lines,
        birth_observed=rng.random(n) >= null / 2,
        student_observed=rng.random(n) >= null / 2,
        kyc_observed=rng.random(n) >= null / 2,
        city_observed=rng.random(n) >= null,
        lines_observed=rng.random(n) >= null,
        resilience=resilience,
        cashout_class=cashout_class,
        engagement=engagement,
        credit_limit=credit_limit,
        spend_rate=spend_rate,
        round_buyer=rng.random(n) < config.round_buyer_share,
        night_owl=rng.random(n) < config.night_owl_share,
        regulars=regulars,
        ring=colluding[rng.integers(0, colluding.shape[0], (n, 2))],
    )
