"""Calendar helpers shared by labels, features and the pipelines (month-end arithmetic)."""

from __future__ import annotations

import datetime as dt


def month_end(day: dt.date) -> dt.date:
    """Return the last day of ``day``'s month."""
    first_next = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the month end ``months`` months after the month of ``day`` (may be negative)."""
    index = day.year * 12 + day.month - 1 + months
    return month_end(dt.date(index // 12, index % 12 + 1, 1))


def month_start(day: dt.date, months: int = 0) -> dt.date:
    """Return the first day of the month ``months`` months after ``day``'s month."""
    return add_months(day, months).replace(day=1)


def as_date(value: object, *, name: str = "as_of") -> dt.date:
    """Read a calendar date given as a date, a datetime (its day) or an ISO ``YYYY-MM-DD`` string.

    Raises
    ------
    TypeError
        For any other type (a month like ``"2025-12"`` is not a date).
    ValueError
        For a string that is not an ISO date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            if len(value) != 10:
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{name} must be an ISO date like 2025-12-31, got {value[:40]!r}"
            ) from None
    raise TypeError(f"{name} must be a date or an ISO date string, got {type(value).__name__}")
