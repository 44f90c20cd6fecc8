import datetime as dt
import math

import pytest
from feature_records import D, account, histories, txn

from risk_model import contract as C
from risk_model.features import build_features

T = dt.datetime


@pytest.fixture(scope="module")
def table():
    txns = [
        txn(T(2024, 1, 3, 12), 100.0),
        txn(T(2024, 1, 9, 12), 100.0),
        txn(T(2024, 3, 9, 12), 300.0),
        txn(T(2024, 4, 5, 9), 500.0, kind=C.KIND_REPAYMENT),
    ]
    return histories(account("a", transactions=txns))


def test_windows_and_trends(table):
    r = build_features(table, D(2024, 4, 30)).iloc[0]
    assert r["months_since_purchase"] == 1
    assert (r["active_months_3m"], r["active_months_6m"], r["active_months_12m"]) == (1, 2, 2)
    assert (r["spend_3m"], r["spend_6m"], r["spend_12m"]) == (300, 500, 500)
    assert (r["purchases_3m"], r["purchases_12m"]) == (1, 3)
    assert r["spend_trend_3v3"] == pytest.approx(0.2)
    assert r["count_trend_3v3"] == pytest.approx(-1 / 3)
    assert r["days_since_txn"] == 25  # repayment on April 5


def test_future_purchase_not_counted(table):
    r = build_features(table, D(2024, 3, 8)).iloc[0]
    assert r["spend_3m"] == 200
    assert r["months_since_purchase"] == 2


def test_no_purchase_yet_is_missing_recency(table):
    r = build_features(table, D(2023, 12, 31)).iloc[0]
    assert math.isnan(r["months_since_purchase"])
    assert math.isnan(r["spend_trend_3v3"])
    assert r["active_months_12m"] == 0
