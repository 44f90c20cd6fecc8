import math

import numpy as np
import pytest
from feature_records import D, account, histories, statement

from risk_model.features import FEATURES, build_features, feature_names, statement_lags
from risk_model.features.statement_lags import LAGS, _lag_index

NAMES = [f.name for f in statement_lags.FEATURES]

PAID = {1: 1000.0, 2: 200.0, 3: 50.0, 4: None, 5: 5000.0, 6: 600.0}
DPD = {3: 35, 4: 95}


@pytest.fixture(scope="module")
def table():
    sts = [
        statement(D(2024, m, 1), 1000.0 * m, paid=PAID[m], dpd=DPD.get(m, 0)) for m in range(1, 7)
    ]
    return histories(account("a", statements=sts))


def row(table, as_of):
    return build_features(table, as_of).iloc[0]


def lags(r, stem):
    return [r[f"{stem}_lag{k}"] for k in range(LAGS)]


def same(got, want):
    return all(
        (math.isnan(g) and w is None) or (w is not None and g == pytest.approx(w))
        for g, w in zip(got, want, strict=True)
    )


def test_lags_at_month_end(table):
    r = row(table, D(2024, 6, 30))
    assert lags(r, "billed") == [6000, 5000, 4000, 3000, 2000, 1000]
    assert lags(r, "limit") == [10_000] * 6
    assert lags(r, "dpd") == [0, 0, 95, 35, 0, 0]
    assert lags(r, "util") == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    # June's payment is due July 20: not known yet; April's was never recorded
    assert same(lags(r, "paid"), [None, 5000, None, 50, 200, 1000])
    assert same(lags(r, "paid_ratio"), [None, 1.0, None, 50 / 3000, 0.1, 1.0])


def test_windows_at_month_end(table):
    r = row(table, D(2024, 6, 30))
    assert (r["billed_sum_lags"], r["billed_mean_lags"], r["billed_max_lags"]) == (
        21_000,
        3500,
        6000,
    )
    assert (r["paid_sum_lags"], r["paid_mean_lags"], r["paid_max_lags"]) == (6250, 1562.5, 5000)
    assert r["limit_ratio_lags"] == 1.0


def test_statement_unknown_before_its_month_end(table):
    r = row(table, D(2024, 6, 29))  # June's statement is known from June 30
    assert same(lags(r, "billed"), [5000, 4000, 3000, 2000, 1000, None])
    assert r["paid_lag0"] == 5000  # May's, due June 20


def test_payment_unknown_before_due_date(table):
    before = row(table, D(2024, 6, 19))  # May's payment is due June 20
    assert math.isnan(before["paid_lag0"]) and math.isnan(before["paid_ratio_lag0"])
    assert before["billed_lag0"] == 5000  # the bill itself is known
    assert before["paid_sum_lags"] == 1250  # March, February, January
    on_due = row(table, D(2024, 6, 20))
    assert (on_due["paid_lag0"], on_due["paid_ratio_lag0"]) == (5000, 1.0)


def test_lags_follow_statements_not_months():
    limits = {1: 1000.0, 3: 1000.0, 5: 2000.0}
    sts = [statement(D(2024, m, 1), 100.0 * m, limit=lim) for m, lim in limits.items()]
    r = row(histories(account("a", statements=sts)), D(2024, 5, 31))
    assert same(lags(r, "billed"), [500, 300, 100, None, None, None])
    assert r["limit_ratio_lags"] == 2.0
    assert r["billed_mean_lags"] == 300


def test_zero_bill_gives_no_paid_ratio():
    sts = [statement(D(2024, 1, 1), 0.0, paid=0.0)]
    r = row(histories(account("a", statements=sts)), D(2024, 3, 31))
    assert (r["billed_lag0"], r["paid_lag0"], r["util_lag0"]) == (0, 0, 0)
    assert math.isnan(r["paid_ratio_lag0"])


def test_missing_is_nan_not_zero():
    old = [statement(D(2022, 6, 1), 100.0, paid=100.0)]  # older than 12 months
    for t in (
        histories(account("a", statements=old)),
        histories(account("a", statements=[])),
        histories(account("a", statements=old), drop=("statements",)),
    ):
        r = row(t, D(2024, 3, 31))
        assert all(math.isnan(r[name]) for name in NAMES)


def test_lag_index_ranks_from_the_newest():
    known = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=bool)
    idx = _lag_index(known, 3)
    assert idx.tolist() == [[2, -1, 1], [0, -1, 0], [-1, -1, -1]]


def test_catalogue_has_every_statement_feature():
    names = feature_names()
    assert set(NAMES) <= set(names) and len(NAMES) == 6 * LAGS + 7
    specs = [f for f in FEATURES if f.name in NAMES]
    assert {f.family for f in specs} == {"statements"}
    # days past due (up), the share of a bill paid and the limit (down) are constrained
    constrained = {f.name: f.direction for f in specs if f.direction}
    signs = {"dpd": 1, "paid_ratio": -1, "limit": -1}
    assert constrained == {f"{s}_lag{k}": d for s, d in signs.items() for k in range(6)}
    assert all(f.reason for f in specs)
    # bills, payments and utilisation at 0 mean an unused line: dormancy, not overdue
    overdue = {f.name for f in specs if f.cause == "overdue"}
    assert overdue == {f"{s}_lag{k}" for s in ("dpd", "paid_ratio", "limit") for k in range(6)} | {
        "limit_ratio_lags"
    }
    assert {f.cause for f in specs} == {"overdue", "dormancy"}
    assert not any("NaN if" in f.definition for f in specs)  # missing is no reason


def test_reason_texts_read_as_sentences():
    spec = {f.name: f for f in FEATURES}
    latest = spec["billed_lag0"]
    assert latest.explain(12_300) == "The bill on your latest statement was CNY 12,300."
    assert latest.explain(0) == "Nothing was billed on your latest statement."
    assert spec["paid_ratio_lag1"].explain(0.05) == (
        "You paid 5% of the bill on your second latest statement."
    )
    assert spec["dpd_lag5"].explain(1) == "Your sixth latest statement was 1 day past due."
    assert spec["dpd_lag2"].explain(0) == "Your third latest statement was not past due."
    assert all(spec[name].detail for name in NAMES)  # the analyst register too
