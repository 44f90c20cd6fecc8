import dataclasses
import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest

from risk_model import contract as C
from risk_model.records import to_flat
from risk_model.synthetic import WorldConfig, generate_world, iter_world
from risk_model.validation import find_problems, validate_closures

TINY = WorldConfig(n_accounts=300, n_months=10, seed=5, block_size=100, chunk_size=100)


def test_schemas_match_the_contract(small_world):
    assert small_world.histories.schema.equals(C.HISTORY_SCHEMA)
    assert small_world.closures.schema.equals(C.CLOSURES_SCHEMA)
    assert small_world.truth.schema.equals(C.TRUTH_SCHEMA)
    assert small_world.merchants.schema.equals(C.MERCHANTS_SCHEMA)


def test_histories_pass_validation(small_world):
    assert find_problems(small_world.histories) == []
    validate_closures(small_world.closures)


def test_same_seed_gives_identical_tables():
    first, second = generate_world(TINY), generate_world(TINY)
    for name in ("histories", "closures", "truth", "merchants"):
        assert getattr(first, name).equals(getattr(second, name)), name


def test_different_seed_differs():
    first = generate_world(TINY)
    other = generate_world(dataclasses.replace(TINY, seed=6))
    assert not first.histories.equals(other.histories)
    assert not first.truth.equals(other.truth)


def test_output_does_not_depend_on_chunk_size():
    one = generate_world(TINY)
    big = generate_world(dataclasses.replace(TINY, chunk_size=1000))
    assert len(list(iter_world(TINY))) == 3
    assert len(list(iter_world(dataclasses.replace(TINY, chunk_size=1000)))) == 1
    for name in ("histories", "closures", "truth"):
        assert getattr(one, name).equals(getattr(big, name)), name


def test_block_size_is_part_of_the_data():
    other = generate_world(dataclasses.replace(TINY, block_size=150, chunk_size=150))
    assert not generate_world(TINY).histories.equals(other.histories)


def test_account_ids_are_unique_and_formatted(small_world):
    ids = small_world.histories[C.ACCOUNT_ID]
    assert ids[0].as_py() == "A00000001"
    assert pc.count_distinct(ids).as_py() == small_world.histories.num_rows
    assert pc.all(pc.match_substring_regex(ids, r"^A\d{8}$")).as_py()


