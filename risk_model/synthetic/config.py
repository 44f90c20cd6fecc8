"""Parameters of the synthetic credit world (:class:`WorldConfig`) and its fixed vocabularies.

Determinism rule
----------------
Accounts are simulated in *blocks* of ``block_size`` consecutive account indices. Block ``b``
draws every random number from ``default_rng(SeedSequence(seed, spawn_key=(0, b)))``
and merchants from ``SeedSequence(seed, spawn_key=(1,))``. A chunk
written to disk is a whole number of blocks, so the output depends on ``(seed, block_size)``
and the other world parameters but never on ``chunk_size``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, fields
from typing import Any

from risk_model import contract as C
from risk_model.dates import month_start
from risk_model.policy import PolicyCalendar, TargetCondition

# Order in which simultaneous causes are recorded: the first firing cause wins.
CAUSE_PRIORITY: tuple[str, ...] = ("regulatory", "cashout", "overdue", "migration", "dormancy")

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "groceries",
    "restaurant",
    "online_retail",
    "electronics",
    "travel",
    "utilities",
    "snack_stall",
    "fashion",
)
# Share of merchants, share of purchases, median purchase (CNY), weight among colluding merchants.
CATEGORY_MERCHANT_SHARE = (0.20, 0.22, 0.15, 0.05, 0.04, 0.04, 0.20, 0.10)
CATEGORY_PURCHASE_SHARE = (0.28, 0.24, 0.16, 0.03, 0.03, 0.06, 0.12, 0.08)
CATEGORY_MEDIAN_AMOUNT = (70.0, 55.0, 140.0, 900.0, 650.0, 120.0, 18.0, 230.0)
CATEGORY_COLLUSION_WEIGHT = (0.3, 0.3, 3.5, 0.6, 0.1, 0.1, 5.0, 0.4)
# Channel probabilities per category, columns in the order of contract.CHANNELS
# (offline_qr, online_shop, in_app_order, other).
CATEGORY_CHANNEL_PROBS = (
    (0.70, 0.05, 0.20, 0.05),
    (0.60, 0.00, 0.35, 0.05),
    (0.02, 0.90, 0.05, 0.03),
    (0.30, 0.60, 0.05, 0.05),
    (0.05, 0.30, 0.60, 0.05),
    (0.05, 0.05, 0.80, 0.10),
    (0.95, 0.00, 0.03, 0.02),
    (0.40, 0.50, 0.05, 0.05),
)
CASHOUT_PATTERN_AMOUNTS = (588.0, 688.0, 998.0, 1999.0, 2999.0, 4999.0, 9999.0)
TOPUP_AMOUNTS = (50.0, 100.0, 200.0, 300.0, 500.0)

_PROBABILITY_FIELDS = (
    "pre_window_share",
    "legacy_share",
    "cashout_share",
    "colluding_merchant_share",
    "round_buyer_share",
    "night_owl_share",
    "refund_rate",
    "missing_statement_rate",
    "profile_null_rate",
    "regulatory_sweep_hazard",
    "regulatory_base_hazard",
    "migration_deadline_hazard",
)


@dataclass(frozen=True)
class WorldConfig:
    """Validated parameters of a synthetic world.

    Parameters
    ----------
    n_accounts : int
        Number of accounts (open at the window start or opened during the window).
    n_months : int
        Length of the observation window in months.
    seed : int
        Root seed; same seed and parameters give identical tables.
    horizon : int
        Truth horizon in months (closure within months ``t+1 .. t+horizon``).
    start : str
        First month of the window, ``"YYYY-MM"``.
    chunk_size : int
        Accounts per chunk written at once; rounded up to whole blocks (no effect on data).
    block_size : int
        Accounts per random-number block (part of the data's identity, see module notes).
    n_merchants : int
        Number of merchants.
    policy : PolicyCalendar, optional
        Sweep and migration dates; by default sweeps start at months ``n_months // 3`` and
        ``0.72 * n_months``, the migration offer at ``n_months // 6`` and the deadline at
        ``0.55 * n_months`` of the window.
    sweep_months : int
        Length of each regulatory sweep in months.
    pre_window_share : float
        Share of accounts opened before the window starts.
    legacy_share : float
        Share of pre-offer accounts opened on the ``legacy`` product.
    cashout_share : float
        Approximate share of accounts with a material cash-out propensity.
    colluding_merchant_share : float
        Share of merchants that help cash-out.
    round_buyer_share, night_owl_share : float
        Shares of legitimate accounts buying round amounts (top-up cards) / at night.
    refund_rate : float
        Probability that a purchase is refunded.
    missing_statement_rate : float
        Probability that a statement is missing from the extract.
    profile_null_rate : float
        Probability that a nullable profile field is missing.
    purchases_per_month : float
        Mean purchases of an engaged account per month.
    regulatory_sweep_hazard, regulatory_base_hazard : float
        Monthly regulatory closure hazard of a targeted account during a sweep / otherwise.
    migration_deadline_hazard : float
        Monthly closure hazard of a non-migrated legacy account after the deadline.
    macro_drift : float
        Relative rise of the stress-up probabilities over the window (macro worsening).
    """

    n_accounts: int = 20_000
    n_months: int = 36
    seed: int = 7
    horizon: int = 3
    start: str = "2023-01"
    chunk_size: int = 50_000
    block_size: int = 5_000
    n_merchants: int = 3_000
    policy: PolicyCalendar | None = field(default=None)
    sweep_months: int = 2
    pre_window_share: float = 0.75
    legacy_share: float = 0.22
    cashout_share: float = 0.015
    colluding_merchant_share: float = 0.01
    round_buyer_share: float = 0.05
    night_owl_share: float = 0.05
    refund_rate: float = 0.02
    missing_statement_rate: float = 0.01
    profile_null_rate: float = 0.02
    purchases_per_month: float = 6.0
    regulatory_sweep_hazard: float = 0.12
    regulatory_base_hazard: float = 0.0003
    migration_deadline_hazard: float = 0.5
    macro_drift: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "n_accounts",
            "n_months",
            "horizon",
            "chunk_size",
            "block_size",
            "sweep_months",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.horizon > 24:
            raise ValueError(f"horizon must be at most 24 months, got {self.horizon}")
        if not isinstance(self.n_merchants, int) or self.n_merchants < 100:
            raise ValueError(f"n_merchants must be an integer >= 100, got {self.n_merchants!r}")
        if not isinstance(self.start, str) or not re.fullmatch(
            r"\d{4}-(0[1-9]|1[0-2])", self.start
        ):
            raise ValueError(f"start must be a month 'YYYY-MM', got {self.start!r}")
        for name in _PROBABILITY_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if not 0.0 < self.purchases_per_month <= 100.0:
            raise ValueError(
                f"purchases_per_month must be in (0, 100], got {self.purchases_per_month!r}"
            )
        if not 0.0 <= self.macro_drift <= 5.0:
            raise ValueError(f"macro_drift must be in [0, 5], got {self.macro_drift!r}")
        if self.policy is None:
            object.__setattr__(
                self, "policy", default_policy(self.start, self.n_months, self.sweep_months)
            )
        elif not isinstance(self.policy, PolicyCalendar):
            raise ValueError("policy must be a PolicyCalendar or None")

    @property
    def start_date(self) -> dt.date:
        """First day of the window."""
        return dt.date.fromisoformat(self.start + "-01")

    @property
    def effective_chunk_size(self) -> int:
        """Chunk size rounded up to a whole number of blocks."""
        return -(-self.chunk_size // self.block_size) * self.block_size

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-ready dict (policy as ISO dates)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "policy"}
        assert self.policy is not None
        out["policy"] = self.policy.to_dict()
        return out


def month_index(config: WorldConfig, day: dt.date) -> int:
    """Return the window month index of ``day`` (0 = first window month; may be negative)."""
    start = config.start_date
    return (day.year - start.year) * 12 + day.month - start.month


#: The sweeps' published rule, as the world applies it (see ``latent.regulatory_hazard``):
#: students, holders under 22, identity checks older than three years, > 6 other lines.
SWEEP_TARGETS = (
    TargetCondition("is_student", "==", 1),
    TargetCondition("age_years", "<", 22),
    TargetCondition("months_since_kyc", ">", 36),
    TargetCondition("other_credit_lines", ">", 6),
)


def default_policy(start: str, n_months: int, sweep_months: int = 2) -> PolicyCalendar:
    """Build the default calendar for a window: two sweeps, one migration offer and deadline.

    Parameters
    ----------
    start : str
        First window month, ``"YYYY-MM"``.
    n_months : int
        Window length in months.
    sweep_months : int
        Length of each sweep in months.

    Returns
    -------
    PolicyCalendar
        Sweeps at months ``n_months // 3`` and ``round(0.72 n_months)`` with the published
        rule :data:`SWEEP_TARGETS`; migration offer at ``n_months // 6`` and deadline at
        ``round(0.55 n_months)`` (all month starts).
    """
    first = dt.date.fromisoformat(start + "-01")
    sweeps = sorted({n_months // 3, round(0.72 * n_months)})
    return PolicyCalendar(
        regulatory_sweeps=tuple(month_start(first, m) for m in sweeps),
        migration_offer=month_start(first, n_months // 6),
        migration_deadline=month_start(first, max(round(0.55 * n_months), n_months // 6)),
        sweep_months=sweep_months,
        sweep_targets=SWEEP_TARGETS,
    )


def config_from_dict(data: dict[str, Any]) -> WorldConfig:
    """Rebuild a :class:`WorldConfig` from :meth:`WorldConfig.to_dict` output."""
    known = {f.name for f in fields(WorldConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown WorldConfig keys: {sorted(unknown)}")
    values = dict(data)
    if values.get("policy") is not None:
        values["policy"] = PolicyCalendar.from_dict(values["policy"])
    return WorldConfig(**values)


assert len(MERCHANT_CATEGORIES) == len(CATEGORY_CHANNEL_PROBS)
assert set(CAUSE_PRIORITY) == set(C.CAUSES)
