import datetime as dt

import pyarrow as pa
import pytest
from factory import account, statement, transaction

from risk_model import contract as C
from risk_model.records import FlatTables, from_records, to_flat, to_nested, to_records
from risk_model.validation import validate_histories


def _histories():
    rows = [account("A0"), account("A1", statements=[], transactions=[]), account("A2")]
    return validate_histories(from_records(rows))


def test_flat_round_trip_is_exact():
    histories = _histories()
    flat = to_flat(histories)
    assert isinstance(flat, FlatTables)
    assert flat.statements.num_rows == 6 and flat.transactions.num_rows == 4
    assert flat.statements[C.ACCOUNT_ID].to_pylist() == ["A0"] * 3 + ["A2"] * 3
    assert to_nested(*flat).equals(histories)


def test_to_nested_sorts_events_within_accounts():
    histories = _histories()
    flat = to_flat(histories)
    shuffled = flat.statements.take(pa.array([5, 0, 3, 1, 4, 2]))
    assert to_nested(flat.accounts, shuffled, flat.transactions).equals(histories)


def test_to_nested_without_events_gives_empty_lists():
    nested = to_nested(to_flat(_histories()).accounts)
    assert nested[C.STATEMENTS].to_pylist() == [[], [], []]
    assert nested.schema.equals(C.HISTORY_SCHEMA)


def test_to_nested_refuses_orphan_events():
    flat = to_flat(_histories())
    orphans = flat.statements.set_column(0, C.ACCOUNT_ID, pa.array(["Z9"] * 6))
    with pytest.raises(ValueError, match=r"6 rows refer to accounts not in the accounts table.*Z9"):
        to_nested(flat.accounts, orphans)


def test_from_records_accepts_iso_strings_and_single_dict():
    record = account("A0")
    record["open_date"] = "2023-01-10"
    record["statements"] = [statement(dt.date(2023, 2, 1), due_date="2023-03-20")]
    record["transactions"] = [transaction("2023-02-03 12:30:00")]
    canonical = validate_histories(from_records(record))
    assert canonical[C.OPEN_DATE].to_pylist() == [dt.date(2023, 1, 10)]
    assert canonical[C.TRANSACTIONS].to_pylist()[0][0][C.TS] == dt.datetime(2023, 2, 3, 12, 30)


def test_from_records_names_the_account_with_mixed_types():
    good = account("A0")
    bad = account("A1")
    bad["statements"][0]["credit_limit"] = "lots"
    with pytest.raises(ValueError, match=r"account record 'A1' cannot be read|disagree on field"):
        from_records([good, bad])


def test_one_record_gives_the_table_of_from_pylist():
    record = account("A0")
    record["open_date"] = "2023-01-10"
    record["transactions"] = [transaction("2023-02-03 12:30:00")]
    one = from_records(record)
    expected = pa.Table.from_pylist([record])
    assert one.schema.equals(expected.schema, check_metadata=True)
    assert one.equals(expected)
    assert from_records([record]).equals(from_records([record, record]).slice(0, 1))


def test_one_record_with_mixed_types_is_named():
    bad = account("A1")
    bad["statements"].append(dict(bad["statements"][0], credit_limit="lots"))
    with pytest.raises(ValueError, match=r"account record 'A1' cannot be read"):
        from_records(bad)


def test_from_records_refuses_non_mappings():
    with pytest.raises(ValueError, match="must be a mapping"):
        from_records([["A0"]])


def test_to_records_round_trip():
    histories = _histories()
    assert validate_histories(from_records(to_records(histories))).equals(histories)
