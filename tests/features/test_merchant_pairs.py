"""Purchases reduced to canonical (account, merchant, period) rows, and their window sums."""

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from feature_records import D, account, histories, statement, txn

from risk_model import contract as C
from risk_model.features.build import _purchases
from risk_model.features.merchant_pairs import BIG, _sorted_codes, pair_rows, window_sums

T = dt.datetime
AS_OF = D(2024, 3, 31)
LINE = [statement(D(2023, 12, 1), 0.0, limit=1000.0)]


@pytest.fixture(scope="module")
def table():
    """Account "b" pays y twice in January, x once, y again in February; "a" pays y in March.

    A purchase without a merchant, a refund from y and a repayment make no pair.
    """
    b = account("b", statements=LINE, transactions=[
        txn(T(2024, 1, 5, 12), 10.0, merchant="y"),
        txn(T(2024, 1, 9, 12), 30.0, merchant="x"),
        txn(T(2024, 1, 20, 12), 20.0, merchant="y"),
        txn(T(2024, 2, 2, 12), 5.0, merchant="y"),
    ])  # fmt: skip
    a = account("a", statements=LINE, transactions=[
        txn(T(2024, 3, 1, 12), 7.0, merchant="y"),
        txn(T(2024, 3, 2, 12), 9.0, merchant=None),
        txn(T(2024, 3, 3, 12), 3.0, kind=C.KIND_REFUND, merchant="y"),
        txn(T(2024, 3, 4, 12), 4.0, kind=C.KIND_REPAYMENT),
    ])  # fmt: skip
    return histories(b, a)


def _rows(table, **kwargs):
    tx, flags, grid = _purchases(table, [AS_OF])
    return pair_rows(tx, flags, grid.n_periods, **kwargs)


def test_sorted_codes_rank_the_ids_and_mark_nulls():
    codes, distinct = _sorted_codes(pa.array(["b", None, "a", "b"]))
    assert codes.tolist() == [1, -1, 0, 1] and distinct.to_pylist() == ["a", "b"]
    chunked_codes, chunked_distinct = _sorted_codes(pa.chunked_array([["b", None], ["a", "b"]]))
    assert chunked_codes.tolist() == codes.tolist() and chunked_distinct.equals(distinct)
    # UTF-8 byte order is code point order: "é" (U+00E9) after "z"
    assert _sorted_codes(pa.array(["z", "é", "a"]))[0].tolist() == [1, 2, 0]


def test_sorted_codes_of_nulls_only_are_all_missing():
    codes, distinct = _sorted_codes(pa.array([None, None], pa.string()))
    assert codes.tolist() == [-1, -1] and len(distinct) == 0


def test_rows_sum_each_accounts_purchases_per_merchant_and_month(table):
    rows = _rows(table)
    jan, feb, mar = rows.period[1], rows.period[3], rows.period[0]
    assert jan < feb < mar
    assert rows.merchants.to_pylist() == ["x", "y"]
    # pairs by account id ("a" first), then merchant id; a pair's rows by period
    assert rows.p_acct.tolist() == [0, 1, 1] and rows.p_merch.tolist() == [1, 0, 1]
    assert rows.pair.tolist() == [0, 1, 2, 2] and rows.period.tolist() == [mar, jan, jan, feb]
    assert rows.spend.tolist() == [7.0, 30.0, 30.0, 5.0] and rows.n.tolist() == [1, 1, 2, 1]
    assert rows.log_sum[2] == math.log(10.0) + math.log(20.0)
    assert rows.cents.tolist() == [700.0, 3000.0, 3000.0, 500.0]
    assert rows.categories.to_pylist() == ["grocery"] and rows.p_cat.tolist() == [0, 0, 0]


def test_rows_do_not_depend_on_the_order_of_the_accounts(table):
    forward, backward = _rows(table), _rows(table.take([1, 0]))
    for name in ("period", "spend", "log_sum", "n", "pair", "p_acct", "p_merch", "p_cat"):
        assert np.array_equal(getattr(forward, name), getattr(backward, name)), name
    assert forward.merchants.equals(backward.merchants)


def test_rows_kept_from_a_later_period_sum_as_before(table):
    rows = _rows(table)
    feb = rows.period[3]
    later = _rows(table, since_period=feb)
    kept = rows.period >= feb
    assert later.merchants.to_pylist() == ["y"]  # x was paid in January only
    for name in ("period", "spend", "log_sum", "n"):
        assert np.array_equal(getattr(later, name), getattr(rows, name)[kept]), name


def test_scoring_rows_carry_only_what_scoring_reads(table):
    rows = _rows(table, training=False)
    assert rows.by_period is None and rows.cents is None and rows.p_ac is None
    assert rows.spend.tolist() == _rows(table).spend.tolist()


def test_window_sums_add_a_pairs_rows_inside_the_window_only(table):
    rows = _rows(table)
    jan, feb, mar = rows.period[1], rows.period[3], rows.period[0]
    got = window_sums(rows, jan, feb, ("spend", "n"))
    assert got["spend"].tolist() == [0.0, 30.0, 35.0] and got["n"].tolist() == [0.0, 1.0, 3.0]
    assert got["first_period"].tolist() == [BIG, jan, jan]
    assert window_sums(rows, feb, mar, ("spend",))["first_period"].tolist() == [mar, BIG, feb]
    scoring = window_sums(_rows(table, training=False), jan, feb, ("spend", "n"))
    assert all(np.array_equal(scoring[k], got[k]) for k in got)


def test_a_window_before_every_purchase_sums_nothing(table):
    rows = _rows(table)
    jan = rows.period[1]
    got = window_sums(rows, jan - 2, jan - 1, ("spend",))
    assert got["spend"].tolist() == [0.0, 0.0, 0.0] and (got["first_period"] == BIG).all()
    assert "first_period" not in window_sums(rows, jan, jan, ("spend",), first=False)


def test_window_sums_of_training_rows_equal_the_rows_in_pair_order(world):
    """The period-ordered columns give, bit for bit, the sums of each pair's own rows."""
    tx, flags, grid = _purchases(world.histories.slice(0, 2000), [D(2024, 6, 30)])
    training = pair_rows(tx, flags, grid.n_periods)
    scoring = pair_rows(tx, flags, grid.n_periods, training=False)
    assert not np.array_equal(training.by_period, np.arange(len(training.period)))
    for width in (6, 36):
        span = grid.period_range(0, width)
        got = window_sums(training, *span, ("spend", "log_sum", "n"))
        expected = window_sums(scoring, *span, ("spend", "log_sum", "n"))
        for name, values in expected.items():
            assert np.array_equal(got[name], values), (width, name)
    assert training.in_period_order("spend") is training.in_period_order("spend")  # gathered once
