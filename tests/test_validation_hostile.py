"""Hostile input: one bad value, null events, invisible ids, crashing records, near-miss names."""

import datetime as dt
import subprocess
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from factory import account, statement
from forked import run_forked

from risk_model import contract as C
from risk_model.modeling.dataset import labelled_as_of_dates
from risk_model.problems import (
    ContractError,
    IdTwinWarning,
    NearMissNameWarning,
    UnknownClosureWarning,
)
from risk_model.records import from_records
from risk_model.validation import (
    schema_near_misses,
    split_valid,
    validate_histories,
    warn_unknown_closures,
)

AS_OF = dt.date(2023, 12, 31)


def _stmt(**fields):
    return {"statements": [statement(dt.date(2023, 2, 1), **fields)]}


def _with_null(column):
    def edit(row):
        row[column].insert(1, None)
        return {}

    return edit


# (kind, fields of the bad account -- or an edit returning them --, field, reason code)
HOSTILE_ACCOUNTS = [
    (
        "dpd beyond int16",
        _stmt(days_past_due=40_000),
        "statements.days_past_due",
        "out_of_type_range",
    ),
    ("birth year beyond int16", {"birth_year": 70_000}, C.BIRTH_YEAR, "out_of_type_range"),
    ("birth year not whole", {"birth_year": 1990.5}, C.BIRTH_YEAR, "not_whole"),
    ("birth year 2**70", {"birth_year": 2**70}, C.BIRTH_YEAR, "out_of_type_range"),
    ("birth year 10**400", {"birth_year": 10**400}, C.BIRTH_YEAR, "out_of_type_range"),
    ("city tier beyond int8", {"city_tier": 300}, C.CITY_TIER, "out_of_type_range"),
    ("lines not whole", {"other_credit_lines": 2.5}, C.OTHER_CREDIT_LINES, "not_whole"),
    ("null statement", _with_null(C.STATEMENTS), C.STATEMENTS, "null_event"),
    ("null transaction", _with_null(C.TRANSACTIONS), C.TRANSACTIONS, "null_event"),
    ("id with NEL", {"account_id": "A\u0085"}, C.ACCOUNT_ID, "invisible_id"),
    ("id a lone ZWJ", {"account_id": "\u200d"}, C.ACCOUNT_ID, "invisible_id"),
    ("id with RTL override", {"account_id": "A\u202e1"}, C.ACCOUNT_ID, "invisible_id"),
    ("id with soft hyphen", {"account_id": "A\u00ad1"}, C.ACCOUNT_ID, "invisible_id"),
    ("id with line separator", {"account_id": "A\u2028"}, C.ACCOUNT_ID, "invisible_id"),
    ("id with paragraph separator", {"account_id": "A\u2029"}, C.ACCOUNT_ID, "invisible_id"),
    ("id with lone surrogate", {"account_id": "A\ud800"}, C.ACCOUNT_ID, "invisible_id"),
]

# The same accounts with values that do fit: nothing to report.
HARMLESS_TWINS = [
    ("dpd wide but small", _stmt(days_past_due=3_000)),
    ("birth year as whole float", {"birth_year": 1990.0}),
    ("city tier wide but small", {"city_tier": 5}),
    ("empty event lists", {"statements": [], "transactions": []}),
    ("null event lists", {"statements": None, "transactions": None}),
    ("non-ASCII printable id", {"account_id": "账户-é1"}),
    ("id with a combining accent", {"account_id": "Be\u0301"}),
]


def _batch(fields, filler):
    rows = [account(f"F{i}") for i in range(filler)]
    bad = account("A1")
    extra = fields(bad) if callable(fields) else fields
    bad.update(extra)
    return [*rows, bad], len(rows)


@pytest.mark.parametrize("filler", [1, 100], ids=["few", "many"])
@pytest.mark.parametrize(
    ("kind", "fields", "field", "check"), HOSTILE_ACCOUNTS, ids=[r[0] for r in HOSTILE_ACCOUNTS]
)
def test_hostile_value_rejects_only_its_account(kind, fields, field, check, filler):
    rows, bad_row = _batch(fields, filler)
    valid, rejects = split_valid(from_records(rows), as_of=AS_OF)
    assert rejects["row"].to_pylist() == [bad_row], kind
    assert valid.num_rows == filler
    reason = rejects["reason"][0].as_py()
    assert reason.startswith(f"{field}: ") and f"[{check}]" in reason
    assert reason.count("[") == 1, f"{kind}: one clear reason, got {reason}"


@pytest.mark.parametrize("filler", [1, 100], ids=["few", "many"])
@pytest.mark.parametrize(("kind", "fields"), HARMLESS_TWINS, ids=[r[0] for r in HARMLESS_TWINS])
def test_harmless_twin_is_scored(kind, fields, filler):
    rows, _ = _batch(fields, filler)
    valid, rejects = split_valid(from_records(rows), as_of=AS_OF)
    assert rejects.num_rows == 0 and valid.num_rows == filler + 1, kind


