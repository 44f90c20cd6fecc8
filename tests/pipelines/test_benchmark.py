import pytest

from pipelines import benchmark


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench")


@pytest.mark.bench
def test_features_benchmark_prints_every_figure(data_dir, capsys):
    argv = ["features", "--accounts", "300", "--months", "12", "--as-of-count", "2"]
    argv += ["--single", "30", "--scoring", "300", "--data-dir", str(data_dir)]
    assert benchmark.main(argv) == 0
    out = capsys.readouterr().out
    for label in ("read parquet (floor)", "build_features", "event rows/s", "ratio to floor",
                  "single account", "peak RSS", "scoring mode: 300 accounts"):  # fmt: skip
        assert label in out


@pytest.mark.bench
def test_features_benchmark_parts_can_be_skipped(data_dir, capsys):
    argv = ["features", "--accounts", "300", "--months", "12", "--no-batch", "--single", "0"]
    assert benchmark.main([*argv, "--scoring", "300", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "scoring mode" in out and "minor page faults per build" in out
    assert "build_features" not in out and "single account" not in out
    assert (data_dir / "world_a300_m12_s7" / "histories.parquet").exists()  # cached


@pytest.mark.bench
def test_separation_prints_a_row_per_cause(data_dir, capsys):
    argv = ["separation", "--accounts", "300", "--months", "12", "--as-of-count", "1"]
    assert benchmark.main([*argv, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for cause in ("overdue", "cashout", "regulatory", "dormancy", "migration"):
        assert cause in out


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["nope"])


@pytest.mark.bench
def test_recourse_benchmark_prints_coverage_and_latency(model, capsys):
    argv = ["recourse", "--data", str(model.world), "--model", str(model.artefact)]
    assert benchmark.main([*argv, "--accounts", "10"]) == 0
    out = capsys.readouterr().out
    for label in ("above the lowest band:", "recourse offered:", "coverage where one exists:",
                  "plans offered:", "predict_one (reference) latency over 10 accounts",
                  "Predictor.recourse latency over 10 accounts"):  # fmt: skip
        assert label in out
