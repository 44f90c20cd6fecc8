"""The scoring command's as-of and closure guards (``--as-of`` omitted, ``--closures``)."""

import json
import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.score import main
from risk_model import contract as C
from risk_model.dates import add_months

N = 40


@pytest.fixture(scope="module")
def histories(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("guards") / "h.parquet"
    pq.write_table(model.histories.slice(0, N), path)
    return path


def _run(model, path, tmp_path, *extra):
    out, rejects = tmp_path / "s.parquet", tmp_path / "r.parquet"
    argv = [str(path), "--model", str(model.artefact), "--out", str(out)]
    code = main([*argv, "--rejects", str(rejects), "--batch-rows", "9", *extra])
    return code, pq.read_table(out), pq.read_table(rejects)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_omitted_as_of_uses_the_files_latest_month_end_and_logs_it(
    model, histories, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    code, scores, rejects = _run(model, histories, tmp_path)
    assert code == 0 and scores.num_rows == N and rejects.num_rows == 0
    assert set(scores[C.AS_OF].to_pylist()) == {model.as_of}
    said = [m for m in _warnings(caplog) if m.startswith("as-of date not given")]
    assert len(said) == 1 and str(model.as_of) in said[0]


def test_given_as_of_logs_no_guard_warning(model, histories, tmp_path, caplog):
    code, scores, _ = _run(model, histories, tmp_path, "--as-of", model.as_of.isoformat())
    assert code == 0 and set(scores[C.AS_OF].to_pylist()) == {model.as_of}
    assert _warnings(caplog) == []


def test_stale_as_of_is_logged_with_the_fix(model, histories, tmp_path, caplog):
    late = add_months(model.as_of, 9).isoformat()
    code, _, _ = _run(model, histories, tmp_path, "--as-of", late)
    assert code == 0
    [line] = _warnings(caplog)
    assert f"as-of date {late} is 9 months after" in line and "--as-of" in line


def test_closures_reject_closed_accounts_and_score_open_ones(model, histories, tmp_path):
    closures = pq.read_table(model.world / "closures.parquet")
    path = tmp_path / "closures.parquet"
    pq.write_table(closures, path)
    ids = pq.read_table(histories)[C.ACCOUNT_ID]
    early = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(model.as_of)))
    closed = set(early[C.ACCOUNT_ID].to_pylist()) & set(ids.to_pylist())
    assert closed
    at = ("--as-of", model.as_of.isoformat())
    code, scores, rejects = _run(model, histories, tmp_path, *at, "--closures", str(path))
    assert code == 3
    assert set(rejects[C.ACCOUNT_ID].to_pylist()) == closed
    assert all("[closed]" in r for r in rejects["reason"].to_pylist())
    assert scores.num_rows == N - len(closed)
    # Without closures every account is scored (exit 0).
    code, plain, _ = _run(model, histories, tmp_path, *at)
    assert code == 0 and plain.num_rows == N


def test_unreadable_closures_file_is_a_usage_error(model, histories, tmp_path, capsys):
    bad = tmp_path / "closures.parquet"
    pq.write_table(pa.table({"account": ["x"]}), bad)
    at = ("--as-of", model.as_of.isoformat())
    with pytest.raises(FileNotFoundError):  # nothing published
        _run(model, histories, tmp_path, *at, "--closures", str(bad))
    assert "score: error:" in capsys.readouterr().err


def _infos(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def test_the_models_band_edges_are_logged(model, histories, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    code, _, _ = _run(model, histories, tmp_path, "--as-of", model.as_of.isoformat())
    assert code == 0 and _warnings(caplog) == []
    [line] = [m for m in _infos(caplog) if m.startswith("bands: ")]
    assert "derived from" in line and "selection-window probabilities" in line


def test_a_model_older_than_derived_edges_scores_with_its_fixed_edges_and_warns(
    model, histories, tmp_path, caplog
):
    from risk_model.modeling.artefact import load_artefact, save_artefact

    art = load_artefact(model.artefact)
    spec = json.loads(json.dumps(art.spec))
    spec["scale"] = {k: v for k, v in spec["scale"].items() if k != "band_origin"}
    spec["scale"]["band_thresholds"] = [0.01, 0.03, 0.08, 0.2]
    old = save_artefact(
        tmp_path / "old",
        booster=art.booster,
        spec=spec,
        merchant_risk=art.merchant_risk,
        reference=None,
    )
    out = tmp_path / "s.parquet"
    argv = [str(histories), "--model", str(old), "--out", str(out), "--rejects"]
    code = main([*argv, str(tmp_path / "r.parquet"), "--as-of", model.as_of.isoformat()])
    assert code == 0
    [line] = _warnings(caplog)
    assert line.startswith("bands: band edges 0.01, 0.03, 0.08, 0.2: fixed edges stored by")
    scores = pq.read_table(out)
    prob = np.asarray(scores["probability"])
    expected = np.array(["very_low", "low", "medium", "high", "very_high"])[
        np.searchsorted([0.01, 0.03, 0.08, 0.2], prob, "right")
    ]
    assert scores["band"].to_pylist() == expected.tolist()


def test_columns_outside_the_contract_are_ignored_and_named(model, histories, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    table = pq.read_table(histories)
    extra = table.append_column("education", pa.array(["university"] * table.num_rows))
    extra = extra.append_column("income_band", pa.array([3] * table.num_rows))
    path = tmp_path / "extra.parquet"
    pq.write_table(extra, path)
    day = ["--as-of", model.as_of.isoformat()]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    code, scores, _ = _run(model, path, tmp_path / "a", *day)
    assert code == 0 and scores.num_rows == N
    said = [m for m in _infos(caplog) if "not in the data contract" in m]
    assert said == ["input column(s) not in the data contract, ignored: 'education', 'income_band'"]
    _, plain, _ = _run(model, histories, tmp_path / "b", *day)
    assert scores.equals(plain)


def test_contract_columns_only_name_no_ignored_column(model, histories, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    code, _, _ = _run(model, histories, tmp_path, "--as-of", model.as_of.isoformat())
    assert code == 0 and not [m for m in _infos(caplog) if "not in the data contract" in m]
