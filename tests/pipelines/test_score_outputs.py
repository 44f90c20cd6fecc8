"""Per-account event limits, and outputs published together or not at all."""

import copy
import errno
import os
import signal
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipelines._outputs as O
import pipelines.score as S
from risk_model import contract as C
from risk_model import predict as P
from risk_model.limits import EventLimits
from risk_model.validation import ContractError

N = 24


@pytest.fixture(scope="module")
def rows(model):
    return model.histories.slice(0, N).to_pylist()


def _write(path, rows):
    pq.write_table(pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA), path)
    return path


def _run(model, path, out, rejects, *extra):
    argv = [str(path), "--model", str(model.artefact), "--as-of", model.as_of.isoformat()]
    return S.main([*argv, "--out", str(out), "--rejects", str(rejects), *extra])


def _counts(rows, column):
    return [len(r[column] or []) for r in rows]


# (column, flag, check): each limit at the most events of any account
LIMITS = [
    (C.TRANSACTIONS, "--max-transactions", "too_many_transactions"),
    (C.STATEMENTS, "--max-statements", "too_many_statements"),
]


@pytest.mark.parametrize(("column", "flag", "check"), LIMITS)
def test_accounts_over_an_event_limit_are_rejected_and_at_the_limit_scored(
    model, rows, tmp_path, column, flag, check
):
    counts = _counts(rows, column)
    most = max(counts)
    path = _write(tmp_path / "in.parquet", rows)
    out, rejects = tmp_path / "o.parquet", tmp_path / "r.parquet"
    assert _run(model, path, out, rejects, flag, str(most), "--batch-rows", "7") == 0
    assert pq.read_table(out).num_rows == N  # at the limit: scored (the twin)
    assert _run(model, path, out, rejects, flag, str(most - 1), "--batch-rows", "7") == 3
    over = [i for i, n in enumerate(counts) if n == most]
    rejected = pq.read_table(rejects)
    assert rejected["row"].to_pylist() == over
    reason = rejected["reason"][0].as_py()
    assert f"[{check}]" in reason and f"{most:,} {column}" in reason
    assert f"limit of {most - 1:,}" in reason and flag in reason
    assert pq.read_table(out).num_rows == N - len(over)


@pytest.mark.parametrize("value", ["0", "-5"])
def test_event_limits_below_one_are_usage_errors(model, rows, tmp_path, capsys, value):
    path = _write(tmp_path / "in.parquet", rows)
    assert (
        _run(model, path, tmp_path / "o.parquet", tmp_path / "r.parquet", "--max-statements", value)
        == 2
    )
    assert "usage" in capsys.readouterr().err
    with pytest.raises(ValueError, match="max_transactions"):
        EventLimits(max_transactions=int(value))


def test_every_predictor_path_applies_the_event_limits(model, rows):
    most = max(_counts(rows, C.TRANSACTIONS))
    biggest = _counts(rows, C.TRANSACTIONS).index(most)
    strict = P.load(model.artefact, limits=EventLimits(max_transactions=most - 1))
    roomy = P.load(model.artefact, limits=EventLimits(max_transactions=most))
    table = pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)
    scores, rejects = strict.score_table(table, model.as_of)
    assert rejects["row"].to_pylist() == [
        i for i, n in enumerate(_counts(rows, C.TRANSACTIONS)) if n == most
    ]
    assert scores.num_rows + rejects.num_rows == N
    with pytest.raises(ContractError, match="too_many_transactions"):
        strict.predict(table, model.as_of)
    with pytest.raises(ContractError, match="too_many_transactions"):
        strict.predict_one(rows[biggest], model.as_of)
    one = roomy.predict_one(rows[biggest], model.as_of)  # at the limit: scored
    assert one[C.ACCOUNT_ID] == rows[biggest][C.ACCOUNT_ID]
    assert roomy.score_table(table, model.as_of)[1].num_rows == 0


def _old_outputs(tmp_path):
    out, rejects = tmp_path / "s.scores.parquet", tmp_path / "s.rejects.parquet"
    pq.write_table(pa.table({"old": [1]}), out)
    pq.write_table(pa.table({"old": [2]}), rejects)
    return out, rejects, out.read_bytes(), rejects.read_bytes()


def _disk_full_on(predicate):
    real = O.write_group

    def write_group(writer, table):
        if predicate(table):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(writer, table)

    return write_group


def _fail_second_rename():
    calls = []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.replace(src, dst)

    return rename


# (failure, how to cause it, the output named in the message)
def _rejects_disk_full():
    return _disk_full_on(lambda table: "reason" in table.column_names)


def _scores_disk_full():
    return _disk_full_on(lambda table: "band" in table.column_names)


FAILURES = [
    ("disk full writing rejects", "write_group", _rejects_disk_full, "rejects"),
    ("disk full midway through scores", "write_group", _scores_disk_full, "scores"),
    ("second rename fails", "_rename", _fail_second_rename, "rejects"),
]


