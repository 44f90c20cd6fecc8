"""The training entry point, end to end on a small world (real LightGBM and MLflow)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from pipelines.train import main
from risk_model import contract as C
from risk_model.modeling.artefact import load_artefact
from risk_model.modeling.mlflow_adapter import model_location
from risk_model.predict import Predictor
from risk_model.records import to_flat, to_nested


def _run(argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def test_summary_artefact_and_registry(trained_run, train_store):
    out, stdout = trained_run
    for text in (
        "closure-risk training summary",
        "time features (s)",
        "time mlflow (s)",
        "OOT Gini",
        "OOT ECE / base rate",
        "Gini model / truth",
        "alias",
        f"mlflow ui --backend-store-uri {train_store}",
    ):
        assert text in stdout
    latest = load_artefact(out / "latest")
    versioned = [
        p
        for p in out.iterdir()
        if p.is_dir() and p.name not in ("latest",) and not p.name.endswith("-plots")
    ]
    assert len(versioned) == 1
    assert (versioned[0] / "model.txt").read_bytes() == (out / "latest" / "model.txt").read_bytes()
    assert latest.spec["metrics"]["oot"]["gini"] > 0.3
    assert latest.spec["split"]["kind"] == "time"
    assert latest.merchant_risk is not None
    plots = sorted(p.name for p in (out / f"{versioned[0].name}-plots").iterdir())
    assert "roc.png" in plots and "gini_by_cause.png" in plots and len(plots) == 8
    report = (out / f"{versioned[0].name}-report.html").read_text(encoding="utf-8")
    assert "Risk bands on the OOT rows" in report and latest.scale.band_note() in report
    client = MlflowClient(train_store)
    champion = client.get_model_version_by_alias("closure-risk", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.params["model.num_threads"] == "2"
    assert "oot_gini" in run.data.metrics and "truth_gini" in run.data.metrics
    assert run.data.tags["split_kind"] == "time"
    assert run.inputs.dataset_inputs[0].dataset.digest
    logged = {a.path for a in client.list_artifacts(champion.run_id)}
    assert {
        "oot_decile_table.csv",
        "feature_catalogue.csv",
        "feature_catalogue.json",
        "plots",
        "report.json",
        "report.html",
        "split.json",
    } <= logged
    assert len(client.list_artifacts(champion.run_id, "plots")) == 8
    history = client.get_metric_history(champion.run_id, "oot_gini_by_month")
    assert [m.step for m in history] == [0, 1, 2]


def test_champion_loads_in_a_fresh_process(trained_run, small_world, train_store, tmp_path):
    out, _ = trained_run
    histories = pq.read_table(small_world / "histories.parquet").slice(0, 30)
    pq.write_table(histories, tmp_path / "records.parquet")
    as_of = "2024-05-31"
    code = (
        "import mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/closure-risk@champion')\n"
        f"frame = pd.read_parquet(r'{tmp_path / 'records.parquet'}')\n"
        f"rows = m.predict(frame, params={{'as_of': '{as_of}', 'if_none_scored': 'report'}})\n"
        "assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)\n"
        "out = pd.DataFrame(rows)[['account_id', 'probability', 'status']]\n"
        "out = out.astype({'probability': float})\n"
        f"out.to_parquet(r'{tmp_path / 'out.parquet'}')\n"
    )
    env = os.environ | {"MLFLOW_TRACKING_URI": train_store, "MLFLOW_DISABLE_TELEMETRY": "true"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path, timeout=120)
    served = pd.read_parquet(tmp_path / "out.parquet")
    predictor = Predictor(load_artefact(out / "latest"))
    scores, rejects = predictor.score_table(histories, dt.date.fromisoformat(as_of))
    assert served["status"].value_counts().to_dict() == {
        k: v for k, v in {"scored": scores.num_rows, "rejected": rejects.num_rows}.items() if v
    }
    scored = served[served["status"] == "scored"]
    assert scored["account_id"].tolist() == scores["account_id"].to_pylist()
    assert np.array_equal(scored["probability"].to_numpy(float), scores["probability"].to_numpy())


class _Records(logging.Handler):
    """Every record of INFO and above emitted while attached (caplog, for a module fixture)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def second_run(trained_run, small_world, train_store, tmp_path_factory):
    """The default training again, features recomputed (``--no-cache``), tracked into
    closure-risk like ``trained_run``: (models dir, stdout, its log records).

    Two tests need exactly this run: the same seed gives the same model, and an identical
    second run is never promoted over the champion.
    """
    out = tmp_path_factory.mktemp("second")
    handler, root = _Records(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        argv = ["--data", str(small_world), "--out", str(out), "--no-cache"]
        code, stdout = _run([*argv, "--tracking-uri", train_store])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert code == 0, stdout
    return out, stdout, handler.records


def test_same_seed_gives_identical_model_and_metrics(trained_run, second_run):
    out, _ = trained_run
    again, _, records = second_run
    lines = [r.getMessage() for r in records if r.name == "pipelines.train"]
    assert "features: computed" in lines  # features recomputed: the whole path is deterministic
    assert any(line.startswith("capacity search 1/") for line in lines)  # the fit's progress
    assert any(line.startswith("final fit (depth ") for line in lines)
    assert not [r for r in records if r.name.startswith("matplotlib")]
    first, second = out / "latest", again / "latest"
    assert (first / "model.txt").read_bytes() == (second / "model.txt").read_bytes()
    spec_a = json.loads((first / "spec.json").read_text())
    spec_b = json.loads((second / "spec.json").read_text())
    assert spec_a["metrics"] == spec_b["metrics"]
    assert spec_a["calibration"] == spec_b["calibration"]
    assert spec_a["data_fingerprint"] == spec_b["data_fingerprint"]
    assert spec_a["scale"] == spec_b["scale"]  # the derived band edges too
    assert (first / "reference.json").read_bytes() == (second / "reference.json").read_bytes()


def test_an_identical_second_run_is_never_promoted(second_run, train_store):
    _, stdout, _ = second_run
    version = _version_of_run(train_store, stdout)
    assert version.name == "closure-risk"
    assert _alias_of(train_store, "closure-risk", version.version) == {"challenger"}
    assert "interval [+0.0000, +0.0000]" in stdout
    tags = MlflowClient(train_store).get_model_version("closure-risk", version.version).tags
    assert tags["decision"] == "not_better"


def test_champion_kept_when_the_challenger_is_worse(
    trained_run, small_world, train_store, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    weak = tmp_path / "weak.toml"
    weak.write_text(WEAK_MODEL)
    code, stdout = _run(
        [
            "--data",
            str(small_world),
            "--out",
            str(tmp_path / "m"),
            "--config",
            str(weak),
            "--tracking-uri",
            train_store,
        ]
    )
    assert code == 0
    # Another model configuration on the same data reads the features from the cache.
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelines.train"]
    assert any(line.startswith("features: from cache (key ") for line in lines)
    assert "served features: from cache" in lines
    spec = json.loads((tmp_path / "m" / "latest" / "spec.json").read_text())
    first = json.loads((trained_run[0] / "latest" / "spec.json").read_text())
    assert spec["data_fingerprint"] == first["data_fingerprint"]
    assert "challenger" in stdout
    client = MlflowClient(train_store)
    champion = client.get_model_version_by_alias("closure-risk", "champion")
    challenger = client.get_model_version_by_alias("closure-risk", "challenger")
    assert int(challenger.version) > int(champion.version)
    run = client.get_run(challenger.run_id)
    metrics = run.data.metrics
    assert metrics["champion_gini_same_selection_rows"] > metrics["new_gini_same_selection_rows"]


# One tree of two leaves: worse than any trained champion, fitted at once (the registry
# tests compare trainings, not model quality).
WEAK_MODEL = (
    "[model]\nnum_boost_round = 1\nnum_leaves = 2\nmonotone = false\ncapacity_search = false\n"
)


def _train_into(world: Path, store: str, name: str, out: Path, *extra: str) -> tuple[int, str]:
    config = out.with_suffix(".toml")
    config.write_text(f'[tracking]\nregistered_model = "{name}"\n{WEAK_MODEL}')
    args = ["--data", str(world), "--out", str(out), "--config", str(config)]
    return _run([*args, "--tracking-uri", store, *extra])


def _alias_of(store: str, name: str, version: str) -> set[str]:
    return set(MlflowClient(store).get_model_version(name, version).aliases)


def _newest(store: str, name: str) -> str:
    versions = MlflowClient(store).search_model_versions(f"name = '{name}'")
    return str(max(int(v.version) for v in versions))


def _registered_again(store: str, stdout: str, name: str) -> None:
    """The model of the training whose summary is ``stdout``, registered as ``name`` version 1
    (champion) with its version's tags: the evidence a new training compares against.

    Registered from its folder, not from its run or logged model: those keep their one
    registered version (the monitoring finds a run's version by the run).
    """
    client = MlflowClient(store)
    version = _version_of_run(store, stdout)
    folder = model_location(f"models:/{version.name}/{version.version}", store)
    client.create_registered_model(name)
    client.create_model_version(name, folder, tags=version.tags)
    client.set_registered_model_alias(name, "champion", "1")


def test_promote_forces_the_champion(trained_run, small_world, train_store, tmp_path):
    # The champion is trained_run's model (no second default training); a weak model of the
    # same data, worse than it on the same rows, is forced in.
    _registered_again(train_store, trained_run[1], "cr-forced")
    code, _ = _train_into(small_world, train_store, "cr-forced", tmp_path / "b", "--promote")
    assert code == 0
    assert _newest(train_store, "cr-forced") == "2"
    assert _alias_of(train_store, "cr-forced", "2") == {"champion"}
    tags = MlflowClient(train_store).get_model_version("cr-forced", "2").tags
    assert tags["decision"] == "forced"
    assert tags["compared_with"] == "v1" and float(tags["gini_difference_upper"]) < 0


@pytest.fixture(scope="module")
def extract_run(trained_run, small_world, train_store, tmp_path_factory) -> tuple[Path, str]:
    """The small world cut to a real extract (statements only, one as-of month), trained
    into closure-risk, whose champion (``trained_run``) saw the whole world: (out, stdout).

    One training serves two tests: a single-month extract trains (split by account) and,
    being other data, is not comparable with the champion.
    """
    root = tmp_path_factory.mktemp("extract_run")
    data = root / "extract"
    _single_month_statements_only(small_world, data, dt.date(2024, 2, 29))
    config = root / "c.toml"
    config.write_text("[model]\nmin_data_in_leaf = 20\n")
    argv = ["--data", str(data), "--out", str(root / "m"), "--config", str(config)]
    code, stdout = _run([*argv, "--tracking-uri", train_store])
    assert code == 0, stdout
    return root / "m", stdout


def _version_of_run(store: str, stdout: str):
    """The registered version of the training whose summary is ``stdout``."""
    (run_id,) = [
        line.split()[-1] for line in stdout.splitlines() if line.startswith("MLflow run id")
    ]
    (version,) = MlflowClient(store).search_model_versions(f"run_id = '{run_id}'")
    return version


def test_other_data_is_not_comparable_and_says_how_to_promote(extract_run, train_store):
    # The champion of closure-risk was trained on the small world (trained_run).
    _, stdout = extract_run
    version = _version_of_run(train_store, stdout)
    assert version.name == "closure-risk"
    assert _alias_of(train_store, "closure-risk", version.version) == {"challenger"}
    assert "--promote" in stdout and "not comparable" in stdout


def test_the_run_spans_the_training_and_is_described(trained_run, train_store):
    client = MlflowClient(train_store)
    champion = client.get_model_version_by_alias("closure-risk", "champion")
    run = client.get_run(champion.run_id)
    stage_seconds = sum(
        float(line.split()[-1])
        for line in trained_run[1].splitlines()
        if line.startswith("time ") and "total" not in line and "mlflow" not in line
    )
    assert (run.info.end_time - run.info.start_time) / 1000 >= 0.8 * stage_seconds
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "Served-path OOT" in champion.description
    assert client.get_registered_model("closure-risk").description
    assert run.data.tags["windows"].startswith("train ")


def test_a_failed_training_marks_its_run_failed(small_world, train_store, tmp_path, monkeypatch):
    import pipelines.train as train_pipeline

    def broken(*args, **kwargs):
        raise ValueError("disk on fire")

    monkeypatch.setattr(train_pipeline, "_train_and_evaluate", broken)  # the first stage
    code, _ = _train_into(small_world, train_store, "cr-failed", tmp_path / "a")
    assert code == 1
    client = MlflowClient(train_store)
    experiment = client.get_experiment_by_name("closure-risk")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert runs[0].info.status == "FAILED"
    assert "disk on fire" in runs[0].data.tags["failure"]


def _single_month_statements_only(world: Path, out: Path, as_of: dt.date) -> None:
    """A real-extract-like data set: accounts open at ``as_of``, statements up to it,
    no transactions column, closures of the next 3 months only."""
    histories = pq.read_table(world / "histories.parquet")
    closures = pq.read_table(world / "closures.parquet")
    closed_before = pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(as_of))
    gone = closures.filter(closed_before)[C.ACCOUNT_ID]
    flat = to_flat(histories)
    accounts = flat.accounts.filter(pc.invert(pc.is_in(flat.accounts[C.ACCOUNT_ID], gone)))
    statements = flat.statements.filter(
        pc.and_(
            pc.less_equal(flat.statements[C.STATEMENT_MONTH], pa.scalar(as_of.replace(day=1))),
            pc.invert(pc.is_in(flat.statements[C.ACCOUNT_ID], gone)),
        )
    )
    nested = to_nested(accounts, statements).drop_columns([C.TRANSACTIONS])
    later = closures.filter(
        pc.and_(
            pc.greater(closures[C.CLOSURE_DATE], pa.scalar(as_of)),
            pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(dt.date(2024, 5, 31))),
        )
    )
    out.mkdir()
    pq.write_table(nested, out / "histories.parquet")
    pq.write_table(later, out / "closures.parquet")


