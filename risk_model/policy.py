"""The provider's policy calendar: regulatory sweeps (dates, length, who they target) and migration.

Policy dates and rules are public or announced in advance (a regulator's deadline and the
account types it names, a product's retirement date), so features may use both the time
since a past policy date and the time until an announced one, and whether an account meets
a published sweep rule. Real data may know none of them: every field is optional.

The published rule also says which causes profile attributes speak to
(:meth:`PolicyCalendar.rules`): age is a regulatory factor only under a rule that names age;
elsewhere it is a profile factor (:func:`risk_model.features.registry.causes_under`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from risk_model.dates import add_months

#: What regulatory sweeps may target, by the profile feature a rule clause names: students,
#: the young (an age limit), identity checks older than a limit, and holders of many other
#: credit lines (multi-borrowing caps).
RULE_OF_FEATURE = {
    "is_student": "student", "age_years": "age", "months_since_kyc": "kyc",
    "other_credit_lines": "credit_lines",
}  # fmt: skip
RULE_FEATURES = tuple(RULE_OF_FEATURE)
SWEEP_RULES = tuple(RULE_OF_FEATURE.values())
MIGRATION_RULE = "migration"
RULE_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal}  # fmt: skip


@dataclass(frozen=True)
class TargetCondition:
    """One clause of a published sweep rule: ``feature op value`` (e.g. ``age_years < 22``).

    Parameters
    ----------
    feature : str
        A profile feature of :data:`RULE_FEATURES`, evaluated at the as-of date.
    op : str
        One of ``<``, ``<=``, ``>``, ``>=``, ``==``.
    value : float
        Threshold.
    """

    feature: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.feature not in RULE_FEATURES:
            raise ValueError(
                f"sweep rule feature must be one of {RULE_FEATURES}, got {self.feature!r}"
            )
        if self.op not in RULE_OPS:
            raise ValueError(f"sweep rule op must be one of {sorted(RULE_OPS)}, got {self.op!r}")
        object.__setattr__(self, "value", float(self.value))

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Where the clause holds (False where the value is missing)."""
        with np.errstate(invalid="ignore"):
            return RULE_OPS[self.op](values, self.value) & ~np.isnan(values)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"feature": self.feature, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class PolicyCalendar:
    """Known policy dates.

    Parameters
    ----------
    regulatory_sweeps : tuple of datetime.date
        First days of compliance sweeps (ascending).
    migration_offer : datetime.date, optional
        Date legacy-product holders were first offered migration.
    migration_deadline : datetime.date, optional
        Date after which non-migrated legacy accounts are closed.
    sweep_months : int
        Announced length of each sweep in calendar months (from its first day).
    sweep_targets : tuple of TargetCondition, optional
        The published rule: an account is targeted by a sweep when *any* clause holds.
        ``None`` when not recorded; then the targeting features are missing and, if there
        are sweeps, every attribute of :data:`SWEEP_RULES` is taken to be one they target.
    """

    regulatory_sweeps: tuple[dt.date, ...] = field(default_factory=tuple)
    migration_offer: dt.date | None = None
    migration_deadline: dt.date | None = None
    sweep_months: int = 1
    sweep_targets: tuple[TargetCondition, ...] | None = None

    def __post_init__(self) -> None:
        if list(self.regulatory_sweeps) != sorted(self.regulatory_sweeps):
            raise ValueError("regulatory_sweeps must be in ascending order")
        if (
            self.migration_offer is not None
            and self.migration_deadline is not None
            and self.migration_deadline < self.migration_offer
        ):
            raise ValueError("migration_deadline must not precede migration_offer")
        if isinstance(self.sweep_months, bool) or not isinstance(self.sweep_months, int):
            raise ValueError(f"sweep_months must be an integer, got {self.sweep_months!r}")
        if self.sweep_months < 1:
            raise ValueError(f"sweep_months must be >= 1, got {self.sweep_months}")
        if self.sweep_targets is not None:
            if not all(isinstance(c, TargetCondition) for c in self.sweep_targets):
                raise ValueError("sweep_targets must hold TargetCondition clauses")
            object.__setattr__(self, "sweep_targets", tuple(self.sweep_targets))

    def rules(self) -> frozenset[str]:
        """Return the rules in force: sweep targets (if there are sweeps) and migration."""
        sweeps: set[str] = set()
        if self.regulatory_sweeps:
            targets = self.sweep_targets
            sweeps = (
                set(SWEEP_RULES)
                if targets is None
                else {RULE_OF_FEATURE[c.feature] for c in targets}
            )
        migration = {MIGRATION_RULE} if self.migration_deadline is not None else set()
        return frozenset(sweeps | migration)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (ISO dates)."""
        return {
            "regulatory_sweeps": [d.isoformat() for d in self.regulatory_sweeps],
            "migration_offer": _iso(self.migration_offer),
            "migration_deadline": _iso(self.migration_deadline),
            "sweep_months": self.sweep_months,
            "sweep_targets": (
                None if self.sweep_targets is None else [c.to_dict() for c in self.sweep_targets]
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyCalendar:
        """Build from :meth:`to_dict` output; ``None`` or ``{}`` gives an empty calendar.

        Calendars written before sweep lengths and rules existed load with one-month sweeps
        and the rule not recorded.
        """
        data = data or {}
        unknown = set(data) - {
            "regulatory_sweeps", "migration_offer", "migration_deadline", "sweep_months",
            "sweep_targets",
        }  # fmt: skip
        if unknown:
            raise ValueError(f"unknown policy calendar keys: {sorted(unknown)}")
        return cls(
            regulatory_sweeps=tuple(
                dt.date.fromisoformat(d) for d in data.get("regulatory_sweeps", [])
            ),
            migration_offer=_date(data.get("migration_offer")),
            migration_deadline=_date(data.get("migration_deadline")),
            sweep_months=data.get("sweep_months", 1),
            sweep_targets=_targets(data.get("sweep_targets")),
        )

    def sweep_windows(self) -> list[tuple[dt.date, dt.date]]:
        """Each sweep as ``(first day, first day after it)``."""
        return [(d, _same_day_later(d, self.sweep_months)) for d in self.regulatory_sweeps]


def _targets(clauses: list[dict[str, Any]] | None) -> tuple[TargetCondition, ...] | None:
    return None if clauses is None else tuple(TargetCondition(**c) for c in clauses)


def _same_day_later(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` later (clamped to that month's last day)."""
    end = add_months(day, months)
    return end.replace(day=min(day.day, end.day))


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)
