import pandas as pd
import pytest

from risk_model import contract as C
from risk_model.features import FEATURES, FeatureSpec, catalogue_frame, feature_names


def test_names_are_unique_and_in_catalogue_order():
    names = feature_names()
    assert names == [f.name for f in FEATURES]
    assert len(set(names)) == len(names)


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
