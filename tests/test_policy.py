import datetime as dt

import pytest

from risk_model.policy import PolicyCalendar


def test_round_trip_through_dict():
    calendar = PolicyCalendar(
        regulatory_sweeps=(dt.date(2024, 1, 1), dt.date(2025, 3, 1)),
        migration_offer=dt.date(2024, 6, 1),
        migration_deadline=dt.date(2025, 6, 1),
    )
    assert PolicyCalendar.from_dict(calendar.to_dict()) == calendar


def test_empty_calendar_from_none():
    assert PolicyCalendar.from_dict(None) == PolicyCalendar()
    assert PolicyCalendar().to_dict()["migration_deadline"] is None


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="unknown policy calendar keys"):
        PolicyCalendar.from_dict({"sweeps": []})


def test_sweeps_must_ascend():
    with pytest.raises(ValueError, match="ascending"):
        PolicyCalendar(regulatory_sweeps=(dt.date(2025, 1, 1), dt.date(2024, 1, 1)))


def test_deadline_after_offer():
    with pytest.raises(ValueError, match="must not precede"):
        PolicyCalendar(migration_offer=dt.date(2025, 1, 1), migration_deadline=dt.date(2024, 1, 1))
