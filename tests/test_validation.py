import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from factory import account, statement, transaction

from risk_model import contract as C
from risk_model.records import from_records
from risk_model.validation import (
    ContractError,
    conform,
    find_problems,
    split_valid,
    validate_closures,
    validate_histories,
)

AS_OF = dt.date(2023, 12, 31)


def _drop(name):
    def edit(rows):
        del rows[1][name]
        return rows

    return edit


def _set(**fields):
    def edit(rows):
        rows[1].update(fields)
        return rows

    return edit


def _stmt(**fields):
    return _set(statements=[statement(dt.date(2023, 2, 1), **fields)])


def _txn(**fields):
    ts = fields.pop("ts", dt.datetime(2023, 2, 3, 12))
    return _set(transactions=[transaction(ts, **fields)])


# (kind of bad input, edit of a two-account batch, expected field, expected check)
BAD_ACCOUNT_INPUTS = [
    ("duplicate id", _set(account_id="A0"), C.ACCOUNT_ID, "duplicate_id"),
    ("empty id", _set(account_id="  "), C.ACCOUNT_ID, "empty_id"),
    ("control chars in id", _set(account_id="B\x00"), C.ACCOUNT_ID, "bad_id"),
    ("null open date", _set(open_date=None), C.OPEN_DATE, "missing_value"),
    ("unknown product", _set(product_version="beta"), C.PRODUCT_VERSION, "unknown_value"),
    ("birth after opening", _set(birth_year=2030), C.BIRTH_YEAR, "out_of_range"),
    ("city tier 9", _set(city_tier=9), C.CITY_TIER, "out_of_range"),
    ("negative lines", _set(other_credit_lines=-2), C.OTHER_CREDIT_LINES, "out_of_range"),
    ("migrated current", _set(migrated_date=dt.date(2023, 5, 1)), C.MIGRATED_DATE, "inconsistent"),
    ("negative limit", _stmt(credit_limit=-5.0), "statements.credit_limit", "not_positive"),
    ("NaN billed", _stmt(billed_amount=float("nan")), "statements.billed_amount", "not_finite"),
    ("inf paid", _stmt(amount_paid=float("inf")), "statements.amount_paid", "not_finite"),
    (
        "absurd billed",
        _stmt(billed_amount=1e12, minimum_due=1.0),
        "statements.billed_amount",
        "too_large",
    ),
    (
        "minimum above billed",
        _stmt(minimum_due=9e3),
        "statements.minimum_due",
        "minimum_above_billed",
    ),
    (
        "mid-month statement",
        _stmt(statement_month=dt.date(2023, 2, 15)),
        "statements.statement_month",
        "not_month_start",
    ),
    (
        "due before cut",
        _stmt(due_date=dt.date(2023, 2, 10)),
        "statements.due_date",
        "due_before_cut",
    ),
    ("negative dpd", _stmt(days_past_due=-1), "statements.days_past_due", "out_of_range"),
    (
        "statements out of order",
        _set(statements=[statement(dt.date(2023, 3, 1)), statement(dt.date(2023, 2, 1))]),
        "statements.statement_month",
        "out_of_order",
    ),
    (
        "repeated statement month",
        _set(statements=[statement(dt.date(2023, 2, 1)), statement(dt.date(2023, 2, 1))]),
        "statements.statement_month",
        "out_of_order",
    ),
    (
        "statement before opening",
        _stmt(statement_month=dt.date(2022, 6, 1), due_date=dt.date(2022, 7, 20)),
        "statements.statement_month",
        "before_open",
    ),
    (
        "statement after as-of",
        _stmt(statement_month=dt.date(2024, 2, 1), due_date=dt.date(2024, 3, 20)),
        "statements.statement_month",
        "after_as_of",
    ),
    ("null statement limit", _stmt(credit_limit=None), "statements.credit_limit", "missing_value"),
    ("unknown kind", _txn(kind="chargeback"), "transactions.kind", "unknown_value"),
    ("unknown channel", _txn(channel="atm"), "transactions.channel", "unknown_value"),
    ("zero amount", _txn(amount=0.0), "transactions.amount", "not_positive"),
    ("negative amount", _txn(amount=-3.0), "transactions.amount", "not_positive"),
    ("NaN amount", _txn(amount=float("nan")), "transactions.amount", "not_finite"),
    (
        "transactions out of order",
        _set(
            transactions=[
                transaction(dt.datetime(2023, 3, 1)),
                transaction(dt.datetime(2023, 2, 1)),
            ]
        ),
        "transactions.ts",
        "out_of_order",
    ),
    (
        "transaction before opening",
        _txn(ts=dt.datetime(2022, 1, 1)),
        "transactions.ts",
        "before_open",
    ),
    (
        "transaction after as-of",
        _txn(ts=dt.datetime(2024, 1, 1, 0, 0, 1)),
        "transactions.ts",
        "after_as_of",
    ),
    ("null timestamp", _txn(ts=None), "transactions.ts", "missing_value"),
]


