import math

import pytest
from feature_records import D, account, histories

from risk_model.features import build_features
from risk_model.features.monthly import DAYS_PER_MONTH
from risk_model.policy import PolicyCalendar, TargetCondition

AS_OF = D(2024, 6, 30)
POLICY = PolicyCalendar(
    regulatory_sweeps=(D(2024, 3, 1), D(2024, 9, 1)),
    migration_offer=D(2024, 1, 1),
    migration_deadline=D(2024, 12, 31),
)


@pytest.fixture(scope="module")
def frame():
    t = histories(
        account("a", open_date=D(2022, 6, 30), birth_year=2005, is_student=True,
                kyc_date=D(2025, 1, 1), product_version="legacy"),
        account("b", product_version="legacy", migrated_date=D(2024, 1, 1)),
        account("c", product_version="legacy", migrated_date=D(2024, 12, 1), kyc_date=None),
        account("d", open_date=D(2024, 7, 1)),
    )  # fmt: skip
    return build_features(t, AS_OF, policy=POLICY).set_index("account_id")


def test_profile_values(frame):
    a = frame.loc["a"]
    assert a["tenure_months"] == pytest.approx(731 / DAYS_PER_MONTH)
    assert a["age_years"] == 19
    assert a["is_student"] == 1
    assert math.isnan(a["months_since_kyc"])  # KYC dated after the as-of date is unknown
    assert a["legacy_unmigrated"] == 1
    assert a["legacy_months_to_deadline"] == pytest.approx(184 / DAYS_PER_MONTH)


def test_migration_known_only_once_dated(frame):
    b, c = frame.loc["b"], frame.loc["c"]
    assert b["legacy_unmigrated"] == 0
    assert b["months_since_migrated"] == pytest.approx(181 / DAYS_PER_MONTH)
    assert math.isnan(b["legacy_months_to_deadline"])
    assert c["legacy_unmigrated"] == 1
    assert math.isnan(c["months_since_migrated"])
    assert math.isnan(c["months_since_kyc"])


def test_policy_distances(frame):
    b = frame.loc["b"]
    assert b["months_since_sweep"] == pytest.approx(121 / DAYS_PER_MONTH)
    assert b["months_to_sweep"] == pytest.approx(63 / DAYS_PER_MONTH)
    assert b["months_to_migration_deadline"] == pytest.approx(184 / DAYS_PER_MONTH)
    assert b["months_since_migration_offer"] == pytest.approx(181 / DAYS_PER_MONTH)


def test_not_yet_open_account_has_no_row(frame):
    assert "d" not in frame.index


def test_no_policy_gives_missing_distances():
    f = build_features(histories(account("a")), AS_OF)
    assert (
        f[["months_since_sweep", "months_to_sweep", "months_to_migration_deadline"]]
        .isna()
        .all(axis=None)
    )


RULED = PolicyCalendar(
    regulatory_sweeps=(D(2024, 8, 1),),
    sweep_months=2,
    sweep_targets=(TargetCondition("age_years", "<", 22), TargetCondition("is_student", "==", 1)),
)


@pytest.fixture(scope="module")
def ruled():
    t = histories(
        account("young", birth_year=2005, is_student=False),
        account("student", birth_year=1980, is_student=True),
        account("other", birth_year=1980, is_student=False),
        account("unknown", birth_year=1980, is_student=None),
    )
    return build_features(t, AS_OF, policy=RULED, horizon_months=3).set_index("account_id")


def test_published_rule_marks_targeted_accounts(ruled):
    assert ruled.loc["young", "sweep_targeted"] == 1
    assert ruled.loc["student", "sweep_targeted"] == 1
    assert ruled.loc["other", "sweep_targeted"] == 0
    assert math.isnan(ruled.loc["unknown", "sweep_targeted"])  # no clause proven either way


def test_exposure_counts_the_horizon_months_inside_a_sweep_for_targeted_accounts(ruled):
    # the horizon runs 3 average months from July 1; the sweep (Aug 1 - Oct 1) starts 31
    # days in and outlasts it: all but July is exposed
    expected = (3 * DAYS_PER_MONTH - 31) / DAYS_PER_MONTH
    assert ruled.loc["young", "sweep_exposure"] == pytest.approx(expected, rel=1e-6)
    assert ruled.loc["other", "sweep_exposure"] == 0


def test_a_shorter_horizon_sees_less_of_the_sweep():
    t = histories(account("young", birth_year=2005))
    one = build_features(t, AS_OF, policy=RULED, horizon_months=1)
    assert one["sweep_exposure"].iloc[0] == pytest.approx(0.0, abs=1e-6)  # July only
    two = build_features(t, AS_OF, policy=RULED, horizon_months=2)
    assert 0.9 < two["sweep_exposure"].iloc[0] < 1.1  # August


def test_no_rule_leaves_targeting_missing(frame):
    assert frame[["sweep_targeted", "sweep_exposure"]].isna().all(axis=None)
