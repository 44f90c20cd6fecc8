import copy
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factory import score_argv

from pipelines.score import (
    main,
    open_input,
    repeated_string_columns,
    score_in_process,
    score_in_threads,
)
from risk_model import contract as C
from risk_model import predict as P
from risk_model.validation import ContractError

N = 24  # accounts per test file
BATCH = "7"  # small batches: duplicates and problems span batch boundaries


@pytest.fixture(scope="module")
def rows(model):
    return model.histories.slice(0, N).to_pylist()


# Real extracts may hold nulls anywhere: write with every top-level field nullable.
RELAXED = pa.schema([field.with_nullable(True) for field in C.HISTORY_SCHEMA])


def _write(path, rows, schema=RELAXED):
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _run(model, path, tmp_path, *extra, name="s"):
    out, rejects = (tmp_path / "out" / f"{name}.{part}.parquet" for part in ("scores", "rejects"))
    argv = score_argv(model, path, tmp_path / "out", name, "--batch-rows", BATCH, *extra)
    return main(argv), out, rejects


def _edit_statement(i, **fields):
    def edit(rows):
        rows[i][C.STATEMENTS][0].update(fields)
        return rows

    return edit


def _edit_transaction(i, **fields):
    def edit(rows):
        rows[i][C.TRANSACTIONS][0].update(fields)
        return rows

    return edit


def _edit(i, **fields):
    def edit(rows):
        rows[i].update(fields)
        return rows

    return edit


def _duplicate(rows):
    rows[20] = copy.deepcopy(rows[2])  # same id in another batch (batch size 7)
    return rows


AFTER = dt.datetime(2031, 1, 1, 12)
# (kind of input, edit of the rows, rejected row positions, text expected in a reason)
BAD_ACCOUNTS = [
    ("NaN amount", _edit_statement(1, billed_amount=float("nan")), [1], "not_finite"),
    ("infinite amount", _edit_transaction(2, amount=float("inf")), [2], "not_finite"),
    ("negative limit", _edit_statement(3, credit_limit=-100.0), [3], "not_positive"),
    ("absurd amount", _edit_statement(4, amount_paid=1e15), [4], "too_large"),
    ("transaction after as-of", _edit_transaction(5, ts=AFTER), [5], "after_as_of"),
    ("opened after as-of", _edit(6, open_date=dt.date(2031, 1, 1)), [6], "after_as_of"),
    ("duplicate ids across batches", _duplicate, [2, 20], "duplicate_id"),
    ("null account id", _edit(8, account_id=None), [8], "missing_value"),
    ("control characters in id", _edit(9, account_id="A\x00B"), [9], "bad_id"),
    ("negative days past due", _edit_statement(10, days_past_due=-3), [10], "out_of_range"),
    ("unknown product version", _edit(11, product_version="beta"), [11], "unknown_value"),
    ("unknown transaction kind", _edit_transaction(12, kind="gift"), [12], "unknown_value"),
    ("absurd birth year", _edit(13, birth_year=1066), [13], "out_of_range"),
]


@pytest.mark.parametrize(
    ("kind", "edit", "bad_rows", "check"), BAD_ACCOUNTS, ids=[case[0] for case in BAD_ACCOUNTS]
)
def test_bad_accounts_are_rejected_and_the_rest_scored(
    model, rows, tmp_path, capsys, kind, edit, bad_rows, check
):
    path = _write(tmp_path / "in.parquet", edit(copy.deepcopy(rows)))
    code, out, rejects = _run(model, path, tmp_path)
    assert code == 3, kind
    scores, rejected = pq.read_table(out), pq.read_table(rejects)
    assert scores.num_rows + rejected.num_rows == N  # no account goes missing
    assert rejected["row"].to_pylist() == bad_rows
    assert all(check in reason for reason in rejected["reason"].to_pylist())
    good = [r[C.ACCOUNT_ID] for i, r in enumerate(rows) if i not in bad_rows]
    assert scores[C.ACCOUNT_ID].to_pylist() == good
    assert "Traceback" not in capsys.readouterr().err


def _extra_column(rows):
    table = pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)
    return table.append_column("note", pa.array(["x"] * len(rows)))


def _without(name):
    return lambda rows: pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA).drop_columns([name])


