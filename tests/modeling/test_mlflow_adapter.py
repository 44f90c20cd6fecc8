import ast
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from forked import MLFLOW_SQL_STORES, run_forked

from risk_model import contract as C
from risk_model import reasons as R
from risk_model import serving as S
from risk_model.modeling import mlflow_adapter as A

LOAD = "print(load('models:/closure-risk@champion', tracking_uri={uri!r}).model_version)\n"


@pytest.mark.slow
def test_loading_the_registered_model_prints_no_progress_bar(model, tmp_path):
    # Two fresh processes forked once the loader is imported (not run): one as a user
    # starts it, one with the progress bar asked for in its environment before loading.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_ENABLE_ARTIFACTS")}
    setup = "import os\nimport mlflow\nfrom risk_model.predict import load\n" + MLFLOW_SQL_STORES
    load = LOAD.format(uri=model.tracking_uri)
    ask = "os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'] = 'true'\n"
    quiet, loud = run_forked(setup, [load, ask + load], tmp_path, env=clean, kept=True)
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert "Downloading artifacts" not in quiet.stderr + quiet.stdout
    assert quiet.stdout.strip()  # the model version: it did load
    # The caller's own setting wins: the bar is MLflow's, shown when asked for.
    assert "Downloading artifacts" in loud.stderr


def test_signature_names_every_contract_column_and_the_serving_outputs():
    signature = A.serving_signature()
    inputs = signature.inputs.input_names()
    assert inputs == [f.name for f in C.PROFILE_FIELDS] + [
        C.STATEMENTS,
        C.TRANSACTIONS,
        C.ATTRIBUTES,
    ]
    assert not signature.inputs.required_input_names()  # the contract checks presence
    assert signature.outputs.input_names() == list(S.SERVING_COLUMNS)
    assert {p.name: p.default for p in signature.params.params} == {
        "as_of": None,
        "reasons": "all",
        "if_none_scored": "error",
    }
    reasons = signature.outputs.to_dict()[S.SERVING_COLUMNS.index("reasons")]
    assert set(reasons["items"]["properties"]) == set(R.REASON_TYPE.names)  # both registers
    assert {"code", "text", "contribution"} <= set(R.REASON_TYPE.names)


def test_input_example_and_contract_describe_the_nested_record():
    frame, params = A.serving_input_example()
    assert list(frame.columns) == A.serving_signature().inputs.input_names()
    assert params == {"as_of": S.EXAMPLE_AS_OF}
    described = A.input_contract()
    events = ((C.STATEMENTS, C.STATEMENT_FIELDS), (C.TRANSACTIONS, C.TRANSACTION_FIELDS))
    for part, fields in events:
        assert set(frame[part][0][0]) == {f.name for f in fields}
        assert {f"{part}.{f.name}" for f in fields} <= set(described)
    assert described["open_date"].startswith("date32") and "required" in described["open_date"]


def test_quiet_keeps_the_callers_choice(monkeypatch):
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    A.quiet()
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    A.quiet()
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"


def test_the_pyfunc_answers_400_when_nothing_scores(predictor):
    from mlflow.exceptions import MlflowException

    model = A.ClosureRiskModel()
    model.predictor = predictor
    bad = dict(S.EXAMPLE_RECORD, product_version="v9")
    with pytest.raises(MlflowException) as caught:
        model.predict(None, pd.DataFrame([bad]), {"as_of": S.EXAMPLE_AS_OF})
    assert caught.value.get_http_status_code() == 400
    assert "account 'EXAMPLE-0001': product_version: " in caught.value.message
    with pytest.raises(MlflowException, match="reasons must be"):
        model.predict(None, pd.DataFrame([S.EXAMPLE_RECORD]), {"reasons": "why"})
    report = {"if_none_scored": "report", "as_of": S.EXAMPLE_AS_OF}
    out = model.predict(None, pd.DataFrame([bad]), report)
    assert [row[S.STATUS] for row in out] == [S.REJECTED]


def test_the_pyfunc_returns_the_rows_of_score_records(predictor):
    model = A.ClosureRiskModel()
    model.predictor = predictor
    params = {"as_of": S.EXAMPLE_AS_OF}
    out = model.predict(None, pd.DataFrame([S.EXAMPLE_RECORD]), params)
    assert isinstance(out, list) and list(out[0]) == list(S.SERVING_COLUMNS)
    expected = S.score_records(predictor, [S.EXAMPLE_RECORD], S.EXAMPLE_AS_OF)
    assert out == expected.to_dict("records")


LIBRARY = Path(__file__).resolve().parents[2] / "risk_model"


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module or ""] if isinstance(node, ast.ImportFrom) else []


def _module_level_mlflow_imports(path: Path) -> list[int]:
    """Lines of ``import mlflow...`` outside function and class bodies and TYPE_CHECKING."""
    found = []
    for top in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(top, ast.FunctionDef | ast.ClassDef):
            continue
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
            continue
        for node in ast.walk(top):
            if any(n == "mlflow" or n.startswith("mlflow.") for n in _imported(node)):
                found.append(node.lineno)
    return found


def test_only_the_adapter_imports_mlflow_when_imported():
    offenders = {
        str(path.relative_to(LIBRARY)): lines
        for path in sorted(LIBRARY.rglob("*.py"))
        if (lines := _module_level_mlflow_imports(path))
    }
    assert offenders == {"modeling/mlflow_adapter.py": offenders["modeling/mlflow_adapter.py"]}
    assert offenders["modeling/mlflow_adapter.py"]


def test_the_check_sees_a_module_level_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\nfrom mlflow.tracking import MlflowClient\ndef f():\n    import mlflow\n"
    )
    assert _module_level_mlflow_imports(probe) == [2]


def test_scoring_from_a_folder_does_not_start_mlflow():
    code = "import sys, risk_model.predict, risk_model.serving; print('mlflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_artefact_dir_reads_mlmodel_and_refuses_other_folders(tmp_path):
    from risk_model.modeling.errors import ModelLoadError

    flavor = "flavors:\n  python_function:\n"
    artefact = "    artifacts:\n      artefact:\n        path: a/v1\n"
    (tmp_path / "MLmodel").write_text(flavor + artefact)
    assert A.artefact_dir(tmp_path) == tmp_path / "a" / "v1"
    (tmp_path / "MLmodel").write_text(flavor + "    loader_module: x\n")
    with pytest.raises(ModelLoadError, match="carries no 'artefact' artifact"):
        A.artefact_dir(tmp_path)
