import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest

from risk_model import contract as C
from risk_model.synthetic import WorldConfig
from risk_model.synthetic.config import CAUSE_PRIORITY
from risk_model.synthetic.tables import account_ids, closures_table, migration_dates, truth_table
from risk_model.synthetic.world import generate_world
from risk_model.validation import validate_histories

CONFIG = WorldConfig(n_accounts=600, n_months=10, seed=23, block_size=600, chunk_size=600)


@pytest.fixture(scope="module")
def block(draw_block):
    _, _, accounts, paths, calendar, _ = draw_block(CONFIG)
    return accounts, paths, calendar


def test_account_ids_are_one_based_and_zero_padded():
    assert account_ids(np.array([0, 41, 99_999_998])).to_pylist() == [
        "A00000001",
        "A00000042",
        "A99999999",
    ]


def test_closures_list_exactly_the_closed_accounts_with_date_and_cause(block):
    accounts, paths, _ = block
    table = closures_table(accounts, paths)
    assert table.schema.equals(C.CLOSURES_SCHEMA)
    closed = np.flatnonzero(paths.closed)
    assert table[C.ACCOUNT_ID].to_pylist() == account_ids(accounts.index[closed]).to_pylist()
    assert table[C.CAUSE].to_pylist() == [CAUSE_PRIORITY[c] for c in paths.cause[closed]]
    first = table[C.CLOSURE_DATE][0].as_py()
    assert first == paths.closure_date[closed[0]].astype(dt.date)


def test_truth_rows_sum_their_causes_and_end_their_month(block):
    accounts, _, calendar = block
    account, month = np.array([0, 1, 1]), np.array([0, 3, 9])
    probabilities = {c: np.full(3, 0.1 * (i + 1) / len(C.CAUSES)) for i, c in enumerate(C.CAUSES)}
    table = truth_table(accounts, calendar, account, month, probabilities, CONFIG.horizon)
    assert table.schema.equals(C.TRUTH_SCHEMA)
    assert table[C.AS_OF].to_pylist() == [
        dt.date(2023, 1, 31),
        dt.date(2023, 4, 30),
        dt.date(2023, 10, 31),
    ]
    total = sum(probabilities[c] for c in C.CAUSES)
    assert np.allclose(table[C.P_CLOSE].to_numpy(), total)
    # Probabilities outside [0, 1] (rounding at the edges) are clipped.
    over = {c: np.full(3, 0.9) for c in C.CAUSES}
    assert (
        pc.max(truth_table(accounts, calendar, account, month, over, 3)[C.P_CLOSE]).as_py() == 1.0
    )


def test_only_legacy_accounts_migrate_inside_an_active_month(block):
    accounts, paths, calendar = block
    date, did = migration_dates(accounts, paths, calendar, np.random.default_rng(0))
    assert did.any() and not did[~accounts.is_legacy].any()
    month = (date[did].astype("datetime64[M]") - np.datetime64(CONFIG.start, "M")).astype(int)
    assert calendar.active[np.flatnonzero(did), month].all()


def test_histories_of_a_world_meet_the_contract():
    world = generate_world(
        WorldConfig(n_accounts=50, n_months=6, seed=3, block_size=50, chunk_size=50)
    )
    assert world.histories.schema.equals(C.HISTORY_SCHEMA)
    assert validate_histories(world.histories).num_rows == 50  # every contract check passes
