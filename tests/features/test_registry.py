import datetime as dt
import re
from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from risk_model import contract as C
from risk_model import reasons as R
from risk_model.features import (
    FEATURES,
    FeatureSpec,
    activity,
    catalogue_frame,
    feature_names,
    profile,
    registry,
)
from risk_model.features.feature import Context
from risk_model.features.monthly import day_number, make_grid
from risk_model.features.registry import causes_under, date_features
from risk_model.policy import PolicyCalendar, TargetCondition


def test_names_are_unique_and_returned_as_a_copy():
    # The column order of build_features is checked against feature_names() in test_build.
    names = feature_names()
    assert len(set(names)) == len(names)
    names.reverse()  # a caller reordering its list leaves the catalogue order alone
    assert feature_names() == names[::-1]


def test_names_are_the_family_modules_declarations_in_order():
    declared = [f.name for m in registry.FAMILY_MODULES for f in m.FEATURES]
    assert feature_names() == declared
    assert feature_names()[:3] == ["dpd_now", "dpd_max_3m", "dpd_max_6m"]
    families = [{f.family for f in m.FEATURES} for m in registry.FAMILY_MODULES]
    assert families == [{"overdue"}, {"cashout"}, {"activity"}, {"profile"}, {"statements"}]


def _context(n_acc=1):
    histories = pa.table({C.ACCOUNT_ID: [f"A{i}" for i in range(n_acc)]})
    grid = make_grid(np.array([day_number(dt.date(2024, 6, 30))]))
    return Context(histories, np.arange(n_acc), grid, None, None, None, None, 3, None, None)


def test_compute_refuses_a_name_computed_but_not_declared(monkeypatch):
    def compute(ctx):
        return {f.name: np.zeros((1, 1)) for f in activity.FEATURES} | {"extra": np.zeros((1, 1))}

    monkeypatch.setattr(activity, "compute", compute)
    with pytest.raises(RuntimeError, match="extra"):
        registry.compute(_context())


def test_compute_refuses_a_name_declared_but_not_computed(monkeypatch):
    monkeypatch.setattr(activity, "compute", lambda ctx: {"spend_3m": np.zeros((1, 1))})
    with pytest.raises(RuntimeError, match="days_since_txn"):
        registry.compute(_context())


def test_compute_leaves_out_families_without_their_input():
    out = registry.compute(_context())  # no statements, no transactions
    assert set(out) == {f.name for f in profile.FEATURES}


def test_every_spec_is_complete():
    for spec in FEATURES:
        assert spec.cause in (*C.CAUSES, C.CAUSE_OTHER)
        assert spec.definition and spec.window and spec.unit and spec.known_at
        if spec.direction != 0:
            assert spec.explain(1.0)  # the template formats with a value


def test_every_family_is_present():
    assert {f.family for f in FEATURES} == {
        "overdue",
        "cashout",
        "activity",
        "profile",
        "statements",
    }


def test_explain_formats_value():
    spec = next(f for f in FEATURES if f.name == "below_min_months_6m")
    assert spec.explain(3.0) == "You paid less than the minimum in 3 of the last 6 months."


def test_spec_rejects_missing_reason_for_constrained_feature():
    with pytest.raises(ValueError, match="reason"):
        FeatureSpec("x", "overdue", "overdue", "d", "w", 1, "u")


def test_spec_rejects_unknown_family_and_cause():
    with pytest.raises(ValueError, match="family"):
        FeatureSpec("x", "other", "overdue", "d", "w", 0, "u")
    with pytest.raises(ValueError, match="cause"):
        FeatureSpec("x", "overdue", "weather", "d", "w", 0, "u")


def test_catalogue_frame_has_one_row_per_feature():
    frame = catalogue_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == feature_names()
    assert {"family", "cause", "direction", "reason", "window"} <= set(frame.columns)


# values a template must read well at: 0, 1, fractions, typical counts, signed values
_TEMPLATE_VALUES = (0.0, 1.0, 0.4, 0.999, 2.0, 7.0, 23.6, -0.3, -1.0)
_PLURAL_UNIT = re.compile(
    r"(?<![\d.])1 (other )?(months|days|hours|times|purchases|statements|credit lines|lines)\b"
)


