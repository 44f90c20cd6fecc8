"""``python -m pipelines.monitor`` end to end: small worlds, the trained model, real MLflow.

The batches are extracts of a world at the model's reference date (the latest selection
month), scored by ``pipelines.score``: the same world stays green, the same world with a
cash-out wave (the generator's ``cashout_share`` from 1.5% to 60%, nothing else changed)
turns red, among its red lights cash-out features.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import browse, chromium, png_pixels
from html_check import assert_self_contained
from mlflow.tracking import MlflowClient

from pipelines.monitor import main as monitor
from pipelines.score import main as score
from risk_model.modeling.artefact import load_artefact
from risk_model.modeling.artefact_files import CHECKSUMS_FILE, REFERENCE_FILE, checksums_bytes
from risk_model.synthetic import write_world
from risk_model.synthetic.config import config_from_dict
from risk_model.synthetic.extract import extract_at

CASH_OUT_SHARE = 0.6  # the small world's generator has 0.015
BATCH_BLUE = (0x25, 0x63, 0xEB)  # the report's batch bars
RED_BADGE = (0xC5, 0x30, 0x30)  # the red light


def _run(command, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = command(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def model_dir(trained_run) -> Path:
    return trained_run[0] / "latest"


@pytest.fixture(scope="module")
def reference_date(model_dir) -> dt.date:
    reference = load_artefact(model_dir).reference
    assert reference is not None and reference.as_of[0] == reference.as_of[1]
    return dt.date.fromisoformat(reference.as_of[0])


def _batch(world: Path, day: dt.date, model: Path, folder: Path) -> tuple[Path, Path]:
    """Extract ``world`` at ``day`` and score it; return (histories, scores)."""
    folder.mkdir(parents=True, exist_ok=True)
    histories = folder / "histories.parquet"
    extract = extract_at(
        pq.read_table(world / "histories.parquet"), pq.read_table(world / "closures.parquet"), day
    )
    pq.write_table(extract, histories)
    scores = folder / "scores.parquet"
    argv = [str(histories), "--model", str(model), "--as-of", day.isoformat()]
    code, _, err = _run(score, [*argv, "--out", str(scores), "--workers", "1"])
    assert code == 0, err
    return histories, scores


@pytest.fixture(scope="module")
def same_batch(tmp_path_factory, small_world, model_dir, reference_date):
    return _batch(small_world, reference_date, model_dir, tmp_path_factory.mktemp("same"))


@pytest.fixture(scope="module")
def wave_batch(tmp_path_factory, small_world, model_dir, reference_date):
    """The small world's parameters and seed with a cash-out wave, nothing else changed."""
    manifest = json.loads((small_world / "manifest.json").read_text(encoding="utf-8"))
    config = config_from_dict(manifest["parameters"])
    world = tmp_path_factory.mktemp("wave_world")
    write_world(dataclasses.replace(config, cashout_share=CASH_OUT_SHARE), world)
    return _batch(world, reference_date, model_dir, tmp_path_factory.mktemp("wave"))


def _figures(out: Path) -> dict:
    return json.loads((out / "monitoring.json").read_text(encoding="utf-8"))


def test_same_world_stays_green_and_is_logged_against_the_model_version(
    same_batch, train_store, trained_run, tmp_path
):
    histories, scores = same_batch
    out = tmp_path / "report"
    argv = [str(scores), "--histories", str(histories), "--out", str(out)]
    code, stdout, err = _run(monitor, [*argv, "--tracking-uri", train_store])
    assert code == 0, err
    figures = _figures(out)
    assert figures["light"] == "green"
    assert figures["counts"]["red"] == figures["counts"]["amber"] == 0
    assert figures["score"]["psi"] < 0.10 and figures["bands"]["psi"] < 0.10
    assert figures["feature_rows"] == figures["rows"] > 500
    assert len(figures["features"]) == len(load_artefact(trained_run[0] / "latest").feature_names)
    assert "overall      green" in stdout
    assert_self_contained((out / "monitoring.html").read_text(encoding="utf-8"))
    # Again: the first monitoring run must not hide the training run from the version lookup.
    again = [*argv[:-1], str(tmp_path / "again"), "--tracking-uri", train_store]
    assert _run(monitor, again)[0] == 0
    # The runs: their own experiment, tagged like training's, linked to the registered version.
    client = MlflowClient(train_store)
    experiment = client.get_experiment_by_name("closure-risk-monitoring")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    run, first = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.scores_file = '{scores.resolve()}'"
    )
    label = figures["model_version"]
    (trained,) = client.search_runs(
        [client.get_experiment_by_name("closure-risk").experiment_id],
        filter_string=f"tags.model_version_label = '{label}'",
    )
    (version,) = client.search_model_versions(f"run_id = '{trained.info.run_id}'")
    tags = run.data.tags
    assert tags["registered_model_name"] == "closure-risk"
    assert tags["registered_model_version"] == str(version.version)
    assert first.data.tags["registered_model_version"] == str(version.version)
    assert tags["monitored_model_label"] == label
    assert tags["model_run_id"] == trained.info.run_id and tags["light"] == "green"
    assert run.data.metrics["score_psi"] == pytest.approx(figures["score"]["psi"])
    assert version.source == f"models:/{tags['model_id']}"
    logged = client.get_logged_model(tags["model_id"])
    assert "score_psi" in {m.key for m in logged.metrics}
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"monitoring.html", "monitoring.json"}


