"""The training's model report: written beside the artefact, logged, linked, and drawn by Chromium.

The screenshot test needs a real headless Chromium (``tests/browser.py``: it skips without
one, unless ``CLOSURE_RISK_REQUIRE_CHROMIUM=1``, set by ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import struct
from pathlib import Path

import numpy as np
from browser import browse, chromium, png_pixels
from html_check import assert_self_contained
from mlflow.tracking import MlflowClient
from report_page import parse

from pipelines._train_progress import set_log_levels
from pipelines.train import main
from risk_model.modeling.report import SECTIONS

WINDOW = (1400, 3000)
HEADER_INK = (0x1D, 0x24, 0x33)  # the page header's background
PLOT_BLUE = (31, 119, 180)  # matplotlib's first colour: a plot was decoded and drawn


def _report(out: Path) -> Path:
    (path,) = out.glob("*-report.html")
    return path


def _champion_run(store: str):
    client = MlflowClient(store)
    version = client.get_model_version_by_alias("closure-risk", "champion")
    return client, version


def test_report_is_written_logged_and_linked(trained_run, train_store, tmp_path):
    out, stdout = trained_run
    path = _report(out)
    assert str(path) in stdout
    client, version = _champion_run(train_store)
    local = Path(client.download_artifacts(version.run_id, "report.html", str(tmp_path)))
    assert local.read_bytes() == path.read_bytes()
    assert f"runs:/{version.run_id}/report.html" in version.description
    run = client.get_run(version.run_id)
    assert f"{run.info.artifact_uri}/report.html" in version.description
    # A link the MLflow UI keeps (it drops file:// links) and routes to the run's artifact view.
    page = f"(#/experiments/{run.info.experiment_id}/runs/{version.run_id}/artifacts/report.html)"
    assert f"[`report.html`]{page}" in version.description
    page = path.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert version.run_id in page and path.name.removesuffix("-report.html") in page


def test_report_numbers_are_the_logged_evaluation(trained_run, train_store, tmp_path):
    out, _ = trained_run
    client, version = _champion_run(train_store)
    logged = json.loads(
        Path(client.download_artifacts(version.run_id, "report.json", str(tmp_path))).read_text()
    )
    parsed = parse(_report(out).read_text(encoding="utf-8"))
    assert list(parsed.sections) == [key for key, _ in SECTIONS]
    expected = {
        "oot.model.gini": (logged["oot"]["metrics"]["gini"], 4),
        "oot.model.ece": (logged["oot"]["metrics"]["ece"], 5),
        "oot.truth.gini": (logged["truth"]["metrics"]["gini"], 4),
        "oot.training_mode.gini": (logged["oot_training_mode"]["gini"], 4),
        "oot.psi": (logged["oot"]["psi"], 4),
        "gini_ratio": (logged["gini_ratio"], 4),
        "selection.model.log_loss": (logged["val"]["log_loss"], 4),
        "windows.OOT.rows": (logged["split"]["rows_oot"], 0),
        "windows.train.rows": (logged["split"]["rows_train"], 0),
    }
    for cause, value in logged["oot"]["gini_by_cause"].items():
        expected[f"oot.model.gini_by_cause.{cause}"] = (value, 3)
    for key, (value, digits) in expected.items():
        assert parsed.keyed[key].replace(",", "") == f"{value:.{digits}f}", key
    # Reasons are measured on the served OOT closures: a share, and every cause row adds up.
    assert parsed.keyed["reasons.match.all"].endswith("%")
    assert "Not measured" not in parsed.sections["reasons"]


def test_report_renders_in_headless_chromium(trained_run, tmp_path):
    browser = chromium()
    page = _report(trained_run[0])
    shot = tmp_path / "report.png"
    width, height = WINDOW
    flags = (f"--screenshot={shot}", f"--window-size={width},{height}", "--dump-dom")
    dom = browse(browser, page, tmp_path, *flags).stdout
    with shot.open("rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == WINDOW
    pixels = png_pixels(shot)
    painted = (pixels < 245).any(axis=2)
    assert painted.mean() > 0.05, "the page rendered (almost) blank"
    top = pixels[:40].reshape(-1, 3)
    assert (np.abs(top.astype(int) - HEADER_INK).sum(axis=1) < 12).mean() > 0.5  # styled
    blue = np.abs(pixels.reshape(-1, 3).astype(int) - PLOT_BLUE).sum(axis=1) < 12
    assert blue.sum() > 500, "no plot drawn: the inline figures did not decode"
    for _, title in SECTIONS:
        assert f"<h2>{title}</h2>" in dom


def test_quiet_training_logs_warnings_only(small_world, tmp_path, caplog):
    config = tmp_path / "fast.toml"
    config.write_text("[model]\nnum_boost_round = 20\ncapacity_search = false\n")
    caplog.set_level(logging.INFO)
    stdout = io.StringIO()
    args = ["--data", str(small_world), "--out", str(tmp_path / "m"), "--config", str(config)]
    try:
        with contextlib.redirect_stdout(stdout):
            assert main([*args, "--no-tracking", "--quiet"]) == 0
        chatty = [r for r in caplog.records if r.levelno < logging.WARNING]
        assert chatty == []  # no stage, progress or matplotlib lines, whatever the root level
        assert "closure-risk training summary" in stdout.getvalue()
        assert "model report" in stdout.getvalue()
    finally:
        set_log_levels(quiet=False)
    assert logging.getLogger("pipelines").level == logging.NOTSET  # a later run talks again