def _bad_phrases(text: str) -> list[str]:
    bad = []
    if re.search(r"\bnan\b|\binf\b", text, flags=re.IGNORECASE):
        bad.append("nan/inf")
    if re.search(r"(?<![\d.])0 (months|days|hours) ago", text):
        bad.append("0 ... ago")
    if _PLURAL_UNIT.search(text):
        bad.append("singular value with plural unit")
    if re.search(r"(?<![\d.])-0(?![\d.])", text):
        bad.append("negative zero")
    if re.search(r"\bonly 100%", text):
        bad.append("only 100%")
    if re.search(r"\b(in|for) -\d", text):
        bad.append("negative duration")
    return bad


def _can_be_negative(spec) -> bool:
    return "negative" in spec.definition or "{value:+" in spec.reason


def test_every_template_reads_well_at_boundary_and_typical_values():
    problems = []
    for spec in FEATURES:
        if not spec.reason:
            continue
        for value in _TEMPLATE_VALUES:
            text = spec.explain(value)
            if value < 0 and not _can_be_negative(spec):
                continue
            assert text and "{" not in text
            problems += [f"{spec.name}({value}): {p}: {text!r}" for p in _bad_phrases(text)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text",
    [
        "the last late payment was only 0 months ago",
        "holds 1 other credit lines",
        "re-spent the line 1 times",
        "value nan",
        "only -0 months remain",
        "retired in -2 months",
    ],
)
def test_template_checker_flags_bad_texts(text):
    assert _bad_phrases(text)


def test_months_since_templates_read_well_at_zero():
    spec = next(f for f in FEATURES if f.name == "months_since_dpd")
    assert spec.explain(0.0) == "Your statement this month is past due."
    assert spec.explain(1.0) == "Your last late payment was 1 month ago."
    assert spec.explain(7.0) == "Your last late payment was 7 months ago."
    assert spec.explain(float("nan")) == "You have had no late payment in the last 3 years."
    deadline = next(f for f in FEATURES if f.name == "legacy_months_to_deadline")
    assert deadline.explain(-2.0) == (
        "The old version of the product that your account is on was retired 2 months ago."
    )


def test_date_scope_features_are_the_policy_distances():
    assert date_features() == (
        "months_since_sweep",
        "months_to_sweep",
        "months_to_migration_deadline",
        "months_since_migration_offer",
    )
    assert {f.scope for f in FEATURES} == {"account", "date"}
    assert all(f.family == "profile" for f in FEATURES if f.scope == "date")
    assert "scope" in catalogue_frame().columns


def test_spec_rejects_unknown_scope():
    with pytest.raises(ValueError, match="scope"):
        FeatureSpec("x", "overdue", "overdue", "d", "w", 0, "u", scope="batch")


_FORMULA = re.compile(r"/|\blog\b|\bnan\b|\binf\b|\b999\b|\bas-of\b|[a-z]+_[a-z_]+", re.IGNORECASE)


def test_every_account_feature_has_a_plain_sentence():
    plain = {f.name: f.reason for f in FEATURES if f.scope == "account"}
    assert all(plain.values()), [name for name, text in plain.items() if not text]
    offending = {name: text for name, text in plain.items() if _FORMULA.search(text)}
    assert not offending, offending


@pytest.mark.parametrize(
    "text", ["log((billed + 1) / limit)", "as-of year - birth year", "days: 999", "util_last"]
)
def test_the_plain_sentence_rule_catches_formulas_and_internal_names(text):
    assert _FORMULA.search(text)


def _register_values(spec):
    """Values a feature can take: signed ones only if it can be negative; NaN if reported."""
    values = [v for v in _TEMPLATE_VALUES if v >= 0 or _can_be_negative(spec)]
    return values + [float("nan")] * bool(re.search(r"NaN if", spec.definition))


def _variants(spec):
    return [
        t for t in (spec.reason, spec.reason_zero, spec.reason_negative, spec.reason_missing) if t
    ]


