"""The code MLflow runs to load the registered model (a pyfunc logged *from code*).

MLflow executes this file when it loads the model; nothing is pickled. The model class and
its signature live in :mod:`risk_model.modeling.mlflow_adapter`; this file only names the
instance MLflow serves, as models from code require. Nothing imports it.
"""

from risk_model.modeling.mlflow_adapter import ClosureRiskModel, set_model

set_model(ClosureRiskModel())
