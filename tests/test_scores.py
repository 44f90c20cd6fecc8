import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from risk_model import contract as C
from risk_model import scores as S
from risk_model.synthetic import WorldConfig, generate_world

TINY = WorldConfig(n_accounts=30, n_months=8, seed=2, block_size=30, chunk_size=30)


@pytest.fixture(scope="module")
def histories() -> pa.Table:
    return generate_world(TINY).histories


def test_every_input_form_gives_the_same_table(histories, tmp_path):
    path = tmp_path / "h.parquet"
    pq.write_table(histories, path)
    records = histories.slice(0, 3).to_pylist()
    assert S.as_table(histories) is histories
    assert S.as_table(histories.to_batches()[0]).equals(
        histories.slice(0, len(histories.to_batches()[0]))
    )
    assert S.as_table(path).equals(pq.read_table(path))
    assert S.as_table(str(path)).num_rows == histories.num_rows
    from_list, from_one = S.as_table(records), S.as_table(records[0])
    assert from_list[C.ACCOUNT_ID].to_pylist() == histories[C.ACCOUNT_ID].to_pylist()[:3]
    assert from_one[C.ACCOUNT_ID].to_pylist() == [records[0][C.ACCOUNT_ID]]


def test_unusable_inputs_are_refused_with_their_kind(tmp_path):
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="cannot read histories from"):
        S.as_table(tmp_path / "bad.parquet")
    with pytest.raises(TypeError, match="of type int"):
        S.as_table(42)
    with pytest.raises(TypeError, match="of type bytes"):
        S.as_table(b"{}")


def _scores(n=2) -> pa.Table:
    reasons = [[{"feature": "f", "cause": "overdue", "text": "t", "contribution": 0.5}], []]
    rows = {
        C.ACCOUNT_ID: [f"A{i}" for i in range(n)],
        C.AS_OF: [dt.date(2024, 6, 30)] * n,
        S.PROBABILITY: [0.1, 0.02][:n],
        S.POINTS: [600.0, 650.0][:n],
        S.BAND: ["C", "A"][:n],
        S.REASONS: reasons[:n],
        S.TOP_CAUSE: ["overdue", None][:n],
        S.MODEL_VERSION: ["v1"] * n,
    }
    return pa.table(rows).select(list(S.OUTPUT_COLUMNS))


def test_to_frame_gives_python_objects_and_float_columns():
    frame = S.to_frame(_scores().cast(S.OUTPUT_SCHEMA, safe=False))
    assert list(frame.columns) == list(S.OUTPUT_COLUMNS)
    assert frame[C.AS_OF].tolist() == [dt.date(2024, 6, 30)] * 2
    assert frame[S.PROBABILITY].dtype == np.float64
    assert frame[S.REASONS][0][0]["cause"] == "overdue" and frame[S.REASONS][1] == []
    assert frame[S.TOP_CAUSE][1] is None  # not NaN: an account without reasons has no cause
    assert not pd.isna(frame[S.TOP_CAUSE][0])


def test_unreadable_record_problem_names_the_account_and_the_first_line():
    problem = S.unreadable_record_problem({C.ACCOUNT_ID: "A7"}, ValueError("bad amount\nmore"))
    assert problem.account_ids == ("A7",) and problem.message == "bad amount"
    assert problem.check == "unreadable_record"
    assert S.unreadable_record_problem(["not", "a", "record"], ValueError("x")).account_ids == (
        "None",
    )


def test_add_not_open_puts_the_accounts_at_their_input_rows():
    table = pa.table({C.ACCOUNT_ID: ["a", "b", "c", "d"]})
    rejects = pa.table(
        {C.ACCOUNT_ID: ["b"], "row": pa.array([1], pa.int64()), "reason": ["statements: bad"]}
    )
    valid = table.filter(pa.array([True, False, True, True]))
    out = S.add_not_open(valid, np.array([True, False, True]), rejects, table, dt.date(2024, 1, 31))
    assert out["row"].to_pylist() == [1, 2]
    assert out[C.ACCOUNT_ID].to_pylist() == ["b", "c"]
    assert out["reason"][1].as_py() == "open_date: account not open at the as-of date 2024-01-31"
    # Every valid account open: the rejects are unchanged.
    same = S.add_not_open(valid, np.ones(3, bool), rejects, table, dt.date(2024, 1, 31))
    assert same.equals(rejects)
