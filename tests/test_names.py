import warnings

import numpy as np
import pyarrow as pa
import pytest

from risk_model import contract as C
from risk_model._names import (
    INVISIBLE_ID,
    NearMiss,
    id_text_checks,
    near_misses,
    record_near_misses,
    schema_near_misses,
    warn_near_misses,
)
from risk_model.problems import IdTwinWarning, NearMissNameWarning


def test_case_separators_and_two_edits_make_a_near_miss():
    expected = ["kyc_date", "merchant_id", "amount", "city_tier"]
    found = near_misses(["kycDate", "MERCHANT-ID", "ammount", "city_teir", "colour"], expected)
    assert [(m.found, m.expected) for m in found] == [
        ("kycDate", "kyc_date"),
        ("MERCHANT-ID", "merchant_id"),
        ("ammount", "amount"),
        ("city_teir", "city_tier"),
    ]


def test_exact_unrelated_short_or_far_names_are_not_near_misses():
    expected = ["kyc_date", "amount", "mcc"]
    # Exact names, unrelated ones, a short name one edit away (mc), three edits away.
    assert near_misses(["kyc_date", "notes", "mc", "amnt__xyz", 7], expected) == []
    assert near_misses(["MCC"], expected) == [NearMiss("MCC", "mcc")]  # short, but only case


def test_schema_near_misses_look_inside_the_event_lists():
    items = pa.struct([pa.field("merchantId", pa.string()), pa.field("amount", pa.float64())])
    schema = pa.schema(
        [(C.ACCOUNT_ID, pa.string()), ("kycDate", pa.date32()), (C.TRANSACTIONS, pa.list_(items))]
    )
    found = schema_near_misses(schema)
    assert {(m.part, m.found) for m in found} == {("", "kycDate"), (C.TRANSACTIONS, "merchantId")}
    text = next(m for m in found if m.part).describe()
    assert (
        "'transactions.merchantId' is not in the contract" in text
        and "'transactions.merchant_id'" in text
    )
    assert (
        schema_near_misses(pa.schema([(C.ACCOUNT_ID, pa.string()), ("notes", pa.string())])) == []
    )


def test_record_near_misses_and_the_warning():
    found = record_near_misses({"": ["Open_Date"], C.STATEMENTS: ["minimumDue", "memo"]})
    assert [(m.part, m.expected) for m in found] == [
        ("", C.OPEN_DATE),
        (C.STATEMENTS, "minimum_due"),
    ]
    with pytest.warns(NearMissNameWarning, match="2 ignored name"):
        warn_near_misses(found)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_near_misses([])  # nothing found: silent


def _check(ids):
    reported = []
    table = pa.table({C.ACCOUNT_ID: pa.array(ids, pa.string())})
    id_text_checks(table, lambda field, check, message, hint, mask: reported.append((check, mask)))
    return reported


def test_invisible_characters_in_ids_are_account_problems():
    (reported,) = _check(["A1", "A\u200d2", "B\u202e3", "caf\u00e9", None])
    check, mask = reported
    assert check == INVISIBLE_ID
    assert np.array_equal(mask, [False, True, True, False, False])  # é is printable
    assert _check(["A1", "B2", None]) == []  # plain ASCII: nothing to report


def test_ids_equal_after_nfc_are_warned_about_but_kept():
    with pytest.warns(IdTwinWarning) as caught:
        (reported,) = _check(["caf\u00e9", "cafe\u0301", "\u212a1", "K1"])
    assert not reported[1].any()
    groups = {frozenset(g) for g in caught[0].message.groups}
    assert groups == {frozenset({"caf\u00e9", "cafe\u0301"}), frozenset({"K1", "\u212a1"})}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check(["caf\u00e9", "na\u00efve"])  # distinct after NFC: no warning
