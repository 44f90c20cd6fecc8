"""The provider's policy calendar: dates of regulatory sweeps and product migration.

Policy dates are public or announced in advance (a regulator's deadline, a product's
retirement date), so features may use both the time since a past policy date and the
time until an announced one. Real data may know none of them: every field is optional.

The calendar also says which rules apply (:meth:`PolicyCalendar.rules`): the attributes
regulatory sweeps target (:data:`SWEEP_RULES`) and the product migration. A feature
speaks to a closure cause through a rule only where the calendar has that rule (age is a
regulatory factor only under an age rule); elsewhere it is a profile factor
(:func:`risk_model.features.catalogue.causes_under`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# What regulatory sweeps may target: students, the young (an age limit), identity checks
# older than a limit, and holders of many other credit lines (multi-borrowing caps).
SWEEP_RULES = ("student", "age", "kyc", "credit_lines")
MIGRATION_RULE = "migration"


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
    sweep_rules : tuple of str, optional
        What the sweeps target (values of :data:`SWEEP_RULES`); None when not recorded
        (a calendar written before the rules were: every rule, if there are sweeps).
    """

    regulatory_sweeps: tuple[dt.date, ...] = field(default_factory=tuple)
    migration_offer: dt.date | None = None
    migration_deadline: dt.date | None = None
    sweep_rules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.sweep_rules is not None:
            unknown = set(self.sweep_rules) - set(SWEEP_RULES)
            if unknown:
                raise ValueError(f"unknown sweep rules {sorted(unknown)}; known: {SWEEP_RULES}")
            object.__setattr__(self, "sweep_rules", tuple(self.sweep_rules))
        if list(self.regulatory_sweeps) != sorted(self.regulatory_sweeps):
            raise ValueError("regulatory_sweeps must be in ascending order")
        if (
            self.migration_offer is not None
            and self.migration_deadline is not None
            and self.migration_deadline < self.migration_offer
        ):
            raise ValueError("migration_deadline must not precede migration_offer")

    def rules(self) -> frozenset[str]:
        """Return the rules in force: sweep targets (if there are sweeps) and migration."""
        sweeps = (
            set(SWEEP_RULES if self.sweep_rules is None else self.sweep_rules)
            if self.regulatory_sweeps
            else set()
        )
        migration = {MIGRATION_RULE} if self.migration_deadline is not None else set()
        return frozenset(sweeps | migration)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (ISO dates; ``sweep_rules`` only when recorded)."""
        out: dict[str, Any] = {
            "regulatory_sweeps": [d.isoformat() for d in self.regulatory_sweeps],
            "migration_offer": _iso(self.migration_offer),
            "migration_deadline": _iso(self.migration_deadline),
        }
        if self.sweep_rules is not None:
            out["sweep_rules"] = list(self.sweep_rules)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyCalendar:
        """Build from :meth:`to_dict` output; ``None`` or ``{}`` gives an empty calendar."""
        data = data or {}
        keys = {"regulatory_sweeps", "migration_offer", "migration_deadline", "sweep_rules"}
        unknown = set(data) - keys
        if unknown:
            raise ValueError(f"unknown policy calendar keys: {sorted(unknown)}")
        return cls(
            regulatory_sweeps=tuple(
                dt.date.fromisoformat(d) for d in data.get("regulatory_sweeps", [])
            ),
            migration_offer=_date(data.get("migration_offer")),
            migration_deadline=_date(data.get("migration_deadline")),
            sweep_rules=None if data.get("sweep_rules") is None else tuple(data["sweep_rules"]),
        )


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)
