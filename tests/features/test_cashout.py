import datetime as dt
import math

import pandas as pd
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


# Long memory: a line drained with a round amount 14 months before the as-of date.
OLD_STATEMENTS = [statement(D(2022, 11, 1), 500.0, limit=5000.0)]
OLD_DRAIN = T(2022, 12, 10, 12)  # 14 months before AS_OF's month


def _long_memory(amount: float, when: dt.datetime = OLD_DRAIN, statements=None):
    sts = OLD_STATEMENTS if statements is None else statements
    txns = [txn(when, amount, merchant="x"), txn(T(2024, 2, 5, 12), 40.0)]
    table = histories(account("a", statements=sts, transactions=txns))
    return build_features(table, AS_OF).iloc[0]


@pytest.mark.parametrize("amount", [4000.0, 3998.0])  # round, patterned (ends in 98)
def test_cashout_like_purchase_is_remembered_for_36_months(amount):
    r = _long_memory(amount)  # 4000 >= 0.8 x (5000 - 500)
    assert r["months_since_cashout_like"] == 14
    assert r["cashout_like_months_36m"] == 1
    assert r["round_near_limit_count_6m"] == 0  # the 6-month window has forgotten it


@pytest.mark.parametrize(
    "amount",
    [4123.45, 500.0],  # near the line but not round; round but far from the line
)
def test_other_purchases_are_not_cashout_like(amount):
    r = _long_memory(amount)
    assert math.isnan(r["months_since_cashout_like"])
    assert r["cashout_like_months_36m"] == 0


@pytest.mark.parametrize(("second", "like"), [(2000.0, True), (1900.0, False)])
def test_round_amounts_that_add_up_to_the_line_make_a_cashout_like_month(second, like):
    # neither purchase alone reaches 0.8 x the available 4,500; together 4,000 = 0.8 x 5,000
    sts = OLD_STATEMENTS
    txns = [txn(OLD_DRAIN, 2000.0), txn(OLD_DRAIN.replace(day=20), second)]
    r = build_features(histories(account("a", statements=sts, transactions=txns)), AS_OF).iloc[0]
    assert r["cashout_like_months_36m"] == (1 if like else 0)
    assert (
        (r["months_since_cashout_like"] == 14)
        if like
        else math.isnan(r["months_since_cashout_like"])
    )


def test_cashout_like_memory_ends_at_36_months():
    early = [statement(D(2021, 1, 1), 500.0, limit=5000.0), *OLD_STATEMENTS]
    first = _long_memory(4000.0, T(2021, 3, 10, 12), statements=early)  # 36th month back
    assert first["months_since_cashout_like"] == 35
    before = _long_memory(4000.0, T(2021, 2, 10, 12), statements=early)  # 37th
    assert math.isnan(before["months_since_cashout_like"])
    assert before["cashout_like_months_36m"] == 0


def test_cashout_like_months_missing_without_a_known_limit():
    r = _long_memory(4000.0, statements=[])
    assert math.isnan(r["months_since_cashout_like"])  # no limit: never near it
    assert math.isnan(r["cashout_like_months_36m"])


def test_cashout_like_this_month_and_not_after_the_as_of_date():
    assert _long_memory(4000.0, T(2024, 2, 29, 23))["months_since_cashout_like"] == 0
    after = _long_memory(4000.0, T(2024, 3, 1, 0))
    assert math.isnan(after["months_since_cashout_like"])
    assert after["cashout_like_months_36m"] == 0


def test_long_memory_features_are_the_same_when_scoring():
    """Scoring (a fitted merchant table) reads the same 36 months of purchases as training."""
    from risk_model.features import fit_merchant_risk

    table = histories(
        account("a", statements=OLD_STATEMENTS, transactions=[txn(OLD_DRAIN, 4000.0)]),
        account("b", statements=OLD_STATEMENTS, transactions=[txn(OLD_DRAIN, 41.0)]),
    )
    names = ["months_since_cashout_like", "cashout_like_months_36m"]
    training = build_features(table, AS_OF)[names]
    scoring = build_features(table, AS_OF, merchant_risk=fit_merchant_risk(table, AS_OF))[names]
    pd.testing.assert_frame_equal(training, scoring)
    assert training.iloc[0].tolist() == [14.0, 1.0]
