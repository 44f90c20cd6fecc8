"""The provider's policy calendar: dates of regulatory sweeps and product migration.

Policy dates are public or announced in advance (a regulator's deadline, a product's
retirement date), so features may use both the time since a past policy date and the
time until an announced one. Real data may know none of them: every field is optional.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


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
    """

    regulatory_sweeps: tuple[dt.date, ...] = field(default_factory=tuple)
    migration_offer: dt.date | None = None
    migration_deadline: dt.date | None = None

    def __post_init__(self) -> None:
        if list(self.regulatory_sweeps) != sorted(self.regulatory_sweeps):
            raise ValueError("regulatory_sweeps must be in ascending order")
        if (
            self.migration_offer is not None
            and self.migration_deadline is not None
            and self.migration_deadline < self.migration_offer
        ):
            raise ValueError("migration_deadline must not precede migration_offer")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (ISO dates)."""
        return {
            "regulatory_sweeps": [d.isoformat() for d in self.regulatory_sweeps],
            "migration_offer": _iso(self.migration_offer),
            "migration_deadline": _iso(self.migration_deadline),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PolicyCalendar:
        """Build from :meth:`to_dict` output; ``None`` or ``{}`` gives an empty calendar."""
        data = data or {}
        unknown = set(data) - {"regulatory_sweeps", "migration_offer", "migration_deadline"}
        if unknown:
            raise ValueError(f"unknown policy calendar keys: {sorted(unknown)}")
        return cls(
            regulatory_sweeps=tuple(
                dt.date.fromisoformat(d) for d in data.get("regulatory_sweeps", [])
            ),
            migration_offer=_date(data.get("migration_offer")),
            migration_deadline=_date(data.get("migration_deadline")),
        )


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)