@pytest.mark.parametrize("old", [True, False])
@pytest.mark.parametrize(("kind", "name", "fault", "label"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_write_failure_publishes_neither_file_and_names_the_output(
    model, rows, tmp_path, capsys, monkeypatch, kind, name, fault, label, old
):
    rows = copy.deepcopy(rows)
    rows[3][C.STATEMENTS][0][C.BILLED_AMOUNT] = float("nan")  # a reject: both files get rows
    path = _write(tmp_path / "in.parquet", rows)
    folder = tmp_path / "out"
    folder.mkdir()
    out, rejects, before_out, before_rejects = (
        _old_outputs(folder)
        if old
        else (folder / "s.scores.parquet", folder / "s.rejects.parquet", None, None)
    )
    monkeypatch.setattr(O, "GROUP_ROWS", 5)  # several row groups: the failure is midway
    monkeypatch.setattr(O, name, fault())
    assert _run(model, path, out, rejects, "--batch-rows", "7") == 2, kind
    err = capsys.readouterr().err
    target = out if label == "scores" else rejects
    assert str(target) in err and "No space left on device" in err
    assert "cannot read" not in err and str(path) not in err and "Traceback" not in err
    if old:
        assert (out.read_bytes(), rejects.read_bytes()) == (before_out, before_rejects)
    else:
        assert not out.exists() and not rejects.exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_a_successful_run_replaces_both_old_files_and_leaves_nothing_behind(model, rows, tmp_path):
    path = _write(tmp_path / "in.parquet", rows)
    folder = tmp_path / "out"
    folder.mkdir()
    out, rejects, _, _ = _old_outputs(folder)
    assert _run(model, path, out, rejects) == 0
    assert pq.read_table(out).num_rows == N and pq.read_table(rejects).num_rows == 0
    assert sorted(p.name for p in folder.iterdir()) == [rejects.name, out.name]


def _interrupt(exc):
    def score_batch(*args, **kwargs):
        if exc == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread
            time.sleep(10)  # the handler raises here at the latest
        raise exc

    return score_batch


# (interruption, how, exit code)
INTERRUPTIONS = [
    ("Ctrl-C", _interrupt(KeyboardInterrupt), 130),
    ("SIGTERM", _interrupt("SIGTERM"), 143),
    ("bug in scoring", _interrupt(RuntimeError("boom")), None),
]


@pytest.mark.parametrize(
    ("kind", "fault", "code"), INTERRUPTIONS, ids=[i[0] for i in INTERRUPTIONS]
)
def test_interruptions_leave_old_outputs_and_no_temporary_files(
    model, rows, tmp_path, monkeypatch, kind, fault, code
):
    path = _write(tmp_path / "in.parquet", rows)
    folder = tmp_path / "out"
    folder.mkdir()
    out, rejects, before_out, before_rejects = _old_outputs(folder)
    monkeypatch.setattr(S, "score_batch", fault)
    if code is None:
        with pytest.raises(RuntimeError, match="boom"):
            _run(model, path, out, rejects, "--workers", "1")
    else:
        assert _run(model, path, out, rejects, "--workers", "1") == code
    assert (out.read_bytes(), rejects.read_bytes()) == (before_out, before_rejects)
    assert sorted(p.name for p in folder.iterdir()) == [rejects.name, out.name]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def _fifo(path):
    os.mkfifo(path)


def _directory(path):
    path.mkdir()


def _link_to_directory(path):
    (path.parent / "real_dir").mkdir()
    path.symlink_to(path.parent / "real_dir")


# (kind of output path, how to make it, text in the message)
NOT_FILES = [
    ("FIFO", _fifo, "FIFO"),
    ("directory", _directory, "a directory"),
    ("symlink to a directory", _link_to_directory, "symlink to"),
]


@pytest.mark.parametrize("flag", ["--out", "--rejects"])
@pytest.mark.parametrize(("kind", "make", "text"), NOT_FILES, ids=[n[0] for n in NOT_FILES])
def test_outputs_that_are_not_regular_files_are_refused(
    model, rows, tmp_path, capsys, kind, make, text, flag
):
    path = _write(tmp_path / "in.parquet", rows)
    odd = tmp_path / "odd.parquet"
    make(odd)
    other = tmp_path / "other.parquet"
    out, rejects = (odd, other) if flag == "--out" else (other, odd)
    assert _run(model, path, out, rejects) == 2
    err = capsys.readouterr().err
    assert flag in err and text in err and "Traceback" not in err
    assert not other.exists() and not odd.is_file()


def test_a_character_device_output_is_refused(model, rows, tmp_path, capsys):
    path = _write(tmp_path / "in.parquet", rows)
    assert _run(model, path, "/dev/null", tmp_path / "r.parquet") == 2
    assert "character device" in capsys.readouterr().err
    assert os.path.exists("/dev/null") and not (tmp_path / "r.parquet").exists()


def test_a_symlink_to_a_regular_file_is_written_through(model, rows, tmp_path):
    path = _write(tmp_path / "in.parquet", rows)
    real = tmp_path / "real.parquet"
    real.write_bytes(b"old")
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    assert _run(model, path, link, tmp_path / "r.parquet") == 0
    assert link.is_symlink() and pq.read_table(real).num_rows == N
