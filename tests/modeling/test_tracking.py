import json
import os
import signal
import time
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from forked import MLFLOW_SQL_STORES, run_forked
from mlflow.tracking import MlflowClient

from modeling.modeling_helpers import CATALOGUE, FEATURES
from risk_model.modeling import mlflow_adapter, tracking
from risk_model.modeling.artefact import FORMAT_VERSION, save_artefact
from risk_model.modeling.promotion import PROMOTE_HINT, PromotionConfig
from risk_model.modeling.registry_lock import lock_path, registry_lock
from risk_model.modeling.scale import ScoreScale
from risk_model.policy import PolicyCalendar

FP = "e" * 64
RENAMED = ["f_up", "f_down", "f_new"]
NEW_ENTRY = {**CATALOGUE[2], "name": "f_new"}
REPORT = {
    "oot": {
        "metrics": {"gini": 0.5, "auc": 0.75},
        "gini_slope": 0.0,
        "gini_by_cause": {"overdue": 0.6},
        "gini_by_month": {"2025-01-31": 0.5},
        "psi": 0.01,
    },
    "val": {"gini": 0.5},
    "split": {"kind": "time"},
    "best_iteration": 10,
}


# --- store, experiment, run ---------------------------------------------------------------


def test_default_store_is_mlflow_db_in_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # not the source tree: a non-editable install works too
    assert tracking.resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert tracking.resolve_tracking_uri() == f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"


def test_environment_and_explicit_uri_win(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/env.db")
    assert tracking.resolve_tracking_uri() == "sqlite:////tmp/env.db"
    assert tracking.resolve_tracking_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_artifacts_go_beside_the_database_and_ui_command(mlflow_uri):
    experiment_id = tracking.setup_tracking(mlflow_uri, "unit")
    assert tracking.setup_tracking(mlflow_uri, "unit") == experiment_id  # reused
    location = MlflowClient(mlflow_uri).get_experiment(experiment_id).artifact_location
    assert location.endswith("/mlruns")
    assert mlflow_uri.removeprefix("sqlite:///").rsplit("/", 1)[0] in location
    assert tracking.ui_command(mlflow_uri) == f"mlflow ui --backend-store-uri {mlflow_uri}"


def test_experiment_kind_is_model_development_on_create_and_on_existing(mlflow_uri):
    client = MlflowClient(mlflow_uri)
    key = mlflow_adapter.EXPERIMENT_KIND_TAG
    created = client.get_experiment(tracking.setup_tracking(mlflow_uri, "kind-new"))
    assert created.tags[key] == "custom_model_development"
    plain_id = client.create_experiment("kind-old")  # as an older version made it
    assert key not in client.get_experiment(plain_id).tags
    assert tracking.setup_tracking(mlflow_uri, "kind-old") == plain_id
    assert client.get_experiment(plain_id).tags[key] == "custom_model_development"


def _status(uri: str, run) -> tuple[str, dict[str, str]]:
    found = MlflowClient(uri).get_run(run.info.run_id)
    return found.info.status, found.data.tags


def test_training_run_finishes_on_success(mlflow_uri):
    with tracking.training_run(mlflow_uri, "runs", "ok", {"k": "v"}) as run:
        assert mlflow.active_run().info.run_id == run.info.run_id
    status, tags = _status(mlflow_uri, run)
    assert status == "FINISHED" and tags["k"] == "v" and "failure" not in tags
    assert mlflow.active_run() is None


def test_training_run_fails_on_an_exception_and_reraises(mlflow_uri):
    with pytest.raises(RuntimeError, match="boom"), tracking.training_run(mlflow_uri, "runs"):
        run = mlflow.active_run()
        raise RuntimeError("boom")
    status, tags = _status(mlflow_uri, run)
    assert status == "FAILED" and tags["failure"] == "RuntimeError: boom"
    assert mlflow.active_run() is None


def test_training_run_is_killed_on_keyboard_interrupt(mlflow_uri):
    with pytest.raises(KeyboardInterrupt), tracking.training_run(mlflow_uri, "runs"):
        run = mlflow.active_run()
        raise KeyboardInterrupt
    assert _status(mlflow_uri, run)[0] == "KILLED"


def test_sigterm_kills_the_run_and_the_handler_is_restored(mlflow_uri):
    before = signal.getsignal(signal.SIGTERM)
    with (
        pytest.raises(tracking.TrainingTerminated) as caught,
        tracking.training_run(mlflow_uri, "runs"),
    ):
        run = mlflow.active_run()
        assert signal.getsignal(signal.SIGTERM) is not before
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert caught.value.code == 128 + signal.SIGTERM
    assert _status(mlflow_uri, run)[0] == "KILLED"
    assert signal.getsignal(signal.SIGTERM) is before


# --- registry -----------------------------------------------------------------------------


def _artefact(path: Path, frame: pd.DataFrame, label: np.ndarray, features: list[str]) -> Path:
    params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 0}
    params |= {"num_threads": 1, "deterministic": True, "min_data_in_leaf": 50}
    data = lgb.Dataset(frame[features].to_numpy(np.float64), label, feature_name=features)
    booster = lgb.train(params, data, num_boost_round=30)
    spec = {
        "format_version": FORMAT_VERSION,
        "version": path.name,
        "feature_names": features,
        "monotone_constraints": [0] * len(features),
        "catalogue": [e for e in [*CATALOGUE, NEW_ENTRY] if e["name"] in features],
        "calibration": {"method": "sigmoid", "a": 1.0, "b": 0.0},
        "scale": ScoreScale().to_dict(),
        "policy": PolicyCalendar().to_dict(),
        "horizon_months": 3,
        "merchant_risk_as_of": None,
    }
    return save_artefact(path, booster=booster, spec=spec, merchant_risk=None)


