import datetime as dt
import math

import pytest
from feature_records import D, account, histories, statement, txn

from risk_model import contract as C
from risk_model.features import build_features

T = dt.datetime
AS_OF = D(2024, 2, 29)


@pytest.fixture(scope="module")
def table():
    txns = [
        txn(T(2024, 2, 2, 10), 1000.0, kind=C.KIND_REPAYMENT),
        txn(T(2024, 2, 2, 20), 4000.0, merchant="x"),  # round, near line, 10 h after repaying
        txn(T(2024, 2, 10, 3), 998.0, merchant="x"),  # patterned, at night
        txn(T(2024, 2, 15, 12), 50.5, merchant="y"),
    ]
    sts = [statement(D(2024, 1, 1), 1000.0, limit=5000.0)]
    return histories(
        account("c", statements=sts, transactions=txns),
        account("no_statements", transactions=txns[1:]),
    )


@pytest.fixture(scope="module")
def frame(table):
    return build_features(table, AS_OF).set_index("account_id")


def test_amount_patterns_and_line_usage(frame):
    r = frame.loc["c"]
    assert r["round_share_6m"] == pytest.approx(1 / 3)
    assert r["patterned_share_6m"] == pytest.approx(1 / 3)
    assert r["near_limit_count_6m"] == 1  # 4000 >= 0.8 x (5000 - 1000)
    assert r["near_limit_share_6m"] == pytest.approx(1 / 3)
    assert r["round_near_limit_count_6m"] == 1
    assert r["night_share_6m"] == pytest.approx(1 / 3)
    assert r["burst_after_quiet"] == 1


def test_repay_then_respend(frame):
    r = frame.loc["c"]
    assert r["repay_respend_count_6m"] == 1
    assert r["repay_respend_median_hours_6m"] == pytest.approx(10.0)


def test_concentration(frame):
    r = frame.loc["c"]
    total = 4998.0 + 50.5
    assert r["top1_merchant_share_6m"] == pytest.approx(4998.0 / total)
    assert r["merchant_hhi_6m"] == pytest.approx((4998 / total) ** 2 + (50.5 / total) ** 2)


def test_limit_features_missing_without_statements(frame):
    r = frame.loc["no_statements"]
    assert math.isnan(r["near_limit_count_6m"])
    assert math.isnan(r["near_limit_share_6m"])
    assert math.isnan(r["repay_respend_count_6m"])
    assert r["round_share_6m"] == pytest.approx(1 / 3)  # amount patterns need no limit


def test_no_burst_when_recently_active():
    txns = [txn(T(2024, 1, 5, 12), 10.0), txn(T(2024, 2, 5, 12), 10.0)]
    r = build_features(histories(account("a", transactions=txns)), AS_OF).iloc[0]
    assert r["burst_after_quiet"] == 0
    assert r["round_share_6m"] == 0
