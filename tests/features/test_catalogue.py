import re

import pandas as pd
import pytest

from risk_model import contract as C
from risk_model.features import FEATURES, FeatureSpec, catalogue_frame, feature_names
from risk_model.features.catalogue import date_features


def test_names_are_unique_and_returned_as_a_copy():
    # The column order of build_features is checked against feature_names() in test_build.
    names = feature_names()
    assert len(set(names)) == len(names)
    names.reverse()  # a caller reordering its list leaves the catalogue order alone
    assert feature_names() == names[::-1]


def test_every_spec_is_complete():
    for spec in FEATURES:
        assert spec.cause in C.CAUSES
        assert spec.definition and spec.window and spec.unit
        if spec.direction != 0:
            assert spec.explain(1.0)  # the template formats with a value


def test_every_family_is_present():
    assert {f.family for f in FEATURES} == {"overdue", "cashout", "activity", "profile"}


def test_explain_formats_value():
    spec = next(f for f in FEATURES if f.name == "below_min_months_6m")
    assert spec.explain(3.0) == "paid less than the minimum in 3 of the last 6 months"


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
    return bad


def test_every_template_reads_well_at_boundary_and_typical_values():
    problems = []
    for spec in FEATURES:
        if not spec.reason:
            continue
        for value in _TEMPLATE_VALUES:
            text = spec.explain(value)
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
    ],
)
def test_template_checker_flags_bad_texts(text):
    assert _bad_phrases(text)


def test_months_since_templates_read_well_at_zero():
    spec = next(f for f in FEATURES if f.name == "months_since_dpd")
    assert spec.explain(0.0) == "months since the last past-due statement: 0 (0 = this month)"
    assert spec.explain(1.0) == "months since the last past-due statement: 1 (0 = this month)"


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
