"""Per-purchase flags: amounts, night time, the limit known at the purchase, repay-then-spend."""

import datetime as dt

import numpy as np

from risk_model import contract as C
from risk_model.features.build import _rank
from risk_model.features.monthly import day_number, make_grid, read_statements, read_transactions
from risk_model.features.purchases import purchase_flags
from tests.features.feature_records import D, account, histories, statement, txn

T = dt.datetime


AS_OF = D(2024, 3, 31)


def _flags(table):
    grid = make_grid(np.array([day_number(AS_OF)]))
    _, rank = _rank(table)
    tx = read_transactions(table, grid, rank)
    return purchase_flags(tx, read_statements(table, grid, rank))


def test_amount_night_and_limit_flags_of_purchases():
    table = histories(
        account(
            "A",
            statements=[statement(D(2024, 1, 1), 2_000.0, limit=10_000.0)],
            transactions=[
                txn(T(2024, 1, 10, 12), 500.0),  # before the statement is known: no limit
                txn(T(2024, 2, 3, 2), 1_998.0),  # night, patterned, limit known
                txn(T(2024, 2, 4, 12), 7_000.0),  # round, near the available 8,000
                txn(T(2024, 2, 5, 12), 700.0, kind=C.KIND_REPAYMENT),
            ],
        )
    )
    flags = _flags(table)
    assert flags.is_round.tolist() == [True, False, True, False]
    assert flags.is_patterned.tolist() == [False, True, False, False]
    assert flags.is_night.tolist() == [False, True, False, False]
    assert np.isnan(flags.limit[0]) and flags.limit[1:3].tolist() == [10_000.0, 10_000.0]
    assert flags.near_limit.tolist() == [False, False, True, False]
    assert np.isnan(flags.limit[3])  # a repayment is not flagged


def test_flag_edges_night_ends_at_five_and_patterns_need_whole_yuan():
    edges = [
        (T(2024, 2, 1, 4, 59, 59), 2_099.0),  # night; patterned (99)
        (T(2024, 2, 1, 5, 0, 0), 188.0),  # not night; patterned (88)
        (T(2024, 2, 1, 0, 0, 0), 98.0),  # night; below 100: not patterned
        (T(2024, 2, 1, 23, 59, 59), 1_000.004),  # whole to 5 fen: round
        (T(2024, 2, 2, 12), 1_098.5),  # not whole: neither
    ]
    flags = _flags(histories(account("A", transactions=[txn(t, a) for t, a in edges])))
    assert flags.is_night.tolist() == [True, False, True, False, False]
    assert flags.is_patterned.tolist() == [True, True, False, False, False]
    assert flags.is_round.tolist() == [False, False, False, True, False]


def test_hours_since_the_previous_repayment():
    table = histories(
        account(
            "A",
            transactions=[
                txn(T(2024, 3, 1, 8), 900.0, kind=C.KIND_REPAYMENT),
                txn(T(2024, 3, 1, 20), 800.0),
                txn(T(2024, 3, 3, 8), 100.0),
            ],
        ),
        account("B", transactions=[txn(T(2024, 3, 2, 8), 50.0)]),  # another account's repayment
    )
    flags = _flags(table)
    assert np.isnan(flags.respend_hours[0])
    assert flags.respend_hours[1:3].tolist() == [12.0, 48.0]
    assert np.isnan(flags.respend_hours[3])
