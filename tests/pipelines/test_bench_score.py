import json

import pyarrow.parquet as pq
import pytest

from pipelines._bench_score import median_by_tail
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


def test_latency_runs_and_passes_are_at_least_one(capsys):
    assert parse_args(["score", "--latency-runs", "1"]).latency_runs == 1
    assert parse_args(["features", "--latency-passes", "2"]).latency_passes == 2
    for argv in (["score", "--latency-runs", "0"], ["features", "--latency-passes", "0"]):
        with pytest.raises(SystemExit) as stopped:
            parse_args(argv)
        assert stopped.value.code == 2 and "must be at least 1, got 0" in capsys.readouterr().err


def test_timed_command_measures_the_whole_process(tmp_path):
    import sys

    from pipelines._bench_score import timed_command

    grow = "x = bytearray(80_000_000); x[::4096] = b'1' * len(x[::4096])"
    result = timed_command([sys.executable, "-c", grow], log=tmp_path / "err.txt")
    assert result["code"] == 0 and result["wall_s"] > 0 and result["cpu_s"] > 0
    assert result["rss_mb"] > 80  # its own peak, pages touched


def test_timed_command_reports_the_exit_code_and_the_error_text(tmp_path):
    import sys

    from pipelines._bench_score import timed_command

    code = "import sys; print('no such file', file=sys.stderr); sys.exit(3)"
    result = timed_command([sys.executable, "-c", code], log=tmp_path / "err.txt")
    assert result["code"] == 3 and "no such file" in result["stderr"]
    assert result["rss_mb"] < 80  # a small process: not the peak of an earlier child


def test_latency_child_times_predict_one_on_the_file_s_first_accounts(model, tmp_path, capsys):
    from pipelines._bench_score import _measure_latency

    path = tmp_path / "in.parquet"
    pq.write_table(model.histories.slice(0, 40), path)
    assert (
        _measure_latency([str(path), model.as_of.isoformat(), "25", str(model.artefact), ""]) == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 25 and 0 < report["p50"] <= report["p99"]


def test_the_figure_is_the_run_with_the_median_tail():
    runs = [{"p50": 1.0, "p99": 9.0}, {"p50": 2.0, "p99": 3.0}, {"p50": 3.0, "p99": 5.0}]
    ordered, mid = median_by_tail(runs, "p99")
    assert [r["p99"] for r in ordered] == [3.0, 5.0, 9.0] and mid == {"p50": 3.0, "p99": 5.0}
    # Negative twin: the fastest p50 does not choose the run, nor does the input order.
    assert median_by_tail(runs[::-1], "p99")[1] is runs[2]