each_bad_input = pytest.mark.parametrize(
    ("kind", "edit", "field", "check"),
    BAD_ACCOUNT_INPUTS,
    ids=[row[0] for row in BAD_ACCOUNT_INPUTS],
)


def _batch():
    return [account("A0"), account("A1")]


@each_bad_input
def test_each_bad_input_is_named_with_field_account_and_fix(kind, edit, field, check):
    rows = edit(_batch())
    bad_id = rows[1][C.ACCOUNT_ID]
    with pytest.raises(ContractError) as caught:
        validate_histories(from_records(rows), as_of=AS_OF)
    matching = [p for p in caught.value.problems if (p.field, p.check) == (field, check)]
    assert matching, f"{kind}: no {field}/{check} in {caught.value}"
    message = str(caught.value)
    assert field in message and check in message and "Fix:" in message
    shown = "<row 1>" if bad_id is None else repr(bad_id)
    assert shown in message


@each_bad_input
def test_bad_account_is_rejected_and_the_good_one_kept(kind, edit, field, check):
    rows = edit(_batch())
    valid, rejects = split_valid(from_records(rows), as_of=AS_OF)
    assert valid.num_rows + rejects.num_rows == 2 or check == "duplicate_id"
    assert 1 in rejects["row"].to_pylist()
    if check != "duplicate_id":
        assert valid[C.ACCOUNT_ID].to_pylist() == ["A0"]


def test_valid_batch_has_no_problems():
    table = from_records(_batch())
    assert find_problems(table, as_of=AS_OF) == []
    assert validate_histories(table).schema.equals(C.HISTORY_SCHEMA)


def test_all_problems_are_collected_in_one_error():
    rows = _batch()
    rows[0]["city_tier"] = 0
    rows[1]["statements"] = [statement(dt.date(2023, 2, 1), credit_limit=0.0, days_past_due=-4)]
    with pytest.raises(ContractError) as caught:
        validate_histories(from_records(rows))
    checks = {(p.field, p.check) for p in caught.value.problems}
    assert checks == {
        (C.CITY_TIER, "out_of_range"),
        ("statements.credit_limit", "not_positive"),
        ("statements.days_past_due", "out_of_range"),
    }


@pytest.mark.parametrize("name", [C.ACCOUNT_ID, C.OPEN_DATE, C.PRODUCT_VERSION])
def test_missing_required_column_is_table_level(name):
    rows = [{k: v for k, v in r.items() if k != name} for r in _batch()]
    with pytest.raises(ContractError, match=f"{name}: required field is missing"):
        split_valid(from_records(rows))


def test_missing_nested_required_field_is_named():
    rows = _batch()
    for row in rows:
        for item in row["statements"]:
            del item["credit_limit"]
    with pytest.raises(ContractError, match=r"statements\.credit_limit: required field is missing"):
        validate_histories(from_records(rows))


def test_wrong_type_names_field_and_types():
    table = from_records(_batch()).set_column(2, C.BIRTH_YEAR, pa.array(["1990", "abc"]))
    with pytest.raises(ContractError, match=r"birth_year: has type string, expected int16"):
        conform(table)


def test_numeric_text_and_wider_types_are_conformed():
    table = from_records(_batch()).set_column(2, C.BIRTH_YEAR, pa.array(["1990", "1985"]))
    assert conform(table)[C.BIRTH_YEAR].type == pa.int16()


def test_optional_parts_may_be_absent_or_empty():
    rows = [account("A0", transactions=[]), account("A1", statements=[])]
    for row in rows:
        row.pop("kyc_date")
    table = from_records(rows).drop_columns([C.TRANSACTIONS])
    canonical = validate_histories(table)
    assert C.TRANSACTIONS not in canonical.column_names
    assert canonical[C.KYC_DATE].null_count == 2


def test_null_event_list_means_no_events():
    table = from_records([account("A0", statements=None)])
    assert validate_histories(table)[C.STATEMENTS].to_pylist() == [[]]