@pytest.fixture(scope="module")
def wave_report(wave_batch, model_dir, tmp_path_factory):
    """Monitor the cash-out wave once: (exit code, stdout, stderr, report folder)."""
    histories, scores = wave_batch
    out = tmp_path_factory.mktemp("wave_report")
    argv = [str(scores), "--histories", str(histories), "--model", str(model_dir)]
    return (*_run(monitor, [*argv, "--out", str(out), "--no-tracking"]), out)


def test_cash_out_wave_turns_red_on_the_cash_out_features(wave_report, model_dir):
    code, stdout, err, out = wave_report
    assert code == 1, err
    figures = _figures(out)
    assert figures["light"] == "red" and "overall      red" in stdout
    red = {f["name"] for f in figures["features"] if "red" in (f["csi_light"], f["missing_light"])}
    family = {c["name"]: c["family"] for c in load_artefact(model_dir).spec["catalogue"]}
    assert "cashout" in {family[name] for name in red}, red  # the same world has no red
    assert_self_contained((out / "monitoring.html").read_text(encoding="utf-8"))


def _near(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    """Pixels within a small distance of ``colour``."""
    return int((np.abs(pixels.astype(int) - colour).sum(axis=2) < 12).sum())


def test_report_opens_in_headless_chromium(wave_report, tmp_path):
    browser = chromium()
    page = wave_report[3] / "monitoring.html"
    shot = tmp_path / "monitoring.png"
    dom = browse(
        browser, page, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", "--dump-dom"
    ).stdout
    pixels = png_pixels(shot)
    assert pixels.shape == (2400, 1200, 3)
    assert (pixels < 245).any(axis=2).mean() > 0.05, "the page rendered (almost) blank"
    assert _near(pixels, BATCH_BLUE) > 500, "no plot drawn: the inline figures did not decode"
    assert _near(pixels, RED_BADGE) > 100, "no red light drawn"
    for title in ("Summary", "Score distribution", "Band mix", "Features"):
        assert f"<h2>{title}</h2>" in dom


def test_scores_alone_compare_the_score_and_bands(same_batch, model_dir, tmp_path):
    _, scores = same_batch
    out = tmp_path / "report"
    argv = [str(scores), "--model", str(model_dir), "--out", str(out), "--no-tracking"]
    code, stdout, err = _run(monitor, argv)
    assert code == 0, err
    figures = _figures(out)
    assert figures["features"] == [] and figures["feature_rows"] == 0
    assert "not compared (pass --histories)" in stdout
    assert "--histories FILE" in (out / "monitoring.html").read_text(encoding="utf-8")


def test_model_without_reference_still_scores_and_monitoring_says_so(
    same_batch, model_dir, tmp_path
):
    old = shutil.copytree(model_dir, tmp_path / "old")
    (old / REFERENCE_FILE).unlink()
    files = {p.name: p.read_bytes() for p in old.iterdir() if p.name != CHECKSUMS_FILE}
    (old / CHECKSUMS_FILE).write_bytes(checksums_bytes(files))
    histories, scores = same_batch
    rescored = tmp_path / "old.scores.parquet"
    day = pq.read_table(scores)["as_of"][0].as_py().isoformat()
    code, _, err = _run(
        score, [str(histories), "--model", str(old), "--as-of", day, "--out", str(rescored)]
    )
    assert code == 0, err
    assert pq.read_table(rescored).equals(pq.read_table(scores))
    argv = [str(scores), "--model", str(old), "--no-tracking", "--out", str(tmp_path / "r")]
    argv += ["--histories", str(histories)]
    code, _, err = _run(monitor, argv)
    assert code == 2
    assert "has no training reference" in err and "retrain" in err
    assert not (tmp_path / "r" / "monitoring.html").exists()


def _rewritten(scores: Path, path: Path, **columns) -> Path:
    table = pq.read_table(scores)
    for name, values in columns.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(values, table.schema.field(name).type))
    pq.write_table(table, path)
    return path


