import json

import pyarrow.parquet as pq
import pytest

from pipelines.benchmark import COMMANDS, parse_args


def test_score_sub_command_is_registered_with_its_options():
    args = parse_args(["score", "--accounts", "500", "--model", "m", "--large", "2000"])
    assert args.command == "score" and COMMANDS["score"].__name__ == "run_score"
    assert (args.accounts, args.months, args.batch_rows, args.large) == (500, 12, 10_000, 2000)
    assert args.workers is None  # the scoring pipeline's own default
    assert args.single == 1000 and args.latency_runs == 3
    assert parse_args(["score", "--workers", "1"]).workers == 1


def test_score_sub_command_rejects_unknown_options():
    with pytest.raises(SystemExit):
        parse_args(["score", "--no-such-option"])


def test_measured_score_run_reports_its_cost(tmp_path, tmp_path_factory, capsys):
    from scoring_model import scoring_model

    from pipelines._bench_score import _measure_score

    model = scoring_model(tmp_path_factory.getbasetemp() / "scoring_model")
    path = tmp_path / "in.parquet"
    pq.write_table(model.histories.slice(0, 30), path)
    argv = [str(path), model.as_of.isoformat(), str(tmp_path / "s.parquet"), "needed", "10"]
    assert _measure_score([*argv, "2", str(model.artefact), ""]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["code"] == 0 and pq.read_table(tmp_path / "s.parquet").num_rows == 30
    assert report["wall_s"] > 0 and report["cpu_s"] > 0 and report["rss_mb"] > 50


def test_measured_score_run_passes_on_the_scoring_exit_code(tmp_path, capsys):
    from pipelines._bench_score import _measure_score

    missing = str(tmp_path / "missing.parquet")
    assert (
        _measure_score(
            [
                missing,
                "2025-06-30",
                str(tmp_path / "s.parquet"),
                "needed",
                "10",
                "",
                str(tmp_path / "no-model"),
                "",
            ]
        )
        == 2
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["code"] == 2


def test_latency_child_times_predict_one_on_the_file_s_first_accounts(
    tmp_path, tmp_path_factory, capsys
):
    from scoring_model import scoring_model

    from pipelines._bench_score import _measure_latency

    model = scoring_model(tmp_path_factory.getbasetemp() / "scoring_model")
    path = tmp_path / "in.parquet"
    pq.write_table(model.histories.slice(0, 40), path)
    assert (
        _measure_latency([str(path), model.as_of.isoformat(), "25", str(model.artefact), ""]) == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 25 and 0 < report["p50"] <= report["p99"]
