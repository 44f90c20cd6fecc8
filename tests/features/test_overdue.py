import math

import pytest
from feature_records import D, account, histories, statement

from risk_model.features import build_features

PAID = {1: 1000.0, 2: 200.0, 3: 50.0, 4: None, 5: 5000.0, 6: 600.0}
DPD = {3: 35, 4: 95}


@pytest.fixture(scope="module")
def table():
    sts = [
        statement(D(2024, m, 1), 1000.0 * m, min_due=100.0 * m, paid=PAID[m], dpd=DPD.get(m, 0))
        for m in range(1, 7)
    ]
    return histories(account("a", statements=sts))


def row(table, as_of):
    return build_features(table, as_of).iloc[0]


def test_month_end_values(table):
    r = row(table, D(2024, 6, 30))
    assert r["dpd_now"] == 0
    assert r["dpd_max_3m"] == 95
    assert r["dpd_max_6m"] == 95
    assert (r["months_dpd1_3m"], r["months_dpd1_6m"], r["months_dpd30_6m"]) == (1, 2, 2)
    assert (r["months_dpd90_3m"], r["months_dpd90_12m"]) == (1, 1)
    assert r["months_since_dpd"] == 2  # April -> June
    assert r["paid_ratio_last"] == 1.0  # May's bill, due June 20
    assert r["paid_ratio_mean_3m"] == pytest.approx((50 / 3000 + 1.0) / 2)
    assert r["min_only_months_6m"] == 1  # February
    assert r["below_min_months_6m"] == 1  # March
    assert r["util_last"] == pytest.approx(0.6)
    assert r["util_mean_6m"] == pytest.approx(0.35)
    assert r["util_max_6m"] == pytest.approx(0.6)
    assert r["util_slope_6m"] == pytest.approx(0.1)
    assert r["months_util90_6m"] == 0
    assert r["balance_growth_6m"] == pytest.approx(math.log(5001 / 2001), rel=1e-6)
    assert r["limit_change_6m"] == 0
    assert r["n_statements_36m"] == 6


def test_statement_unknown_before_month_end(table):
    r = row(table, D(2024, 6, 29))
    assert r["n_statements_36m"] == 5
    assert r["util_last"] == pytest.approx(0.5)


def test_payment_unknown_before_due_date(table):
    r = row(table, D(2024, 6, 19))  # May's payment is due June 20
    assert r["paid_ratio_last"] == pytest.approx(50 / 3000)
    assert row(table, D(2024, 6, 20))["paid_ratio_last"] == 1.0


def test_months_since_dpd_missing_without_late_month():
    t = histories(account("a", statements=[statement(D(2024, 1, 1), 100.0, paid=100.0)]))
    r = row(t, D(2024, 3, 31))
    assert math.isnan(r["months_since_dpd"])
    assert r["months_dpd1_12m"] == 0


def test_limit_change():
    sts = [statement(D(2024, m, 1), 100.0, limit=1000.0 * (1 + (m > 4))) for m in (1, 3, 5)]
    r = row(histories(account("a", statements=sts)), D(2024, 5, 31))
    assert r["limit_change_6m"] == pytest.approx(1.0)
