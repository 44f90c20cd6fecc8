import datetime as dt

import pytest

from risk_model.policy import MIGRATION_RULE, SWEEP_RULES, PolicyCalendar


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


SWEEP = (dt.date(2024, 1, 1),)


def test_rules_in_force_come_from_the_calendar():
    assert PolicyCalendar().rules() == frozenset()  # nothing known: no rule
    only_students = PolicyCalendar(regulatory_sweeps=SWEEP, sweep_rules=("student",))
    assert only_students.rules() == {"student"}
    # a calendar written before rules were recorded: every sweep rule, if there are sweeps
    assert PolicyCalendar(regulatory_sweeps=SWEEP).rules() == set(SWEEP_RULES)
    assert PolicyCalendar(sweep_rules=("age",)).rules() == frozenset()  # no sweep, no rule
    migration = PolicyCalendar(migration_deadline=dt.date(2025, 1, 1))
    assert migration.rules() == {MIGRATION_RULE}


def test_sweep_rules_round_trip_and_unknown_rules_are_refused():
    calendar = PolicyCalendar(regulatory_sweeps=SWEEP, sweep_rules=("age", "kyc"))
    assert PolicyCalendar.from_dict(calendar.to_dict()) == calendar
    assert "sweep_rules" not in PolicyCalendar(regulatory_sweeps=SWEEP).to_dict()
    with pytest.raises(ValueError, match="unknown sweep rules"):
        PolicyCalendar(regulatory_sweeps=SWEEP, sweep_rules=("weather",))


def test_the_synthetic_world_records_what_its_sweeps_target():
    from risk_model.synthetic.config import default_policy

    assert default_policy("2023-01", 36).sweep_rules == SWEEP_RULES
