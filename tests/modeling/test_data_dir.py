import datetime as dt
import json
import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from risk_model import contract as C
from risk_model.modeling.data_dir import load_inputs
from risk_model.policy import PolicyCalendar
from risk_model.synthetic import WorldConfig, write_world
from risk_model.validation import ContractError

TINY = WorldConfig(n_accounts=200, n_months=12, seed=3, block_size=100, chunk_size=100)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    write_world(TINY, out)
    return out


def test_a_generated_world_reads_with_its_truth_policy_and_label_end(world):
    inputs = load_inputs(world)
    assert inputs.histories.num_rows == TINY.n_accounts
    assert inputs.closures.num_rows == pq.read_metadata(world / "closures.parquet").num_rows
    assert inputs.truth is not None and inputs.source == world
    assert inputs.policy == TINY.policy and inputs.policy != PolicyCalendar()
    assert inputs.label_end == dt.date(2023, 12, 31)  # twelve months from 2023-01


def test_a_plain_extract_reads_without_truth_or_label_end(world, tmp_path):
    for name in ("histories.parquet", "closures.parquet"):
        shutil.copy(world / name, tmp_path / name)
    inputs = load_inputs(tmp_path)
    assert inputs.truth is None and inputs.label_end is None
    assert inputs.policy == PolicyCalendar()
    # A policy.json beside an extract (no manifest) is read.
    (tmp_path / "policy.json").write_text(json.dumps(TINY.policy.to_dict()))
    assert load_inputs(tmp_path).policy == TINY.policy


def test_missing_folder_or_files_are_named(world, tmp_path):
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        load_inputs(tmp_path / "nowhere")
    shutil.copy(world / "histories.parquet", tmp_path / "histories.parquet")
    with pytest.raises(FileNotFoundError, match=r"has no closures\.parquet"):
        load_inputs(tmp_path)


def test_histories_that_break_the_contract_are_refused(world, tmp_path):
    histories = pq.read_table(world / "histories.parquet")
    ids = histories[C.ACCOUNT_ID]
    twice = pc.if_else(pc.equal(ids, ids[1]), ids[0], ids)  # a duplicated account id
    column = histories.schema.get_field_index(C.ACCOUNT_ID)
    pq.write_table(
        histories.set_column(column, C.ACCOUNT_ID, twice), tmp_path / "histories.parquet"
    )
    shutil.copy(world / "closures.parquet", tmp_path / "closures.parquet")
    with pytest.raises(ContractError):
        load_inputs(tmp_path)