def _with_column(table, name, values):
    return table.set_column(table.schema.get_field_index(name), name, values)


@pytest.mark.parametrize(
    ("value", "check"), [(70_000, "out_of_type_range"), (1990.5, "not_whole"), (1985.0, None)]
)
def test_one_wide_value_in_a_file_rejects_one_account(value, check):
    table = from_records([account(f"A{i}") for i in range(2_000)])
    kind = pa.float64() if isinstance(value, float) else pa.int32()
    years = pa.array([1990] * 1_999 + [value], kind)
    valid, rejects = split_valid(_with_column(table, C.BIRTH_YEAR, years))
    if check is None:
        assert rejects.num_rows == 0 and valid[C.BIRTH_YEAR].to_pylist()[-1] == 1985
        return
    assert rejects["row"].to_pylist() == [1_999] and valid.num_rows == 1_999
    assert f"[{check}]" in rejects["reason"][0].as_py()


def _null_struct_table(null):
    # children under a null struct hold filler values: they must not be read as an event
    table = validate_histories(from_records([account("A0"), account("A1")]))
    lists = table[C.STATEMENTS].combine_chunks()
    items = lists.values
    mask = pa.array([False] * len(items))
    if null:
        mask = pa.array([i == 4 for i in range(len(items))])
    children = [items.field(i) for i in range(items.type.num_fields)]
    struct = pa.StructArray.from_arrays(children, fields=list(items.type), mask=mask)
    return _with_column(table, C.STATEMENTS, pa.ListArray.from_arrays(lists.offsets, struct))


@pytest.mark.parametrize("null", [True, False], ids=["null struct", "no null struct"])
def test_null_event_struct_with_filled_children_is_rejected(null):
    valid, rejects = split_valid(_null_struct_table(null))
    if not null:
        assert rejects.num_rows == 0 and valid.num_rows == 2
        return
    assert rejects["row"].to_pylist() == [1]
    reason = rejects["reason"][0].as_py()
    assert "[null_event]" in reason and reason.count("[") == 1


_CRASH_SETUP = """
from factory import account
from risk_model.problems import ContractError
from risk_model.records import from_records
from risk_model.validation import validate_histories

loop = {}
loop["me"] = loop
deep = top = {}
for _ in range(20_000):
    deep["x"] = {}
    deep = deep["x"]
"""
_CRASH_BODY = """
record = account("A0")
{edit}
try:
    print("rows", validate_histories(from_records(record)).num_rows)
except ContractError as error:
    print("refused", [(p.field, p.check) for p in error.problems])
"""

CRASHERS = [
    ("self-reference in extra key", 'record["extra"] = loop', "rows 1"),
    ("deep dict in extra key", 'record["extra"] = top', "rows 1"),
    ("deep dict in extra event field", 'record["statements"][0]["note"] = top', "rows 1"),
    ("plain extra key", 'record["extra"] = 1', "rows 1"),
    (
        "deep dict in a contract field",
        'record["birth_year"] = top',
        "refused [('birth_year', 'not_a_value')]",
    ),
    (
        "self-reference in an event field",
        'record["transactions"][0]["amount"] = loop',
        "refused [('transactions.amount', 'not_a_value')]",
    ),
    (
        "events not a list",
        'record["statements"] = loop',
        "refused [('statements', 'not_a_list')]",
    ),
]