def _empty_lists(rows):
    for row in rows[:5]:
        row[C.STATEMENTS], row[C.TRANSACTIONS] = [], []
    rows[5][C.STATEMENTS], rows[6][C.TRANSACTIONS] = None, None
    return pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)


def _non_ascii(rows):
    for i, row in enumerate(rows):
        row[C.ACCOUNT_ID] = f"账户-{i}-é"
    return pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)


# (kind of input, table builder, expected number scored)
ACCEPTED = [
    ("extra field", _extra_column, N),
    ("missing optional transactions", _without(C.TRANSACTIONS), N),
    ("missing nullable kyc_date", _without(C.KYC_DATE), N),
    ("empty and null event lists", _empty_lists, N),
    ("non-ASCII ids", _non_ascii, N),
    ("zero rows", lambda rows: C.HISTORY_SCHEMA.empty_table(), 0),
]


@pytest.mark.parametrize(
    ("kind", "build", "n_scored"), ACCEPTED, ids=[case[0] for case in ACCEPTED]
)
def test_unusual_but_valid_input_is_scored(model, rows, tmp_path, kind, build, n_scored):
    table = build(copy.deepcopy(rows))
    pq.write_table(table, tmp_path / "in.parquet")
    code, out, rejects = _run(model, tmp_path / "in.parquet", tmp_path)
    assert code == 0, kind
    scores = pq.read_table(out)
    assert scores.num_rows == n_scored and pq.read_table(rejects).num_rows == 0
    assert scores[C.ACCOUNT_ID].to_pylist() == table[C.ACCOUNT_ID].to_pylist()
    assert scores.schema == P.OUTPUT_SCHEMA


def _wrong_type(rows):
    table = pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)
    index = table.schema.get_field_index(C.BIRTH_YEAR)
    return table.set_column(index, C.BIRTH_YEAR, pa.array(["nineteen-ninety"] * len(rows)))


def _without_due_date(rows):
    table = pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)
    lists = table[C.STATEMENTS].combine_chunks()
    keep = [f.name for f in C.STATEMENT_FIELDS if f.name != C.DUE_DATE]
    items = pa.StructArray.from_arrays([lists.values.field(n) for n in keep], names=keep)
    column = pa.ListArray.from_arrays(lists.offsets, items)
    return table.set_column(table.schema.get_field_index(C.STATEMENTS), C.STATEMENTS, column)


