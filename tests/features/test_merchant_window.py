"""Merchant, category and (account, category) totals over a window moving through the dates."""

import datetime as dt

import numpy as np
import pytest
from feature_records import D, account, histories, statement, txn

from risk_model.features.build import _pairs, _rank
from risk_model.features.merchant_pairs import BIG, pair_rows
from risk_model.features.merchant_window import LOG_SCALE, MerchantWindow
from risk_model.features.monthly import make_grid, read_statements, read_transactions
from risk_model.features.purchases import purchase_flags

T = dt.datetime
LINE = [statement(D(2023, 12, 1), 0.0, limit=1000.0)]
TOTALS = ("volume", "round_nl", "payers", "night_payers", "first_hist", "cat_log", "cat_n",
          "ac_log", "ac_n", "first_period")  # fmt: skip


@pytest.fixture(scope="module")
def pairs():
    """x: "b" in January. y: "b" in January and February, "a" in March at 02:00 (night)."""
    b = account("b", statements=LINE, transactions=[
        txn(T(2024, 1, 5, 12), 10.0, merchant="y"),
        txn(T(2024, 1, 9, 12), 30.0, merchant="x", category="travel"),
        txn(T(2024, 1, 20, 12), 20.0, merchant="y"),
        txn(T(2024, 2, 2, 12), 5.0, merchant="y"),
    ])  # fmt: skip
    a = account("a", statements=LINE, transactions=[txn(T(2024, 3, 1, 2), 7.0, merchant="y")])
    return _pairs(histories(b, a), [D(2024, 3, 31)])


def _same(one: MerchantWindow, other: MerchantWindow) -> bool:
    values = [(getattr(one, n), getattr(other, n)) for n in TOTALS]
    sums = [(one.sums[n], other.sums[n]) for n in one.sums]
    return all(np.array_equal(x, y) for x, y in values + sums)


def test_totals_of_a_window_are_the_payments_inside_it(pairs):
    rows, grid = pairs
    jan, mar = rows.period[1], rows.period[0]
    w = MerchantWindow(rows, grid).at(jan, mar)
    assert rows.merchants.to_pylist() == ["x", "y"]
    assert w.volume.tolist() == [3000.0, 4200.0]  # cents
    assert w.payers.tolist() == [1.0, 2.0] and w.night_payers.tolist() == [0.0, 1.0]
    months = [int(grid.period_month[p] - grid.first_month) for p in (jan, mar)]
    first = np.zeros_like(w.first_hist)
    first[0, months[0]] = first[1, months[0]] = first[1, months[1]] = 1.0  # pairs' first months
    assert np.array_equal(w.first_hist, first)
    assert rows.categories.to_pylist() == ["grocery", "travel"]
    assert w.cat_n.tolist() == [4.0, 1.0] and w.ac_n.tolist() == [1.0, 3.0, 1.0]
    assert w.cat_log[1] == round(np.log(30.0) * LOG_SCALE)
    assert w.first_period.tolist() == [mar, jan, jan]


def test_a_window_without_the_early_months_leaves_their_payments_out(pairs):
    rows, grid = pairs
    feb, mar = rows.period[3], rows.period[0]
    w = MerchantWindow(rows, grid).at(feb, mar)
    assert w.volume.tolist() == [0.0, 1200.0] and w.payers.tolist() == [0.0, 2.0]
    assert w.first_period.tolist() == [mar, BIG, feb]


def test_moving_back_or_dropping_months_rebuilds_the_window(pairs):
    rows, grid = pairs
    jan, feb, mar = rows.period[1], rows.period[3], rows.period[0]
    for first, then in (((jan, mar), (jan, feb)), ((jan, feb), (feb, mar))):
        moved = MerchantWindow(rows, grid)
        moved.at(*first)
        assert _same(moved.at(*then), MerchantWindow(rows, grid).at(*then)), (first, then)


def test_moving_window_equals_a_fresh_one(world):
    """Advancing period by period gives bit-identical totals to rebuilding the window."""
    table = world.histories.slice(0, 2000)
    days = np.array([19538, 19650, 19813, 19844, 20088])  # 2023-06-30 .. 2024-12-31
    grid = make_grid(days)
    _, rank = _rank(table)
    tx = read_transactions(table, grid, rank)
    rows = pair_rows(tx, purchase_flags(tx, read_statements(table, grid, rank)), grid.n_periods)
    for width in (6, 36):  # 6: rows leave the window (rebuild); 36: it only grows
        moving = MerchantWindow(rows, grid)
        for k in range(len(days)):
            window = grid.period_range(k, width)
            moved, fresh = moving.at(*window), MerchantWindow(rows, grid).at(*window)
            assert _same(moved, fresh), (width, k)
            assert moved.volume.sum() > 0