def test_extra_columns_and_fields_are_dropped():
    rows = _batch()
    rows[0]["nickname"] = "x"
    rows[0]["transactions"][0]["note"] = "y"
    canonical = validate_histories(from_records(rows))
    assert canonical.schema.equals(C.HISTORY_SCHEMA)


def test_non_ascii_ids_are_accepted():
    rows = [account("账户-1"), account("Ä2")]
    assert find_problems(from_records(rows)) == []


def test_zero_rows_is_valid_and_empty():
    valid, rejects = split_valid(C.HISTORY_SCHEMA.empty_table())
    assert valid.num_rows == 0 and rejects.num_rows == 0


def test_reject_rows_point_to_input_positions():
    rows = [account("A0"), account("A1", city_tier=0), account("A2"), account("A3", city_tier=7)]
    valid, rejects = split_valid(from_records(rows))
    assert rejects["row"].to_pylist() == [1, 3]
    assert rejects[C.ACCOUNT_ID].to_pylist() == ["A1", "A3"]
    assert np.all(np.char.find(np.array(rejects["reason"].to_pylist()), "city_tier") >= 0)
    assert valid[C.ACCOUNT_ID].to_pylist() == ["A0", "A2"]


def test_closures_valid_and_invalid():
    good = pa.table(
        {
            C.ACCOUNT_ID: ["A0", "A1"],
            C.CLOSURE_DATE: [dt.date(2023, 5, 1)] * 2,
            C.CAUSE: ["overdue", None],
        }
    )
    assert validate_closures(good).schema.equals(C.CLOSURES_SCHEMA)
    bad = pa.table(
        {
            C.ACCOUNT_ID: ["A0", "A0"],
            C.CLOSURE_DATE: [dt.date(2023, 5, 1), None],
            C.CAUSE: ["fraud", "overdue"],
        }
    )
    with pytest.raises(ContractError) as caught:
        validate_closures(bad)
    checks = {(p.field, p.check) for p in caught.value.problems}
    assert checks == {
        (C.ACCOUNT_ID, "duplicate_id"),
        (C.CLOSURE_DATE, "missing_value"),
        (C.CAUSE, "unknown_value"),
    }


def _odd_accounts():
    return [
        account("B\x00"),
        account("x" * 129),
        account("账" * 128),  # 128 characters, 384 bytes: a valid id
        account("A3", product_version="beta"),
        account("A4", transactions=[transaction(dt.datetime(2023, 2, 3), kind="chargeback")]),
        account("A5", transactions=[transaction(dt.datetime(2023, 2, 3), channel=None)]),
    ]


def _where(problems):
    return sorted((p.field, p.check, tuple(p.rows.tolist()), p.account_ids) for p in problems)


def test_small_and_large_batches_find_the_same_problems():
    # a few rows are checked in Python, many with Arrow kernels: both must agree
    small = find_problems(from_records(_odd_accounts()), as_of=AS_OF)
    filler = [account(f"F{i}") for i in range(80)]
    large = find_problems(from_records(_odd_accounts() + filler), as_of=AS_OF)
    assert _where(small) == _where(large)
    assert {(p.field, p.check) for p in small} == {
        (C.ACCOUNT_ID, "bad_id"),
        (C.PRODUCT_VERSION, "unknown_value"),
        ("transactions.kind", "unknown_value"),
    }
    bad_ids = next(p for p in small if p.check == "bad_id").account_ids
    assert bad_ids == ("B\x00", "x" * 129)


@pytest.mark.parametrize("sub_second", [False, True], ids=["whole seconds", "sub-second ts"])
def test_few_and_many_records_are_conformed_alike(sub_second):
    # a few records are cast in one go, many field by field: same canonical table
    rows = [account(f"A{i}") for i in range(3)]
    if sub_second:
        rows[1]["transactions"][0]["ts"] = dt.datetime(2023, 2, 3, 12, 30, 15, 500_000)
    few = conform(from_records(rows))
    many = conform(from_records(rows + [account(f"F{i}") for i in range(80)])).slice(0, 3)
    assert few.equals(many) and few.schema.equals(C.HISTORY_SCHEMA)
    first_ts = few[C.TRANSACTIONS][1].values[0]["ts"].as_py()
    assert first_ts == (
        dt.datetime(2023, 2, 3, 12, 30, 15) if sub_second else rows[1]["transactions"][0]["ts"]
    )
