"""Validation of the optional ``attributes`` record: canonical types, problems, rejects."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest
from factory import account, accounts_with_attributes

from risk_model import contract as C
from risk_model.problems import ContractError
from risk_model.records import from_records
from risk_model.validation import split_valid, validate_histories


def _table(*attributes):
    return validate_histories(from_records(accounts_with_attributes(*attributes)))


def test_attributes_are_kept_in_canonical_types():
    table = _table({"education": "university", "income": 12000, "vip": True}, None)
    fields = {f.name: f.type for f in table.schema.field(C.ATTRIBUTES).type}
    assert fields == {"education": pa.string(), "income": pa.float64(), "vip": pa.float64()}
    assert table[C.ATTRIBUTES].to_pylist() == [
        {"education": "university", "income": 12000.0, "vip": 1.0},
        {"education": None, "income": None, "vip": None},  # a null record: nothing known
    ]


def test_nan_and_empty_text_are_not_known():
    table = _table({"education": " ", "income": math.nan})
    assert table[C.ATTRIBUTES].to_pylist() == [{"education": None, "income": None}]


def test_histories_without_attributes_gain_no_column():
    plain = validate_histories(from_records([account("A0", statements=[], transactions=[])]))
    assert C.ATTRIBUTES not in plain.column_names


@pytest.mark.parametrize(
    ("value", "check"),
    [
        ("north", "wrong_type"),  # not a record
        ({"bad name": 1}, "attribute_name"),
        ({"when": dt.date(2024, 1, 1)}, "attribute_type"),
    ],
)
def test_table_level_problems_name_the_check(value, check):
    records = accounts_with_attributes(value)
    with pytest.raises(ContractError) as caught:
        validate_histories(pa.Table.from_pylist(records) if check == "wrong_type" else
                           from_records(records))  # fmt: skip
    assert check in {p.check for p in caught.value.problems}


def test_twin_names_and_too_many_attributes_are_refused():
    twins = pa.table(
        {
            C.ACCOUNT_ID: ["A0"],
            C.OPEN_DATE: [dt.date(2023, 1, 1)],
            C.PRODUCT_VERSION: ["current"],
            C.ATTRIBUTES: pa.StructArray.from_arrays(
                [pa.array([1.0]), pa.array([2.0])], names=["Income", "income"]
            ),
        }
    )
    with pytest.raises(ContractError, match="duplicate_attribute"):
        validate_histories(twins)
    many = {f"a{i}": 1 for i in range(C.MAX_ATTRIBUTES + 1)}
    with pytest.raises(ContractError, match="too_many_attributes"):
        _table(many)


def test_impossible_values_reject_their_accounts_only():
    records = accounts_with_attributes(
        {"education": "university", "income": 1.0},
        {"education": "x" * (C.MAX_CATEGORY_CHARS + 1), "income": 1.0},
        {"education": "line\nbreak", "income": 1.0},
        {"education": "university", "income": math.inf},
        {"education": "university", "income": 10 * C.MAX_ATTRIBUTE_VALUE},
    )
    valid, rejected = split_valid(from_records(records))
    assert valid[C.ACCOUNT_ID].to_pylist() == ["A0"]
    reasons = rejected.column("reason").to_pylist()
    assert rejected[C.ACCOUNT_ID].to_pylist() == ["A1", "A2", "A3", "A4"]
    assert all("attributes." in r for r in reasons)
    assert "attributes.income" in reasons[2] and "attributes.education" in reasons[0]


def test_a_record_that_is_not_a_record_of_values_is_refused():
    with pytest.raises(ContractError, match="not_a_record"):
        from_records(accounts_with_attributes(["a", "list"]))
    with pytest.raises(ContractError, match="not_a_value"):
        from_records(accounts_with_attributes({"nested": {"deep": 1}}))