def _truncated(path, rows):
    _write(path, rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# (kind of input, how to make the input file, extra argv, text expected in the message)
UNUSABLE = [
    (
        "missing required field",
        lambda p, r: pq.write_table(_without(C.OPEN_DATE)(r), p),
        [],
        "open_date",
    ),
    ("wrong type", lambda p, r: pq.write_table(_wrong_type(r), p), [], "birth_year"),
    (
        "missing nested field",
        lambda p, r: pq.write_table(_without_due_date(r), p),
        [],
        "statements.due_date",
    ),
    ("truncated parquet", _truncated, [], "not parquet or truncated"),
    (
        "not parquet",
        lambda p, r: p.write_text("account_id,open_date\nA1,2024-01-01\n"),
        [],
        "not parquet",
    ),
    ("missing file", lambda p, r: None, [], "not found"),
    ("unknown model", _write, ["--model", "models:/closure-risk@nope"], "nope"),
    ("unknown model path", _write, ["--model", "/nowhere/model"], "not found"),
    ("bad as-of date", _write, ["--as-of", "2024-13-45"], ""),
]


@pytest.mark.parametrize(
    ("kind", "make", "extra", "message"), UNUSABLE, ids=[case[0] for case in UNUSABLE]
)
def test_unusable_input_fails_cleanly_with_exit_2(
    model, rows, tmp_path, capsys, kind, make, extra, message
):
    path = tmp_path / "in.parquet"
    make(path, copy.deepcopy(rows))
    code, out, rejects = _run(model, path, tmp_path, "--tracking-uri", model.tracking_uri, *extra)
    err = capsys.readouterr().err
    assert code == 2, kind
    assert message in err and "Traceback" not in err
    assert not out.exists() and not rejects.exists()
    assert not list((tmp_path / "out").glob("*.tmp")) if (tmp_path / "out").exists() else True


def test_output_equal_to_input_is_refused_and_input_kept(model, rows, tmp_path, capsys):
    path = _write(tmp_path / "in.parquet", rows)
    before = path.read_bytes()
    argv = [str(path), "--model", str(model.artefact), "--as-of", model.as_of.isoformat()]
    assert main([*argv, "--out", str(path)]) == 2
    assert main([*argv, "--out", str(tmp_path / "o.parquet"), "--rejects", str(path)]) == 2
    (tmp_path / "link.parquet").symlink_to(path)
    assert main([*argv, "--out", str(tmp_path / "link.parquet")]) == 2
    err = capsys.readouterr().err
    assert "is the input file" in err and "Traceback" not in err
    assert path.read_bytes() == before


def test_scores_equal_the_predictor_and_do_not_depend_on_batch_size(model, rows, tmp_path):
    path = _write(tmp_path / "in.parquet", rows)
    code, out, _ = _run(model, path, tmp_path, "--reasons", "all")
    assert code == 0
    streamed = pq.read_table(out)
    expected = P.load(model.artefact).predict(path, model.as_of, reasons="all")
    assert streamed[C.ACCOUNT_ID].to_pylist() == expected[C.ACCOUNT_ID].tolist()
    np.testing.assert_array_equal(streamed[P.PROBABILITY].to_numpy(), expected[P.PROBABILITY])
    assert streamed[P.REASONS].to_pylist() == expected[P.REASONS].tolist()
    assert streamed[P.TOP_CAUSE].to_pylist() == expected[P.TOP_CAUSE].tolist()
    whole, out_whole, _ = _run(
        model, path, tmp_path, "--reasons", "all", "--batch-rows", "10000", name="whole"
    )
    assert whole == 0 and pq.read_table(out_whole).equals(streamed)


def test_recourse_column_equals_the_predictors_recourse(model, rows, tmp_path):
    from risk_model.recourse import RECOURSE, RECOURSE_TYPE

    bad = copy.deepcopy(rows)
    bad[2][C.STATEMENTS][0][C.BILLED_AMOUNT] = -5.0  # rejected, and nothing else moves
    path = _write(tmp_path / "in.parquet", bad)
    code, out, rejects = _run(model, path, tmp_path, "--recourse")
    assert code == 3 and pq.read_table(rejects)[C.ACCOUNT_ID].to_pylist() == [bad[2]["account_id"]]
    scored = pq.read_table(out)
    assert scored.schema == P.OUTPUT_SCHEMA.append(pa.field(RECOURSE, RECOURSE_TYPE))
    plain_code, plain, _ = _run(model, path, tmp_path, name="plain")
    assert plain_code == 3 and pq.read_table(plain).equals(scored.drop_columns([RECOURSE]))
    predictor = P.load(model.artefact)
    kept = [r for i, r in enumerate(bad) if i != 2]
    statuses = set()
    for record, found in zip(kept, scored[RECOURSE].to_pylist(), strict=True):
        one = predictor.recourse(record, model.as_of)
        assert found["status"] == one["status"] and found["actions"] == one["actions"]
        assert found["probability"] == one["new_probability"]
        statuses.add(found["status"])
    assert "offered" in statuses


def test_default_model_is_the_registry_champion(model, rows, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking_uri)
    path = _write(tmp_path / "in.parquet", rows)
    out = tmp_path / "x.scores.parquet"
    assert main([str(path), "--as-of", model.as_of.isoformat(), "--out", str(out)]) == 0
    assert (tmp_path / "x.rejects.parquet").exists()
    version = P.load(model.artefact).model_version
    assert set(pq.read_table(out)[P.MODEL_VERSION].to_pylist()) == {version}


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["x.parquet", "--batch-rows", "0"]) == 2
    assert "usage" in capsys.readouterr().err


def _mixed_rows(rows):
    """Rows with rejects of every kind spread over the batches (duplicates across them)."""
    edited = copy.deepcopy(rows)
    for _, edit, _, _ in BAD_ACCOUNTS:
        edited = edit(edited)
    return edited