@pytest.fixture(scope="module")
def crash_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Each hostile record validated in its own child process, forked once the checks are
    imported: a segfault or a stack overflow fails its test instead of killing pytest."""
    setup = f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n{_CRASH_SETUP}"
    bodies = [_CRASH_BODY.format(edit=edit) for _, edit, _ in CRASHERS]
    done = run_forked(setup, bodies, tmp_path_factory.mktemp("crashers"), timeout=120)
    return {kind: run for (kind, _, _), run in zip(CRASHERS, done, strict=True)}


@pytest.mark.parametrize(("kind", "edit", "expected"), CRASHERS, ids=[r[0] for r in CRASHERS])
def test_hostile_records_never_crash_the_interpreter(crash_runs, kind, edit, expected):
    done = crash_runs[kind]
    assert done.returncode == 0, f"{kind}: exit {done.returncode}\n{done.stderr[-2000:]}"
    assert done.stdout.strip() == expected, kind


def test_records_refusal_names_field_and_account():
    bad = account("A1", birth_year={"year": 1990})
    with pytest.raises(ContractError, match=r"birth_year: .*\[not_a_value\].*'A1'"):
        from_records([account("A0"), bad])


# (kind, edit of the record, found name, expected contract name, part)
NEAR_MISSES = [
    ("camelCase column", lambda r: r.update(kycDate=r.pop("kyc_date")), "kycDate", C.KYC_DATE, ""),
    (
        "upper-case column",
        lambda r: r.update(KYC_DATE=r.pop("kyc_date")),
        "KYC_DATE",
        C.KYC_DATE,
        "",
    ),
    (
        "capitalised list",
        lambda r: r.update(Transactions=r.pop("transactions")),
        "Transactions",
        C.TRANSACTIONS,
        "",
    ),
    ("typo column", lambda r: r.update(open_dat=r["open_date"]), "open_dat", C.OPEN_DATE, ""),
    (
        "camelCase transaction field",
        lambda r: r["transactions"][0].update(merchantId=r["transactions"][0].pop("merchant_id")),
        "merchantId",
        C.MERCHANT_ID,
        C.TRANSACTIONS,
    ),
    (
        "camelCase statement field",
        lambda r: r["statements"][0].update(amountPaid=r["statements"][0].pop("amount_paid")),
        "amountPaid",
        C.AMOUNT_PAID,
        C.STATEMENTS,
    ),
]

UNRELATED = [
    ("unrelated column", lambda r: r.update(nickname="x", customer_segment="gold")),
    ("unrelated event field", lambda r: r["transactions"][0].update(note="y", terminal=3)),
    ("short unrelated column", lambda r: r.update(city="Shanghai")),
]


def _edited(edit):
    record = account("A0")
    edit(record)
    return record


@pytest.mark.parametrize("source", ["records", "table"])
@pytest.mark.parametrize(
    ("kind", "edit", "found", "expected", "part"), NEAR_MISSES, ids=[r[0] for r in NEAR_MISSES]
)
def test_near_miss_name_warns_naming_both(kind, edit, found, expected, part, source):
    record = _edited(edit)
    with pytest.warns(NearMissNameWarning) as caught:
        table = from_records(record) if source == "records" else pa.Table.from_pylist([record])
        split_valid(table)
    misses = [m for w in caught for m in w.message.near_misses]
    assert [(m.found, m.expected, m.part) for m in misses] == [(found, expected, part)], kind
    text = str(caught[0].message)
    assert found in text and expected in text and "Rename" in text
    if source == "table":
        schema = pa.Table.from_pylist([record]).schema
        assert [(m.found, m.expected) for m in schema_near_misses(schema)] == [(found, expected)]


@pytest.mark.parametrize("source", ["records", "table"])
@pytest.mark.parametrize(("kind", "edit"), UNRELATED, ids=[r[0] for r in UNRELATED])
def test_unrelated_extra_name_is_dropped_silently(kind, edit, source):
    record = _edited(edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = from_records(record) if source == "records" else pa.Table.from_pylist([record])
        valid, rejects = split_valid(table)
        assert schema_near_misses(pa.Table.from_pylist([record]).schema) == []
    assert valid.num_rows == 1 and rejects.num_rows == 0, kind


@pytest.mark.parametrize(
    ("ids", "twins"),
    [
        (["caf\u00e9", "cafe\u0301", "B1"], [("caf\u00e9", "cafe\u0301")]),
        (["\u212a1", "K1"], [("K1", "\u212a1")]),  # KELVIN SIGN is K in NFC
        (["caf\u00e9", "cafe", "B1"], []),
    ],
    ids=["NFC and NFD", "Kelvin and K", "no twins"],
)
def test_normalisation_twins_warn_and_are_both_scored(ids, twins):
    table = from_records([account(i) for i in ids])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        valid, rejects = split_valid(table)
    assert valid.num_rows == len(ids) and rejects.num_rows == 0
    groups = [g for w in caught if issubclass(w.category, IdTwinWarning) for g in w.message.groups]
    assert sorted(groups) == sorted(tuple(sorted(t)) for t in twins)


def _closures(ids):
    return pa.table(
        {
            C.ACCOUNT_ID: ids,
            C.CLOSURE_DATE: [dt.date(2023, 6, 1)] * len(ids),
            C.CAUSE: ["overdue"] * len(ids),
        }
    )


def test_unknown_closure_ids_warn_with_count_and_examples():
    histories = from_records([account("A0"), account("A1")])
    with pytest.warns(UnknownClosureWarning, match=r"2 of 3 closure\(s\).*'Z9'"):
        assert warn_unknown_closures(_closures(["A0", "Z9", "Z8"]), histories[C.ACCOUNT_ID]) == 2
    with pytest.warns(UnknownClosureWarning):
        labelled_as_of_dates(validate_histories(histories), _closures(["Z9"]), 3)


def test_known_closure_ids_do_not_warn():
    histories = from_records([account("A0"), account("A1")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_unknown_closures(_closures(["A0", "A1"]), histories[C.ACCOUNT_ID]) == 0
        labelled_as_of_dates(validate_histories(histories), _closures(["A1"]), 3)