def test_input_errors_exit_2_with_one_line(same_batch, model_dir, train_store, tmp_path):
    _, scores = same_batch
    n = pq.read_metadata(scores).num_rows
    day = pq.read_table(scores)["as_of"][0].as_py()
    cases = {
        "scores file not found": tmp_path / "missing.parquet",
        "one as_of expected": _rewritten(
            scores, tmp_path / "dates.parquet", as_of=[day] * (n - 1) + [day - dt.timedelta(1)]
        ),
        "not a registered version": _rewritten(
            scores, tmp_path / "other.parquet", model_version=["v-unknown"] * n
        ),
        "probability must be a number in [0, 1]": _rewritten(
            scores, tmp_path / "prob.parquet", probability=[1.5] * n
        ),
    }
    for message, path in cases.items():
        code, _, err = _run(monitor, [str(path), "--tracking-uri", train_store, "--no-tracking"])
        assert code == 2, (message, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = _run(
        monitor, [str(cases["not a registered version"]), "--model", str(model_dir)]
    )
    assert code == 2 and "not by" in err  # the given model did not make these scores
    assert _run(monitor, ["--bogus"])[0] == 2


def _monitoring_runs(store: str) -> int:
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("closure-risk-monitoring")
    return 0 if experiment is None else len(client.search_runs([experiment.experiment_id]))


def test_no_tracking_logs_no_run(same_batch, model_dir, train_store, tmp_path):
    _, scores = same_batch
    before = _monitoring_runs(train_store)
    argv = [str(scores), "--model", str(model_dir), "--tracking-uri", train_store]
    assert _run(monitor, [*argv, "--no-tracking", "--out", str(tmp_path / "a")])[0] == 0
    assert _monitoring_runs(train_store) == before
    # Twin: the same command with tracking logs one run.
    assert _run(monitor, [*argv, "--out", str(tmp_path / "b")])[0] == 0
    assert _monitoring_runs(train_store) == before + 1


def test_training_stores_the_reference_of_its_latest_selection_month(model_dir):
    art = load_artefact(model_dir)
    months = art.spec["split"]["months_val"]
    assert art.reference.as_of == (months[-1], months[-1]) and art.reference.window == "selection"
    assert [f.name for f in art.reference.features] == art.feature_names


def test_summary_names_the_largest_lit_csi_not_a_grey_one(tmp_path):
    from pipelines.monitor import summary
    from risk_model import monitoring as M

    score = M.Drift("probability", 0.01, "green", ("all",), (1.0,), (1.0,))
    grey = M.FeatureDrift("sparse", 3.1, "grey", 0.99, 0.99, "green", None, "too few values")
    lit = M.FeatureDrift("amount", 0.3, "red", 0.0, 0.0, "green", None)
    reference = {"window": "selection", "rows": 100, "as_of": ("2024-06-30", "2024-06-30")}
    result = M.MonitorResult("v1", "2024-09-30", 100, reference, score, score, (grey, lit), 100)
    assert "largest CSI  0.300  red (amount)" in summary(result, tmp_path / "m.html")
    # Negative twin: with no lit CSI there is no "largest CSI" line at all.
    only_grey = dataclasses.replace(result, features=(grey,))
    assert "largest CSI" not in summary(only_grey, tmp_path / "m.html")
    # A grey score says why on its line; a lit one adds nothing.
    few = dataclasses.replace(score, light="grey", note="too few values to light: 9")
    lines = summary(dataclasses.replace(result, score=few), tmp_path / "m.html").splitlines()
    assert "score PSI    0.010  grey (too few values to light: 9)" in lines
    assert "band shift   0.010  green" in lines
