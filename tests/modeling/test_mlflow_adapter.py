import os
import subprocess
import sys

import pandas as pd
import pytest

from risk_model import contract as C
from risk_model import reasons as R
from risk_model import serving as S
from risk_model.modeling import mlflow_adapter as A

LOAD = (
    "import sys; from risk_model.predict import load; "
    "print(load('models:/closure-risk@champion', tracking_uri=sys.argv[1]).model_version)"
)


def _load_in_a_fresh_process(model, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_ENABLE_ARTIFACTS")}
    return subprocess.run(
        [sys.executable, "-c", LOAD, model.tracking_uri],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
        env=clean | env,
    )


@pytest.mark.slow
def test_loading_the_registered_model_prints_no_progress_bar(model):
    quiet = _load_in_a_fresh_process(model)
    assert "Downloading artifacts" not in quiet.stderr + quiet.stdout
    assert quiet.stdout.strip()  # the model version: it did load
    # The caller's own setting wins: the bar is MLflow's, shown when asked for.
    loud = _load_in_a_fresh_process(model, MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="true")
    assert "Downloading artifacts" in loud.stderr


def test_signature_names_every_contract_column_and_the_serving_outputs():
    signature = A.serving_signature()
    inputs = signature.inputs.input_names()
    assert inputs == [f.name for f in C.PROFILE_FIELDS] + [C.STATEMENTS, C.TRANSACTIONS]
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
    assert out[S.STATUS].tolist() == [S.REJECTED]