def _month(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[M]")


def test_no_events_after_the_closure_month(small_world):
    flat = to_flat(small_world.histories)
    closures = small_world.closures
    closed = dict(
        zip(closures[C.ACCOUNT_ID].to_pylist(), closures[C.CLOSURE_DATE].to_numpy(), strict=True)
    )
    assert closed, "the small world should have closures"
    for part, column in ((flat.statements, C.STATEMENT_MONTH), (flat.transactions, C.TS)):
        ids = part[C.ACCOUNT_ID].to_numpy(zero_copy_only=False)
        when = _month(part[column].to_numpy())
        limit = np.array([_month(closed.get(i, np.datetime64("2100-01-01"))) for i in ids])
        assert (when <= limit).all()


def test_purchases_not_after_the_closure_date(small_world):
    flat = to_flat(small_world.histories)
    tx = flat.transactions.filter(pc.equal(flat.transactions[C.KIND], C.KIND_PURCHASE))
    joined = tx.join(small_world.closures, C.ACCOUNT_ID, join_type="inner")
    day = joined[C.TS].to_numpy().astype("datetime64[D]")
    assert joined.num_rows > 0
    assert (day <= joined[C.CLOSURE_DATE].to_numpy()).all()


def test_truth_rows_cover_open_accounts_only(small_world, small_config):
    truth = small_world.truth.join(small_world.closures, C.ACCOUNT_ID, join_type="left outer")
    as_of = truth[C.AS_OF].to_numpy()
    closure = truth[C.CLOSURE_DATE].to_numpy(zero_copy_only=False)
    closed = ~np.isnat(closure)
    assert (_month(as_of[closed]) < _month(closure[closed])).all()
    assert pc.all(pc.equal(small_world.truth[C.P_CLOSE_SE], 0.0)).as_py()
    total = sum(pc.sum(small_world.truth[c]).as_py() for c in C.CAUSE_PROBABILITY_COLUMNS)
    assert total == pytest.approx(pc.sum(small_world.truth[C.P_CLOSE]).as_py(), rel=1e-9)
    # Every month end of the window has rows, and the last is the window's last day.
    assert len(np.unique(as_of)) == small_config.n_months


def test_every_cause_and_kind_occurs(small_world):
    causes = set(small_world.closures[C.CAUSE].to_pylist())
    assert causes == set(C.CAUSES)
    kinds = pc.list_flatten(small_world.histories[C.TRANSACTIONS].combine_chunks()).field(C.KIND)
    assert set(pc.unique(kinds).to_pylist()) == set(C.KINDS)


def test_cashout_accounts_pay_colluding_merchants(small_world):
    flat = to_flat(small_world.histories)
    tx = flat.transactions.join(
        small_world.merchants.select([C.MERCHANT_ID, C.IS_COLLUDING]),
        C.MERCHANT_ID,
        join_type="inner",
    )
    colluding = tx.filter(tx[C.IS_COLLUDING])
    # Colluding merchants also get legitimate traffic, but their ticket size is far larger.
    assert colluding.num_rows > 0
    big = pc.mean(colluding[C.AMOUNT]).as_py()
    assert big > 3 * pc.mean(tx[C.AMOUNT]).as_py()
    assert 0 < small_world.cashout_accounts < 0.05 * small_world.histories.num_rows


def test_chunks_are_self_contained_contract_tables():
    chunk = next(iter_world(TINY))
    assert chunk.n_accounts == 100
    assert chunk.histories.schema.equals(C.HISTORY_SCHEMA)
    assert chunk.truth.schema.equals(C.TRUTH_SCHEMA)
    ids = chunk.histories[C.ACCOUNT_ID]
    assert len(ids) == len(pc.unique(ids)) == chunk.n_accounts
    # Closures and truth of a chunk only name the chunk's own accounts (files are appended
    # chunk by chunk, so nothing may refer across chunks).
    for table in (chunk.closures, chunk.truth):
        assert pc.all(pc.is_in(table[C.ACCOUNT_ID], value_set=ids)).as_py()


def test_published_sweep_rule_names_the_accounts_sweeps_close(small_world):
    """Regulatory closures inside a sweep fall on accounts the calendar's rule targets."""
    from risk_model.features import build_features

    policy = small_world.config.policy
    closures = small_world.closures.to_pandas()
    checked = 0
    for first, after in policy.sweep_windows():
        as_of = first - dt.timedelta(days=1)
        frame = build_features(small_world.histories, [as_of], policy=policy)
        targeted = frame.set_index("account_id")["sweep_targeted"]
        swept = closures[
            (closures["cause"] == "regulatory")
            & (closures["closure_date"] >= first)
            & (closures["closure_date"] < after)
        ]["account_id"]
        known = targeted.reindex(swept).dropna()
        assert len(known) >= 10
        assert (known == 1).mean() >= 0.9
        # twin: the rest of the population is mostly not targeted
        assert (targeted == 1).mean() < 0.5
        checked += 1
    assert checked == 2


def test_ensure_world_reuses_a_matching_world_and_rewrites_another(tmp_path):
    from risk_model.synthetic import ensure_world

    small = WorldConfig(n_accounts=200, n_months=12, seed=3, block_size=100, chunk_size=100)
    first = ensure_world(small, tmp_path)
    manifest = tmp_path / "manifest.json"
    written = manifest.stat().st_mtime_ns
    again = ensure_world(small, tmp_path)
    assert manifest.stat().st_mtime_ns == written  # same parameters: not written again
    assert again.histories.equals(first.histories)
    other = ensure_world(dataclasses.replace(small, seed=4), tmp_path)
    assert manifest.stat().st_mtime_ns != written  # other parameters: generated again
    assert not other.histories.equals(first.histories)