@pytest.fixture(scope="module")
def rows(frame):
    data = frame.assign(f_new=frame["f_noise"])
    last = data["as_of"] >= data["as_of"].max() - pd.offsets.MonthEnd(2)
    return data[~last], data[last].reset_index(drop=True)


@pytest.fixture(scope="module")
def logged(rows, mlflow_uri, tmp_path_factory):
    """Three logged (unregistered) models: strong, weak (shuffled labels), other features."""
    train, _ = rows
    root = tmp_path_factory.mktemp("artefacts")
    shuffled = np.random.default_rng(0).permutation(train["label"].to_numpy())
    made = {
        "strong": _artefact(root / "strong", train, train["label"].to_numpy(), FEATURES),
        "weak": _artefact(root / "weak", train, shuffled, FEATURES),
        "renamed": _artefact(root / "renamed", train, train["label"].to_numpy(), RENAMED),
    }
    out = {}
    for kind, directory in made.items():
        with tracking.training_run(mlflow_uri, "registry", kind):
            info = tracking.log_training(
                params={"kind": kind},
                report=REPORT,
                artefact_dir=directory,
                plots=[],
                catalogue=CATALOGUE,
                dataset=train.drop(columns=["cause"]).head(100),
                dataset_digest="0" * 64,
                dataset_source=str(root),
            )
        out[kind] = (info.model_uri, directory)
    return out


def _register(uri, name, logged, rows, kind, *, fingerprint=FP, horizon=3, **kw):
    _, selection = rows
    model_uri, directory = logged[kind]
    with tracking.training_run(uri, "registry", f"{name}-{kind}"):
        return tracking.register_and_promote(
            uri=uri,
            registered_model=name,
            model_uri=model_uri,
            artefact_dir=directory,
            # only the new model's columns: a champion needing others cannot score them
            selection_features=selection[RENAMED if kind == "renamed" else FEATURES],
            selection_label=selection["label"].to_numpy(),
            selection_groups=selection["account_id"].to_numpy(),
            eval_fingerprint=fingerprint,
            horizon_months=horizon,
            description=f"**{kind}** model, selection window 3 months",
            promotion=PromotionConfig(resamples=100),
            **kw,
        )


def _alias(uri, name, alias):
    return str(MlflowClient(uri).get_model_version_by_alias(name, alias).version)


def test_log_training_and_register_need_an_active_run(mlflow_uri, logged, rows):
    with pytest.raises(RuntimeError, match="active run"):
        tracking.log_training(**dict.fromkeys(["params", "report", "artefact_dir"]), plots=[],
                              catalogue=[], dataset=None, dataset_digest="",
                              dataset_source="")  # fmt: skip
    _, selection = rows
    with pytest.raises(RuntimeError, match="active run"):
        tracking.register_and_promote(
            uri=mlflow_uri,
            registered_model="x",
            model_uri=logged["strong"][0],
            artefact_dir=logged["strong"][1],
            selection_features=selection[FEATURES],
            selection_label=selection["label"].to_numpy(),
            selection_groups=None,
            eval_fingerprint=FP,
            horizon_months=3,
            description="",
        )


def test_log_training_logs_into_the_active_run(mlflow_uri, logged):
    client = MlflowClient(mlflow_uri)
    run = client.get_run(client.get_logged_model(logged["strong"][0].split("/")[-1]).source_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["kind"] == "strong" and run.data.metrics["oot_gini"] == 0.5
    assert {"report.json", "split.json", "feature_catalogue.csv"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)
    }


