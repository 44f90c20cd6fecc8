import json

import pandas as pd
import pytest
from scoring_model import scoring_model

from pipelines.evaluate_reasons import NONE, confusion, main
from risk_model import contract as C


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return scoring_model(tmp_path_factory.getbasetemp() / "scoring_model")


def test_confusion_counts_matches_per_true_cause():
    true = pd.Series(["overdue", "overdue", "cashout", "dormancy"])
    top = pd.Series(["overdue", "regulatory", "cashout", None])
    table, match = confusion(true, top)
    assert list(table.columns) == [*C.CAUSES, NONE]
    assert list(table.index) == ["overdue", "cashout", "dormancy"]
    assert table.loc["dormancy", NONE] == 1 and table.loc["overdue", "regulatory"] == 1
    assert match["overdue"] == 0.5 and match["cashout"] == 1.0 and match["dormancy"] == 0.0
    assert match["all"] == 0.5


def test_evaluate_reasons_on_the_small_world(model, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["--data", str(model.world), "--model", str(model.artefact), "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    part = report["account-months"]
    assert part["n"] > 0
    assert 0.0 <= part["match"]["all"] <= 1.0
    assert "match share" in capsys.readouterr().out


def test_evaluate_reasons_reports_missing_data(model, tmp_path, capsys):
    assert main(["--data", str(tmp_path / "none"), "--model", str(model.artefact)]) == 2
    assert "error" in capsys.readouterr().err
