"""User attributes: the optional `attributes` record, its checks, spec, features and texts."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from factory import accounts_with_attributes

from risk_model import contract as C
from risk_model import reasons as R
from risk_model.attributes import (
    Attribute,
    AttributeSpec,
    AttributeWarning,
    attribute_rows,
    catalogue_entries,
    infer_attributes,
    with_categories,
)
from risk_model.features import build_features
from risk_model.modeling.templates import check_template
from risk_model.problems import ContractError
from risk_model.records import from_records
from risk_model.validation import validate_histories

AS_OF = dt.date(2024, 6, 30)


def _table(*attributes):
    return validate_histories(from_records(accounts_with_attributes(*attributes)))


def test_infer_attributes_reads_kinds_frequency_and_decimals():
    table = _table(
        {"education": "university", "income": 12000, "ratio": 0.25, "empty": None},
        {"education": "high_school", "income": 9000, "ratio": 0.5, "empty": None},
        {"education": "high_school", "income": None, "ratio": 1, "empty": None},
        {"education": "graduate", "income": 15000, "ratio": None, "empty": None},
    )
    spec = infer_attributes(table)
    assert spec.attributes == (
        Attribute("education", "categorical", ("high_school", "graduate", "university")),
        Attribute("income", "numeric", decimals=0),
        Attribute("ratio", "numeric", decimals=2),
    )  # "empty" has no known value: nothing to learn, left out
    assert infer_attributes(_table({"x": 1}).drop_columns([C.ATTRIBUTES])) == AttributeSpec()


def test_an_identifier_is_no_category():
    table = _table(*({"customer_code": f"c{i}"} for i in range(C.MAX_CATEGORIES + 1)))
    with pytest.raises(ContractError, match="too_many_categories"):
        infer_attributes(table)
    assert infer_attributes(table.slice(0, C.MAX_CATEGORIES))  # twin: at the limit it is one


SPEC = AttributeSpec(
    (
        Attribute("education", "categorical", ("high_school", "university")),
        Attribute("income", "numeric"),
    )
)


def test_features_encode_numbers_and_category_positions():
    table = _table(
        {"education": "university", "income": 12000},
        {"education": "high_school", "income": None},
        None,
    )
    values = attribute_rows(table, SPEC)
    assert values.dtype == np.float32 and values.shape == (2, 3)
    assert values[0, :2].tolist() == [1.0, 0.0] and values[1, 0] == 12000
    assert np.isnan(values[1, 1]) and np.isnan(values[:, 2]).all()


def test_unseen_categories_and_text_numbers_are_not_known_with_a_warning():
    table = _table(
        {"education": "phd", "income": "12000"}, {"education": "university", "income": "n/a"}
    )
    with pytest.warns(AttributeWarning, match=r"education \(1 account\), income \(1 account\)"):
        values = attribute_rows(table, SPEC)
    assert np.isnan(values[0, 0]) and values[0, 1] == 1.0  # the new category is not known
    assert values[1, 0] == 12000 and np.isnan(values[1, 1])  # "12000" reads as a number


def test_lacking_attributes_warn_and_extra_ones_are_ignored(recwarn):
    lacking = _table({"income": 5.0})
    with pytest.warns(AttributeWarning, match=r"\['education'\]"):
        values = attribute_rows(lacking, SPEC)
    assert np.isnan(values[0]).all() and values[1, 0] == 5.0
    extra = _table({"education": "university", "income": 5.0, "region": "north"})
    assert attribute_rows(extra, SPEC)[:, 0].tolist() == [1.0, 5.0]
    assert not [w for w in recwarn if issubclass(w.category, AttributeWarning)]


def test_build_features_appends_attribute_columns_at_every_as_of():
    table = _table({"education": "university", "income": 7.0})
    frame = build_features(table, [AS_OF, dt.date(2024, 7, 31)], attributes=SPEC)
    assert list(frame.columns[-2:]) == ["attr_education", "attr_income"]
    assert frame["attr_education"].tolist() == [1.0, 1.0] and frame["attr_income"].tolist() == [
        7,
        7,
    ]
    assert "attr_income" not in build_features(table, AS_OF).columns  # twin: no spec, no column
    empty = build_features(table.slice(0, 0), AS_OF, attributes=SPEC)
    assert list(empty.columns[-2:]) == ["attr_education", "attr_income"]


def _entries():
    return {e["name"]: e for e in with_categories(catalogue_entries(SPEC), SPEC)}


def test_reason_texts_say_the_name_in_words_and_the_value():
    entries = _entries()
    assert R.reason_text(entries["attr_education"], 1.0) == (
        "Your education (university) raises the assessed risk."
    )
    assert R.reason_text(entries["attr_income"], 12000.0) == (
        "Your income (12,000) raises the assessed risk."
    )
    assert R.detail_texts(entries["attr_education"], np.array([0.0]), np.array([0.5])) == [
        "attr_education = high_school; contribution +0.500 log-odds"
    ]
    words = catalogue_entries(AttributeSpec((Attribute("monthly_income", "numeric", decimals=2),)))
    assert words[0]["reason"] == "Your monthly income ({value:z,.2f}) raises the assessed risk."
    for entry in entries.values():
        for key in ("reason", "detail"):
            check_template(entry[key])  # the artefact loader's check


def test_a_value_that_is_not_known_is_never_a_reason():
    entries = [_entries()["attr_education"], _entries()["attr_income"]]
    contrib = np.array([[0.4, 0.3, 0.0], [0.4, 0.3, 0.0]])
    values = np.array([[math.nan, 9.0], [1.0, math.nan]])
    allowed = R.account_attribution(contrib, ["a", "b"], values=values, catalogue=entries)
    assert allowed.tolist() == [[0.0, 0.3], [0.4, 0.0]]
    # twin: without the values both would be reported
    assert R.account_attribution(contrib, ["a", "b"]).tolist() == [[0.4, 0.3], [0.4, 0.3]]


def test_spec_round_trips_and_refuses_bad_entries():
    assert AttributeSpec.from_list(SPEC.to_list()) == SPEC
    assert AttributeSpec.from_list(None) == AttributeSpec()
    bad = [
        [{"name": "x y", "kind": "numeric"}],
        [{"name": "x", "kind": "date"}],
        [{"name": "x", "kind": "categorical", "categories": ["a", "a"]}],
        [{"name": "x", "kind": "categorical", "categories": ["a\n"]}],
        [{"name": "x", "kind": "numeric", "decimals": 9}],
        [{"name": "x", "kind": "numeric"}, {"name": "X", "kind": "numeric"}],
    ]
    for items in bad:
        with pytest.raises(ValueError):
            AttributeSpec.from_list(items)
