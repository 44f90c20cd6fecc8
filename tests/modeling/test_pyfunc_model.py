import runpy

import mlflow.models.model as mlflow_model

from risk_model.modeling.mlflow_adapter import PYFUNC_CODE, ClosureRiskModel


def test_running_the_file_names_the_served_model(monkeypatch):
    # MLflow runs this file when it loads the registered model; the instance it names is
    # the one served. (test_mlflow_adapter loads a logged model end to end.)
    monkeypatch.delitem(vars(mlflow_model), "__mlflow_model__", raising=False)
    runpy.run_path(str(PYFUNC_CODE))
    assert isinstance(vars(mlflow_model)["__mlflow_model__"], ClosureRiskModel)


def test_nothing_is_named_until_the_file_runs(monkeypatch):
    monkeypatch.delitem(vars(mlflow_model), "__mlflow_model__", raising=False)
    import risk_model.modeling.mlflow_adapter  # noqa: F401  (the adapter alone names nothing)

    assert "__mlflow_model__" not in vars(mlflow_model)
