import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feature_records import D, account, histories, statement, txn
from frames import assert_frame_equal

from risk_model import contract as C
from risk_model.features import build_features, feature_names

T = dt.datetime
TXN_FEATURES = ["spend_3m", "round_share_6m", "merchant_hhi_6m", "days_since_txn"]
STATEMENT_FEATURES = ["dpd_now", "n_statements_36m", "util_last", "min_only_months_6m"]


@pytest.fixture(scope="module")
def table():
    sts = [statement(D(2024, m, 1), 100.0 * m, paid=10.0 * m) for m in range(1, 4)]
    txns = [txn(T(2024, m, 5, 12), 50.0) for m in range(1, 4)]
    return histories(
        account("b", statements=sts, transactions=txns),
        account("a", statements=[], transactions=[], open_date=D(2024, 2, 15)),
        account("c", statements=None, transactions=None),
    )


def check_layout(frame):
    assert list(frame.columns) == [C.ACCOUNT_ID, C.AS_OF, *feature_names()]
    assert frame[C.ACCOUNT_ID].dtype == "str"
    assert frame[C.AS_OF].dtype == "datetime64[s]"
    assert (frame.dtypes.iloc[2:] == np.float32).all()


def test_layout_and_order(table):
    f = build_features(table, [D(2024, 3, 31), D(2024, 1, 31), D(2024, 1, 31)])
    check_layout(f)
    assert list(f[C.ACCOUNT_ID]) == ["b", "c", "a", "b", "c"]  # "a" opens in February
    assert list(f[C.AS_OF].dt.day) == [31, 31, 31, 31, 31]
    assert f.index.equals(pd.RangeIndex(5))


def test_empty_and_null_lists_mean_no_events(table):
    raw = table.set_column(
        table.schema.get_field_index(C.TRANSACTIONS),
        C.TRANSACTIONS,
        pa.array([None] * 3, table.schema.field(C.TRANSACTIONS).type),
    )
    for t in (table, raw):
        f = build_features(t, D(2024, 3, 31)).set_index(C.ACCOUNT_ID)
        assert f.loc["a", "spend_3m"] == 0 and f.loc["a", "n_statements_36m"] == 0
        assert f.loc["c", "spend_3m"] == 0 and f.loc["c", "active_months_12m"] == 0
        assert f.loc[["c"], ["round_share_6m", "days_since_txn", "util_last"]].isna().all(axis=None)


@pytest.mark.parametrize(
    "dropped", [(C.TRANSACTIONS,), (C.STATEMENTS,), (C.TRANSACTIONS, C.STATEMENTS)]
)
def test_missing_event_columns_give_nan(table, dropped):
    f = build_features(table.drop_columns(list(dropped)), D(2024, 3, 31))
    check_layout(f)
    if C.TRANSACTIONS in dropped:
        assert f[TXN_FEATURES].isna().all(axis=None)
    else:
        assert f[TXN_FEATURES].notna().any(axis=None)
    if C.STATEMENTS in dropped:
        assert f[[*STATEMENT_FEATURES, "near_limit_count_6m"]].isna().all(axis=None)
    else:
        assert f[STATEMENT_FEATURES].notna().any(axis=None)
    assert f["tenure_months"].notna().all()


def test_zero_accounts_give_empty_frame():
    f = build_features(C.HISTORY_SCHEMA.empty_table(), [D(2024, 1, 31)])
    check_layout(f)
    assert len(f) == 0


def test_no_as_of_dates_give_empty_frame(table):
    f = build_features(table, [])
    check_layout(f)
    assert len(f) == 0


def test_one_month_of_history():
    t = histories(
        account(
            "a",
            statements=[statement(D(2024, 1, 1), 500.0, paid=500.0)],
            transactions=[txn(T(2024, 1, 5, 12), 500.0)],
            open_date=D(2024, 1, 1),
        )
    )
    r = build_features(t, D(2024, 2, 29)).iloc[0]
    assert r["n_statements_36m"] == 1 and r["spend_3m"] == 500
    assert np.isnan(r["util_slope_6m"])  # a slope needs two months


def test_shuffled_and_chunked_input_gives_identical_output(table):
    dates = [D(2024, 2, 10), D(2024, 3, 31)]
    base = build_features(table, dates)
    shuffled = table.take([2, 0, 1])
    assert_frame_equal(build_features(shuffled, dates), base, check_exact=True)
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 2)])
    assert_frame_equal(build_features(chunked, dates), base, check_exact=True)


def test_datetime_as_of_uses_its_calendar_day(table):
    a = build_features(table, T(2024, 3, 31, 18))
    assert_frame_equal(a, build_features(table, D(2024, 3, 31)), check_exact=True)


def test_as_of_accepts_numpy_and_iso_dates(table):
    base = build_features(table, [D(2024, 3, 31)])
    for other in (np.datetime64("2024-03-31"), "2024-03-31", pd.Timestamp("2024-03-31 12:00")):
        assert_frame_equal(build_features(table, [other]), base, check_exact=True)
