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
