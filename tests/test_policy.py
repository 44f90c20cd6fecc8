import datetime as dt

import numpy as np
import pytest

from risk_model.policy import MIGRATION_RULE, SWEEP_RULES, PolicyCalendar, TargetCondition


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
STUDENTS = (TargetCondition("is_student", "==", 1),)


def test_rules_in_force_come_from_the_calendar():
    assert PolicyCalendar().rules() == frozenset()  # nothing known: no rule
    only_students = PolicyCalendar(regulatory_sweeps=SWEEP, sweep_targets=STUDENTS)
    assert only_students.rules() == {"student"}
    # a calendar written before rules were recorded: every sweep rule, if there are sweeps
    assert PolicyCalendar(regulatory_sweeps=SWEEP).rules() == set(SWEEP_RULES)
    assert PolicyCalendar(regulatory_sweeps=SWEEP, sweep_targets=()).rules() == frozenset()
    assert PolicyCalendar(sweep_targets=STUDENTS).rules() == frozenset()  # no sweep, no rule
    migration = PolicyCalendar(migration_deadline=dt.date(2025, 1, 1))
    assert migration.rules() == {MIGRATION_RULE}


def test_the_synthetic_world_records_what_its_sweeps_target():
    from risk_model.synthetic.config import default_policy

    assert default_policy("2023-01", 36).rules() - {MIGRATION_RULE} == set(SWEEP_RULES)


RULE = (TargetCondition("age_years", "<", 22), TargetCondition("other_credit_lines", ">", 6))


def test_sweep_rule_round_trips_through_dict():
    calendar = PolicyCalendar(
        regulatory_sweeps=(dt.date(2024, 1, 1),), sweep_months=2, sweep_targets=RULE
    )
    data = calendar.to_dict()
    assert data["sweep_targets"][0] == {"feature": "age_years", "op": "<", "value": 22.0}
    assert PolicyCalendar.from_dict(data) == calendar


def test_calendar_written_before_rules_loads_with_one_month_sweeps_and_no_rule():
    old = {"regulatory_sweeps": ["2024-01-01"], "migration_offer": None}
    calendar = PolicyCalendar.from_dict(old)
    assert calendar.sweep_months == 1
    assert calendar.sweep_targets is None


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ({"feature": "income", "op": "<", "value": 1}, "sweep rule feature"),
        ({"feature": "age_years", "op": "!=", "value": 1}, "sweep rule op"),
    ],
)
def test_rule_naming_an_unknown_feature_or_comparison_is_refused(clause, message):
    with pytest.raises(ValueError, match=message):
        PolicyCalendar.from_dict({"sweep_targets": [clause]})


@pytest.mark.parametrize("months", [0, True, 1.5])
def test_sweep_length_must_be_a_positive_integer(months):
    with pytest.raises(ValueError, match="sweep_months"):
        PolicyCalendar(sweep_months=months)


def test_sweep_windows_end_after_the_announced_length():
    calendar = PolicyCalendar(regulatory_sweeps=(dt.date(2024, 11, 1),), sweep_months=3)
    assert calendar.sweep_windows() == [(dt.date(2024, 11, 1), dt.date(2025, 2, 1))]


def test_clause_holds_only_where_the_value_is_known():
    clause = TargetCondition("age_years", "<", 22)
    assert clause.holds(np.array([19.0, 22.0, np.nan])).tolist() == [True, False, False]
