import pytest

from pipelines import benchmark


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench")


@pytest.mark.bench
def test_features_benchmark_prints_every_figure(data_dir, capsys):
    argv = ["features", "--accounts", "300", "--months", "12", "--as-of-count", "2"]
    argv += ["--single", "30", "--latency-passes", "2", "--scoring", "300"]
    assert benchmark.main([*argv, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for label in ("read parquet (floor)", "build_features", "event rows/s", "ratio to floor",
                  "single account", "peak RSS", "scoring mode: 300 accounts",
                  "median of 2 passes by p99"):  # fmt: skip
        assert label in out


@pytest.mark.bench
def test_single_latency_is_the_pass_with_the_median_p99(data_dir):
    lat = benchmark.single_latency(30, 7, data_dir, passes=3)
    p99s = [run["p99_ms"] for run in lat["passes"]]
    assert len(p99s) == 3 and p99s == sorted(p99s)
    assert (lat["p50_ms"], lat["p99_ms"]) == (lat["passes"][1]["p50_ms"], p99s[1])
    assert lat["accounts"] == 30 and all(0 < r["p50_ms"] <= r["p99_ms"] for r in lat["passes"])


@pytest.mark.bench
def test_single_latency_with_one_pass_reports_that_pass(data_dir):
    lat = benchmark.single_latency(30, 7, data_dir, passes=1)
    assert lat["passes"] == [{"p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"]}]


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
