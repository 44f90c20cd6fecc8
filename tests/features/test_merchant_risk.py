import datetime as dt
import math

import pytest
from feature_records import D, account, histories, statement, txn

from risk_model import contract as C
from risk_model.features import build_features, fit_merchant_risk
from risk_model.features.build import fit_merchant_risk_tables
from risk_model.features.merchant_risk import AS_OF_METADATA_KEY, MERCHANT_RISK_SCHEMA

T = dt.datetime
AS_OF = D(2024, 3, 31)
LINE = [statement(D(2023, 12, 1), 0.0, limit=1000.0)]


@pytest.fixture(scope="module")
def table():
    return histories(
        account("p1", statements=LINE, transactions=[txn(T(2024, 1, 5, 2), 900.0, merchant="x")]),
        account("p2", statements=LINE, transactions=[txn(T(2024, 3, 10, 12), 100.5, merchant="x")]),
        account("p3", statements=LINE, transactions=[txn(T(2024, 2, 10, 12), 200.0, merchant="x")]),
        account("p4", statements=LINE, transactions=[txn(T(2024, 3, 1, 12), 50.0, merchant="new")]),
    )  # fmt: skip


def test_training_leaves_the_account_out(table):
    f = build_features(table, AS_OF).set_index("account_id")
    p2 = f.loc["p2"]
    assert p2["merchant_round_nl_share_wmean_6m"] == pytest.approx(900 / 1100)
    assert p2["merchant_round_nl_share_max_6m"] == pytest.approx(900 / 1100)
    assert p2["merchant_payers_wmean_6m"] == 2
    assert p2["merchant_night_payers_wmean_6m"] == pytest.approx(0.5)
    assert p2["merchant_age_months_wmean_6m"] == 2  # others first paid x in January
    assert p2["category_amount_ratio_6m"] == pytest.approx(
        100.5 / (900 * 200 * 50) ** (1 / 3), 1e-6
    )
    p1 = f.loc["p1"]
    assert p1["merchant_round_nl_share_wmean_6m"] == 0
    assert p1["merchant_night_payers_max_6m"] == 0
    assert p1["merchant_age_months_wmean_6m"] == 1  # without p1, x was first paid in February
    # a merchant with no other payer has no statistics
    assert math.isnan(f.loc["p4"]["merchant_payers_wmean_6m"])


def test_training_is_point_in_time(table):
    f = build_features(table, D(2024, 2, 29)).set_index("account_id")
    assert f.loc["p3"]["merchant_payers_wmean_6m"] == 1  # p2 pays x only in March
    assert math.isnan(f.loc["p2"]["merchant_payers_wmean_6m"])  # p2 has not paid x yet


def test_fitted_table(table):
    fitted = fit_merchant_risk(table, AS_OF)
    assert fitted.schema.metadata[AS_OF_METADATA_KEY] == b"2024-03-31"
    assert fitted.schema.remove_metadata() == MERCHANT_RISK_SCHEMA
    x = {r[C.MERCHANT_ID]: r for r in fitted.to_pylist()}["x"]
    assert x["volume"] == pytest.approx(1200.5)
    assert x["round_near_limit_volume"] == 900.0
    assert (x["payers"], x["night_payers"]) == (3, 1)
    assert x["first_payment_month"] == D(2024, 1, 1)


def test_scoring_uses_the_table_only(table):
    fitted = fit_merchant_risk(table, AS_OF)
    alone = build_features(table.slice(1, 1), AS_OF, merchant_risk=fitted).iloc[0]
    assert alone["merchant_round_nl_share_wmean_6m"] == pytest.approx(900 / 1200.5)
    assert alone["merchant_payers_wmean_6m"] == 3
    assert alone["merchant_night_payers_wmean_6m"] == pytest.approx(1 / 3)
    assert alone["merchant_age_months_wmean_6m"] == 2


def test_unknown_merchant_gives_missing_features(table):
    fitted = fit_merchant_risk(table.slice(0, 3), AS_OF)  # "new" is not in the table
    r = build_features(table.slice(3, 1), AS_OF, merchant_risk=fitted).iloc[0]
    assert math.isnan(r["merchant_payers_wmean_6m"])
    assert math.isnan(r["merchant_round_nl_share_max_6m"])
    assert r["top1_merchant_share_6m"] == 1  # account-only features are unaffected


def test_scoring_reads_each_pair_category_from_the_table(table):
    fitted = fit_merchant_risk(table, AS_OF)

    def ratio(category):
        buy = txn(T(2024, 3, 5, 12), 300.0, merchant="x", category=category)
        one = histories(account("s1", statements=LINE, transactions=[buy]))
        return build_features(one, AS_OF, merchant_risk=fitted).iloc[0]["category_amount_ratio_6m"]

    centre = (900 * 100.5 * 200 * 50) ** (1 / 4)  # every grocery payment of the table
    assert ratio("grocery") == pytest.approx(300 / centre, 1e-6)
    assert math.isnan(ratio(None))  # no category: no centre to compare with
    assert math.isnan(ratio("unseen"))  # a category the table does not know


def test_fit_without_transactions_gives_empty_table(table):
    fitted = fit_merchant_risk(table.drop_columns([C.TRANSACTIONS]), AS_OF)
    assert fitted.num_rows == 0
    assert fitted.schema.metadata[AS_OF_METADATA_KEY] == b"2024-03-31"


def test_empty_fitted_table_gives_missing_merchant_features(table):
    fitted = fit_merchant_risk(table.drop_columns([C.TRANSACTIONS]), AS_OF)
    f = build_features(table, AS_OF, merchant_risk=fitted)
    assert f["merchant_payers_wmean_6m"].isna().all()
    assert f["top1_merchant_share_6m"].notna().all()


def test_tables_at_several_dates_equal_one_fit_per_date(world):
    table = world.histories.slice(0, 3000)
    dates = [D(2024, 6, 30), D(2023, 9, 14), D(2024, 12, 31)]  # unsorted; one mid-month
    tables = fit_merchant_risk_tables(table, dates)
    assert sorted(tables) == sorted(dates)
    for day in dates:
        assert tables[day].equals(fit_merchant_risk(table, day), check_metadata=True), day
    assert not tables[dates[0]].equals(tables[dates[2]])  # the dates' tables do differ


def test_each_date_takes_a_pair_category_from_its_own_window():
    # p1's first payment to x (category "old") is older than the later date's 36 months
    early, late = D(2024, 3, 31), D(2027, 3, 31)
    line = [statement(D(2023, 12, 1), 0.0, limit=1000.0)]
    paid = [
        txn(T(2024, 1, 5, 12), 10.0, merchant="x", category="old"),
        txn(T(2026, 6, 5, 12), 20.0, merchant="x", category="new"),
    ]
    table = histories(account("p1", statements=line, transactions=paid))
    tables = fit_merchant_risk_tables(table, [early, late])
    for day, category in ((early, "old"), (late, "new")):
        assert tables[day].equals(fit_merchant_risk(table, day), check_metadata=True)
        assert tables[day][C.MERCHANT_CATEGORY].to_pylist() == [category]