def test_statements_only_single_as_of_month(extract_run, train_store):
    out, stdout = extract_run
    assert "single as-of month: split by account" in stdout
    spec = json.loads((out / "latest" / "spec.json").read_text())
    assert spec["split"]["kind"] == "account"
    assert spec["split"]["months_oot"] == ["2024-02-29"]
    origin = spec["scale"]["band_origin"]  # one snapshot still gets bands from its own data
    assert origin["rule"] == "quantiles" and max(origin["observed"]) <= 0.6
    client = MlflowClient(train_store)
    run = client.get_run(_version_of_run(train_store, stdout).run_id)
    assert run.data.tags["split_kind"] == "account"
    assert run.data.params["split.kind"] == "account"


def test_missing_data_dir_bad_config_and_missing_closures(tmp_path, caplog):
    assert main(["--data", str(tmp_path / "nope"), "--no-tracking"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nleaves = 3\n")
    assert main(["--config", str(bad), "--no-tracking"]) == 2
    assert main(["--num-threads", "0", "--no-tracking"]) == 2
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--data", str(empty), "--no-tracking"]) == 1
    err = caplog.text
    assert "unknown config key(s) in [model]: leaves" in err
    assert "has no histories.parquet" in err
    assert "model.num_threads must be >= 1" in err
    assert "data directory not found" in err


@pytest.mark.parametrize("flag", ["--oot-months", "--val-months", "--horizon"])
def test_out_of_range_overrides_are_refused(flag):
    assert main([flag, "0", "--no-tracking"]) == 2


def test_the_command_line_skips_the_final_garbage_collections_and_main_does_not(tmp_path):
    import gc
    import runpy

    missing = str(tmp_path / "missing")
    assert main(["--data", missing, "--no-tracking"]) == 2
    assert gc.get_freeze_count() == 0  # in-process callers keep collecting
    argv = sys.argv
    sys.argv = ["pipelines.train", "--data", missing, "--no-tracking"]
    try:
        with pytest.raises(SystemExit) as stop:
            runpy.run_path(sys.modules[main.__module__].__file__, run_name="__main__")
        assert stop.value.code == 2
        assert gc.get_freeze_count() > 0  # python -m pipelines.train froze them at exit
    finally:
        sys.argv = argv
        gc.unfreeze()


def test_help_does_not_start_mlflow():
    code = (
        "import sys\n"
        "from pipelines.train import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('mlflow' in sys.modules)\n"
        "import risk_model.modeling.tracking\n"  # the tracking wiring does import it
        "print('mlflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["False", "True"]
