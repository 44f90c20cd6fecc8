import contextlib
import io
import json
import shutil

import pandas as pd
import pytest

from pipelines.evaluate_reasons import NONE, confusion, main
from risk_model import contract as C


def test_confusion_counts_matches_per_true_cause():
    true = pd.Series(["overdue", "overdue", "cashout", "dormancy"])
    top = pd.Series(["overdue", "regulatory", "cashout", None])
    table, match = confusion(true, top)
    assert list(table.columns) == [*C.CAUSES, NONE]
    assert list(table.index) == ["overdue", "cashout", "dormancy"]
    assert table.loc["dormancy", NONE] == 1 and table.loc["overdue", "regulatory"] == 1
    assert match["overdue"] == 0.5 and match["cashout"] == 1.0 and match["dormancy"] == 0.0
    assert match["all"] == 0.5


@pytest.fixture(scope="module")
def small_world_run(model, tmp_path_factory) -> tuple[dict, str]:
    """The command on the scoring model's world (with its truth): the report and stdout."""
    out = tmp_path_factory.mktemp("evaluate_reasons") / "report.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--data", str(model.world), "--model", str(model.artefact), "--out", str(out)])
    assert code == 0
    return json.loads(out.read_text()), printed.getvalue()


def test_evaluate_reasons_on_the_small_world(model, small_world_run):
    report, printed = small_world_run
    part = report["account-months"]
    assert part["n"] > 0
    assert 0.0 <= part["match"]["all"] <= 1.0
    assert "match share" in printed
    # point in time: every OOT date is explained with a table fitted at that date
    spec = json.loads((model.artefact / "spec.json").read_text())
    assert report["merchant_table"] == "point-in-time"
    assert report["merchant_table_as_of"] == {d: d for d in spec["split"]["months_oot"]}
    first = spec["split"]["months_oot"][0]
    assert f"as-of {first} -> table {first}" in printed


def _two_dates_with_the_artefact_table(model) -> list[str]:
    """Options for a quick run: two OOT dates (given out of order), the artefact's table."""
    spec = json.loads((model.artefact / "spec.json").read_text())
    return ["--as-of", *spec["split"]["months_oot"][1::-1], "--merchant-table", "artefact"]


def test_evaluate_reasons_with_the_artefact_table_reports_its_date(model, tmp_path, capsys):
    out = tmp_path / "report.json"
    spec = json.loads((model.artefact / "spec.json").read_text())
    dates = spec["split"]["months_oot"][:2]
    argv = ["--data", str(model.world), "--model", str(model.artefact), "--out", str(out)]
    assert main([*argv, *_two_dates_with_the_artefact_table(model)]) == 0
    report = json.loads(out.read_text())
    table_date = spec["merchant_risk_as_of"]
    assert report["as_of"] == sorted(dates)
    assert report["merchant_table_as_of"] == dict.fromkeys(sorted(dates), table_date)
    printed = capsys.readouterr().out
    assert f"-> table {table_date}" in printed
    # the world has its truth: the ceiling is there (the negative twin below has none)
    assert "ceiling" in report["account-months"] and "ceiling match share" in printed


def test_evaluate_reasons_reports_missing_data(model, tmp_path, capsys):
    assert main(["--data", str(tmp_path / "none"), "--model", str(model.artefact)]) == 2
    assert "error" in capsys.readouterr().err


def test_evaluate_reasons_reports_the_truths_ceiling(small_world_run):
    report, printed = small_world_run
    part = report["account-months"]
    ceiling = part["ceiling"]
    assert 0.0 <= ceiling["match"]["all"] <= 1.0
    assert 0.0 <= part["agreement_with_most_likely"] <= 1.0
    assert sum(sum(column.values()) for column in ceiling["confusion"].values()) == part["n"]
    assert "ceiling match share" in printed


def test_evaluate_reasons_without_truth_prints_no_ceiling(model, tmp_path, capsys):
    # Negative twin of the artefact-table run above (same options, its truth.parquet
    # removed, as in a real extract): no ceiling.
    world = tmp_path / "world"
    world.mkdir()
    for name in ("histories.parquet", "closures.parquet"):
        shutil.copy(model.world / name, world / name)
    out = tmp_path / "report.json"
    argv = ["--data", str(world), "--model", str(model.artefact), "--out", str(out)]
    assert main([*argv, *_two_dates_with_the_artefact_table(model)]) == 0
    assert "ceiling" not in json.loads(out.read_text())["account-months"]
    assert "ceiling" not in capsys.readouterr().out