def test_first_version_is_champion_with_tags_and_descriptions(mlflow_uri, logged, rows):
    out = _register(mlflow_uri, "m-first", logged, rows, "strong")
    assert (out.alias, out.decision, out.reason) == ("champion", "no_champion", "no champion yet")
    assert np.isnan(out.champion_gini) and 0.2 < out.new_gini < 0.9
    client = MlflowClient(mlflow_uri)
    version = client.get_model_version("m-first", out.version)
    assert version.tags["eval_fingerprint"] == FP and version.tags["horizon_months"] == "3"
    assert version.tags["decision"] == "no_champion" and version.tags["compared_with"] == "none"
    assert version.description.startswith("**strong** model")
    assert "no champion yet" in version.description
    registered = client.get_registered_model("m-first").description
    assert "Current champion: version 1" in registered
    run = client.get_run(out.run_id)
    assert run.data.tags["alias"] == "champion" and run.data.tags["registered_version"] == "1"
    assert run.data.metrics["new_gini_same_selection_rows"] == pytest.approx(out.new_gini)


def test_clearly_better_challenger_is_promoted(mlflow_uri, logged, rows):
    _register(mlflow_uri, "m-promote", logged, rows, "weak")
    out = _register(mlflow_uri, "m-promote", logged, rows, "strong")
    assert (out.alias, out.decision, out.champion_version) == ("champion", "better", "1")
    assert out.lower > 0 and out.new_gini > out.champion_gini
    assert out.level == 0.9 and out.resamples == 100 and out.margin == 0.0
    assert _alias(mlflow_uri, "m-promote", "champion") == out.version == "2"
    client = MlflowClient(mlflow_uri)
    tags = client.get_model_version("m-promote", "2").tags
    assert tags["decision"] == "better" and tags["compared_with"] == "v1"
    assert float(tags["gini_difference_lower"]) == pytest.approx(out.lower, abs=1e-6)
    metrics = client.get_run(out.run_id).data.metrics
    assert metrics["gini_difference_lower"] == pytest.approx(out.lower)
    assert metrics["champion_gini_same_selection_rows"] == pytest.approx(out.champion_gini)
    assert "Current champion: version 2" in client.get_registered_model("m-promote").description


def test_worse_challenger_is_kept_as_challenger(mlflow_uri, logged, rows):
    _register(mlflow_uri, "m-keep", logged, rows, "strong")
    out = _register(mlflow_uri, "m-keep", logged, rows, "weak")
    assert (out.alias, out.decision) == ("challenger", "not_better")
    assert out.upper < 0
    assert _alias(mlflow_uri, "m-keep", "champion") == "1"
    assert _alias(mlflow_uri, "m-keep", "challenger") == "2"
    assert (
        "Current champion: version 1"
        in MlflowClient(mlflow_uri).get_registered_model("m-keep").description
    )


def test_identical_second_run_is_never_promoted(mlflow_uri, logged, rows):
    first = _register(mlflow_uri, "m-twin", logged, rows, "strong")
    out = _register(mlflow_uri, "m-twin", logged, rows, "strong")
    assert (out.difference, out.lower, out.upper) == (0.0, 0.0, 0.0)
    assert out.champion_gini == first.new_gini
    assert (out.alias, out.decision) == ("challenger", "not_better")
    assert _alias(mlflow_uri, "m-twin", "champion") == "1"


@pytest.mark.parametrize("case", ["fingerprint", "untagged", "cannot_score", "horizon"])
def test_not_comparable_champion_keeps_its_alias(mlflow_uri, logged, rows, case):
    name = f"m-nc-{case}"
    first = "renamed" if case == "cannot_score" else "weak"
    _register(mlflow_uri, name, logged, rows, first, horizon=6 if case == "horizon" else 3)
    if case == "untagged":
        MlflowClient(mlflow_uri).delete_model_version_tag(name, "1", "eval_fingerprint")
    fingerprint = "other" if case == "fingerprint" else FP
    out = _register(mlflow_uri, name, logged, rows, "strong", fingerprint=fingerprint)
    assert (out.alias, out.decision) == ("challenger", "not_comparable")
    assert PROMOTE_HINT in out.reason and "--promote" in out.reason
    assert np.isnan(out.lower) and np.isnan(out.champion_gini)
    assert _alias(mlflow_uri, name, "champion") == "1"
    words = {
        "fingerprint": "fingerprint differs",
        "untagged": "no evaluation fingerprint",
        "cannot_score": "cannot score these rows",
        "horizon": "6-month horizon",
    }
    assert words[case] in out.reason


