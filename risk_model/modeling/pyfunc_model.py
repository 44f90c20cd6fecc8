"""MLflow pyfunc wrapper of the closure-risk artefact (logged as a model *from code*).

MLflow executes this file when loading the model; nothing is pickled. The logged model
carries the artefact directory as the artifact ``artefact``; :func:`load_artefact`
verifies its checksums on load.

Input: a DataFrame with the artefact's feature columns (``feature_names()``), as double
(extra columns are ignored, missing ones raise). Output: a DataFrame with one row per
input row and columns ``probability`` (calibrated P(closed within the horizon)),
``points`` (score, higher = safer) and ``band`` (risk band name).

The only import-time effect is :func:`mlflow.models.set_model`, which MLflow requires.
"""

from __future__ import annotations

import mlflow
import pandas as pd

from risk_model.modeling.artefact import ModelArtefact, load_artefact

OUTPUT_COLUMNS = ("probability", "points", "band")


class ClosureRiskModel(mlflow.pyfunc.PythonModel):
    """Score feature rows with the artefact: probability, points and band."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        """Load and verify the artefact shipped with the model."""
        self.artefact: ModelArtefact = load_artefact(context.artifacts["artefact"])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict | None = None,
    ) -> pd.DataFrame:
        """Return probability, points and band for every input row."""
        frame = pd.DataFrame(model_input)
        prob = self.artefact.predict_proba(self.artefact.matrix(frame))
        points = self.artefact.points(prob)
        return pd.DataFrame(
            {"probability": prob, "points": points, "band": self.artefact.bands(prob)},
            index=frame.index,
        )


mlflow.models.set_model(ClosureRiskModel())