@pytest.mark.parametrize("reasons", ["needed", "all"])
@pytest.mark.parametrize("workers", ["2", "3"])
def test_scoring_threads_write_byte_identical_files(model, rows, tmp_path, reasons, workers):
    path = _write(tmp_path / "in.parquet", _mixed_rows(rows))
    code_1, out_1, rejects_1 = _run(model, path, tmp_path, "--reasons", reasons, "--workers", "1")
    code_n, out_n, rejects_n = _run(
        model, path, tmp_path, "--reasons", reasons, "--workers", workers, name="wn"
    )
    assert code_1 == code_n == 3
    assert pq.read_table(out_n).num_rows + pq.read_table(rejects_n).num_rows == N
    assert out_1.read_bytes() == out_n.read_bytes()
    assert rejects_1.read_bytes() == rejects_n.read_bytes()
    assert not list(out_n.parent.glob("*.tmp"))


def test_registry_champion_scores_like_its_artefact_folder(model, rows, tmp_path, monkeypatch):
    # The champion is downloaded to a temporary folder, verified and read into memory.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", model.tracking_uri)
    path = _write(tmp_path / "in.parquet", rows)
    as_of = ["--as-of", model.as_of.isoformat(), "--batch-rows", BATCH, "--reasons", "all"]
    local = [str(path), "--model", str(model.artefact), *as_of, "--workers", "1"]
    assert main([*local, "--out", str(tmp_path / "local.parquet")]) == 0
    assert main([str(path), *as_of, "--workers", "2", "--out", str(tmp_path / "reg.parquet")]) == 0
    assert (tmp_path / "local.parquet").read_bytes() == (tmp_path / "reg.parquet").read_bytes()


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_below_one_are_a_usage_error(model, rows, tmp_path, capsys, workers):
    path = _write(tmp_path / "in.parquet", rows)
    code, out, rejects = _run(model, path, tmp_path, "--workers", workers)
    assert code == 2
    assert "usage" in capsys.readouterr().err
    assert not out.exists() and not rejects.exists()


def test_scoring_threads_keep_input_order_and_stop_at_the_first_error(model, rows):
    predictor = P.load(model.artefact)
    table = pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)
    broken = table.drop_columns([C.OPEN_DATE])  # a batch the contract refuses as a whole
    dups = pa.array([], pa.string())
    good = [(i * N, table) for i in range(4)]
    results = list(score_in_threads(predictor, iter(good), 3, dups, model.as_of, "needed"))
    alone = list(score_in_process(predictor, iter(good), dups, model.as_of, "needed"))
    assert [r[0] for r in results] == [N] * 4
    for (_, scores, rejects), (_, scores_1, rejects_1) in zip(results, alone, strict=True):
        assert scores.equals(scores_1) and rejects.equals(rejects_1)
    batches = [(0, table), (N, broken), (2 * N, table), (3 * N, table)]
    results = score_in_threads(predictor, iter(batches), 2, dups, model.as_of, "needed")
    first = next(results)
    assert first[0] == N and first[1].num_rows + first[2].num_rows == N
    with pytest.raises(ContractError, match="open_date"):
        list(results)


def test_repeated_strings_are_read_as_dictionaries_and_score_the_same(model, rows, tmp_path):
    table = pa.Table.from_pylist(rows, schema=RELAXED)
    plain, encoded = tmp_path / "plain.parquet", tmp_path / "encoded.parquet"
    pq.write_table(table, plain, use_dictionary=False)
    pq.write_table(table, encoded)
    source = open_input(encoded)
    kinds = source.schema_arrow.field(C.TRANSACTIONS).type.value_type.field(C.KIND).type
    assert pa.types.is_dictionary(kinds)
    assert pa.types.is_dictionary(source.schema_arrow.field(C.PRODUCT_VERSION).type)
    assert source.schema_arrow.field(C.ACCOUNT_ID).type == pa.string()  # unique: not encoded
    _, out_plain, _ = _run(model, plain, tmp_path, name="plain")
    _, out_encoded, _ = _run(model, encoded, tmp_path, name="encoded")
    assert out_plain.read_bytes() == out_encoded.read_bytes()
    direct, _ = P.load(model.artefact).score_table(table, model.as_of)
    assert pq.read_table(out_plain).equals(direct)


def test_statements_only_files_have_no_event_strings_to_encode(rows, tmp_path):
    table = pa.Table.from_pylist(rows, schema=RELAXED)
    path = tmp_path / "statements_only.parquet"
    pq.write_table(table.drop_columns([C.TRANSACTIONS]), path)
    assert repeated_string_columns(open_input(path)) == [C.PRODUCT_VERSION]