def test_forced_promotion_overrides_the_evidence(mlflow_uri, logged, rows):
    _register(mlflow_uri, "m-force", logged, rows, "strong")
    out = _register(mlflow_uri, "m-force", logged, rows, "weak", force=True)
    assert (out.alias, out.reason, out.decision) == ("champion", "forced", "forced")
    assert out.upper < 0  # the evidence is still recorded
    assert _alias(mlflow_uri, "m-force", "champion") == "2"


# --- the lock and the race ------------------------------------------------------------------


def test_registry_lock_is_exclusive_for_sqlite_and_absent_elsewhere(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    assert lock_path(uri) == tmp_path / "store.db.registry.lock"
    with registry_lock(uri) as held:
        assert held
        with pytest.raises(TimeoutError), registry_lock(uri, timeout=0.2):
            pass
    with registry_lock(uri, timeout=0.2) as again:  # released
        assert again
    assert lock_path("http://server:5000") is None
    with registry_lock("http://server:5000") as held:
        assert held is False


RACER = """
with tracking.training_run(uri, "race"):
    out = tracking.register_and_promote(
        uri=uri, registered_model="m-race", model_uri=model_uri, artefact_dir=pathlib.Path(art),
        selection_features=selection[["f_up", "f_down", "f_noise"]],
        selection_label=selection["label"].to_numpy(),
        selection_groups=selection["account_id"].to_numpy(), eval_fingerprint="fp",
        horizon_months=3, description="race", promotion=PromotionConfig(resamples=50),
    )
print(json.dumps({k: getattr(out, k) for k in
                  ("version", "alias", "decision", "champion_version", "champion_gini",
                   "new_gini")}))
"""


def test_two_concurrent_trainings_cannot_both_promote(mlflow_uri, logged, rows, tmp_path):
    data = tmp_path / "selection.parquet"
    rows[1][[*FEATURES, "label", "account_id"]].to_parquet(data)
    model_uri, art = logged["strong"]
    # Two processes forked from one that imported MLflow: both start registering at once.
    setup = (
        "import json, pathlib\n"
        "import pandas as pd\n"
        "from risk_model.modeling import tracking\n"
        "from risk_model.modeling.promotion import PromotionConfig\n"
        f"{MLFLOW_SQL_STORES}"
        f"uri, model_uri, art = {mlflow_uri!r}, {model_uri!r}, {str(art)!r}\n"
    )
    body = f"selection = pd.read_parquet({str(data)!r})\n{RACER}"
    done = run_forked(setup, [body, body], tmp_path / "racers", kept=True)
    assert all(p.returncode == 0 for p in done), [p.stderr[-2000:] for p in done]
    outs = [json.loads(p.stdout.strip().splitlines()[-1]) for p in done]
    winner, loser = sorted(outs, key=lambda o: o["version"])
    assert (winner["alias"], winner["decision"]) == ("champion", "no_champion")
    assert (loser["alias"], loser["decision"]) == ("challenger", "not_better")
    assert loser["champion_version"] == winner["version"]  # compared against the first
    assert loser["champion_gini"] == winner["new_gini"]
    assert _alias(mlflow_uri, "m-race", "champion") == winner["version"]


def test_requirements_are_pinned():
    reqs = tracking._requirements()
    assert any(r.startswith("lightgbm==") for r in reqs)
    assert not any(r.startswith("closure-risk") for r in reqs)


def test_requirements_name_the_servers_event_loop():
    # The model server needs uvloop (keep-alive answers wait ~40 ms on asyncio's loop with
    # more than one worker); it is pinned like the rest, and only where it exists.
    from importlib.metadata import version

    reqs = tracking._requirements()
    assert f"uvloop=={version('uvloop')}; sys_platform != 'win32'" in reqs
    assert not any(r.startswith("uvloop") and "win32" not in r for r in reqs)


def test_two_processes_creating_one_experiment_both_get_it(tmp_path):
    uri = f"sqlite:///{tmp_path / 'race.db'}"
    tracking.setup_tracking(uri, "warm-up")  # migrations first, so the race is on the insert
    # Four processes forked once MLflow and its SQL stores are imported: the race is on the
    # insert (each child importing the stores itself took ~2 s of CPU).
    setup = "from risk_model.modeling import tracking\n" + MLFLOW_SQL_STORES
    body = f"print(tracking.setup_tracking({uri!r}, 'raced'))\n"
    done = run_forked(setup, [body] * 4, tmp_path / "racers", timeout=120, kept=True)
    assert all(p.returncode == 0 for p in done), [p.stderr[-2000:] for p in done]
    ids = {p.stdout.strip() for p in done}
    assert len(ids) == 1 and ids != {""}