def test_every_feature_has_both_registers():
    lacking = [f.name for f in FEATURES if not f.reason or not f.detail]
    assert not lacking, f"features without a customer sentence or an analyst detail: {lacking}"
    for spec in FEATURES:
        assert "{value" in spec.detail  # the analyst sees the value itself
        assert all(not _FORMULA.search(t) for t in _variants(spec)), spec.name


def test_every_customer_text_is_a_plain_sentence_at_every_value():
    problems = []
    for spec in FEATURES:
        for value in _register_values(spec):
            text = R.reason_text(asdict(spec), value)
            where = f"{spec.name}({value}): {text!r}"
            if not (text[:1].isupper() and text.endswith(".")):
                problems.append(f"{where}: not a sentence")
            if _FORMULA.search(text) or "{" in text:
                problems.append(f"{where}: formula or internal name")
            problems += [f"{where}: {p}" for p in _bad_phrases(text)]
    assert not problems, "\n".join(problems)


def test_a_missing_value_is_never_described_as_a_number():
    # A feature whose definition says what missing means has a sentence for it (no value
    # in it); the others are never reported when missing (reasons.account_attribution).
    for spec in FEATURES:
        says = bool(re.search(r"NaN if", spec.definition))
        if says:
            assert spec.reason_missing and "{" not in spec.reason_missing, spec.name
        text = R.reason_text(asdict(spec), float("nan"))
        assert not re.search(r"\bnan\b|\b999\b|-1\b", text, flags=re.IGNORECASE), text


@pytest.mark.parametrize(
    "text",
    ["the latest bill used 40% of the limit", "Your bill used 40% of the limit", "x_y."],
)
def test_the_sentence_rule_catches_phrases_and_internal_names(text):
    assert not (text[:1].isupper() and text.endswith(".")) or _FORMULA.search(text)


def _causes(policy):
    entries = [asdict(f) for f in FEATURES]
    return {e["name"]: e["cause"] for e in causes_under(entries, policy)}


def test_a_feature_speaks_to_a_cause_only_where_the_policy_says_so():
    sweep = (dt.date(2024, 1, 1),)
    full = _causes(PolicyCalendar(sweep, dt.date(2024, 2, 1), dt.date(2024, 9, 1)))
    assert full["age_years"] == full["is_student"] == full["months_since_kyc"] == "regulatory"
    assert full["legacy_unmigrated"] == "migration"
    none = _causes(None)  # a real extract with no policy known
    assert none["age_years"] == none["is_student"] == none["legacy_unmigrated"] == C.CAUSE_OTHER
    students = _causes(
        PolicyCalendar(sweep, sweep_targets=(TargetCondition("is_student", "==", 1),))
    )
    assert students["is_student"] == "regulatory" and students["age_years"] == C.CAUSE_OTHER
    # attributes that point to no closure cause, and features that need no rule
    assert full["city_tier"] == full["tenure_months"] == C.CAUSE_OTHER
    assert none["dpd_now"] == "overdue" and none["months_since_purchase"] == "dormancy"


def test_every_profile_cause_has_a_rule_or_is_other():
    for spec in FEATURES:
        if spec.family == "profile" and spec.scope == "account":
            assert spec.rule or spec.cause == C.CAUSE_OTHER, spec.name
    assert all(not f.rule for f in FEATURES if f.family != "profile")


def test_old_model_entries_take_the_packages_rule():
    entry = {"name": "age_years", "cause": "regulatory", "reason": ""}  # spec before rules
    assert causes_under([entry], None)[0]["cause"] == C.CAUSE_OTHER
    assert causes_under([entry], PolicyCalendar((dt.date(2024, 1, 1),)))[0]["cause"] == (
        "regulatory"
    )


def test_sweep_targeting_features_are_regulatory_only_under_a_sweep_rule():
    sweep = (dt.date(2024, 1, 1),)
    ruled = _causes(PolicyCalendar(sweep, sweep_targets=(TargetCondition("age_years", "<", 22),)))
    assert ruled["sweep_targeted"] == ruled["sweep_exposure"] == "regulatory"
    unruled = _causes(PolicyCalendar(sweep, sweep_targets=()))
    assert unruled["sweep_targeted"] == unruled["sweep_exposure"] == C.CAUSE_OTHER
