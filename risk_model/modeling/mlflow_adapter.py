"""Everything closure-risk asks of MLflow, in one place: the served model and its signature.

The registered model is a pyfunc logged *from code* (``pyfunc_model.py`` sets
:class:`ClosureRiskModel`); it carries the artefact directory as the artifact
``artefact`` and scores account history records with :func:`risk_model.serving.score_records`.

Request (``mlflow models serve``; any of MLflow's JSON layouts, e.g.
``{"dataframe_records": [record, ...], "params": {"as_of": "2025-12-31"}}``): one
record per account in the contract's shape. Params: ``as_of`` (ISO date; default the
latest month end the records cover), ``reasons`` (``all``, the default, ``needed`` or
``none``), ``if_none_scored`` (``error``, the default: HTTP 400 naming every account and
problem when no record could be scored; ``report``: rejected rows instead, for batch
callers such as ``spark_udf``). Response: one row per record (:data:`SERVING_COLUMNS`).

The signature names every column and nested event field. Texts (the id, product version
and the profile dates) are declared ``string``; numbers, flags and the event lists are
declared ``Any`` and checked by the data contract, account by account, because MLflow 3.17
refuses JSON integers in ``double`` columns and nulls in ``long`` columns, and checks
nested values in Python at about a millisecond per event: a bad value would fail the whole
request with MLflow's message instead of rejecting that one account with the contract's.
The full field list with types, units and nullability is in the model's metadata
(``input_contract``).

``spark_udf``: pass the input columns by name (the signature's columns are optional, so
MLflow cannot pick them) with ``params={"if_none_scored": "report"}``; list columns may
arrive as numpy arrays and dates as ``datetime.date`` (both are read).
"""

from __future__ import annotations

import os
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
)

from risk_model import contract as C
from risk_model import scores
from risk_model import serving as S

ARTEFACT_NAME = "artefact"
# MLflow's defaults that only add noise here: a progress line per downloaded file (a model
# holds ~90: the artefact and the library's code) and usage telemetry.
QUIET_ENVIRONMENT = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def quiet() -> None:
    """Switch off MLflow's download progress bar and telemetry, unless the caller set them."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class ClosureRiskModel(mlflow.pyfunc.PythonModel):
    """Score account history records with the artefact shipped in the model."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        """Load and verify the artefact; build the predictor once."""
        from risk_model.modeling.artefact import load_artefact
        from risk_model.predict import Predictor

        self.predictor = Predictor(load_artefact(context.artifacts[ARTEFACT_NAME]))

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score every record; raise an HTTP 400 error when none could be scored."""
        params = params or {}
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        try:
            return S.score_records(
                self.predictor,
                frame,
                params.get("as_of"),
                reasons=params.get("reasons") or S.DEFAULT_REASONS,
                if_none_scored=params.get("if_none_scored") or "error",
            )
        except (ValueError, TypeError) as error:  # RecordsRejectedError or a bad param
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from error


def set_model(model: ClosureRiskModel) -> None:
    """Name the instance MLflow serves (called by the model-from-code file)."""
    mlflow.models.set_model(model)


def _mlflow_type(kind: pa.DataType) -> DataType | Array | Object:
    """MLflow schema type of an Arrow type (the output columns)."""
    if pa.types.is_struct(kind):
        return Object([Property(f.name, _mlflow_type(f.type), required=False) for f in kind])
    if pa.types.is_list(kind):
        return Array(_mlflow_type(kind.value_type))
    if pa.types.is_floating(kind):
        return DataType.double
    if pa.types.is_integer(kind):
        return DataType.long
    if pa.types.is_boolean(kind):
        return DataType.boolean
    return DataType.string


def serving_signature() -> ModelSignature:
    """Signature of the served model: account records in, one row per record out."""
    texts = (pa.string(), pa.date32())
    inputs = [
        ColSpec(DataType.string if f.type in texts else AnyType(), f.name, required=False)
        for f in C.PROFILE_FIELDS
    ]
    inputs += [ColSpec(AnyType(), C.STATEMENTS, required=False)]
    inputs += [ColSpec(AnyType(), C.TRANSACTIONS, required=False)]
    output_types = dict(zip(scores.OUTPUT_SCHEMA.names, scores.OUTPUT_SCHEMA.types, strict=True))
    output_types[C.AS_OF] = pa.string()  # ISO text in JSON
    always = (S.STATUS,)
    outputs = [
        ColSpec(_mlflow_type(output_types.get(name, pa.string())), name, required=name in always)
        for name in S.SERVING_COLUMNS
    ]
    params = ParamSchema(
        [
            ParamSpec("as_of", DataType.string, None),
            ParamSpec("reasons", DataType.string, S.DEFAULT_REASONS),
            ParamSpec("if_none_scored", DataType.string, "error"),
        ]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


def serving_input_example() -> tuple[pd.DataFrame, dict[str, str]]:
    """One made-up account record and its as-of date (the logged input example)."""
    return pd.DataFrame([S.EXAMPLE_RECORD]), {"as_of": S.EXAMPLE_AS_OF}


def input_contract() -> dict[str, str]:
    """Every input field with its contract type, nullability and unit (model metadata)."""
    parts = (("", C.PROFILE_FIELDS), (f"{C.STATEMENTS}.", C.STATEMENT_FIELDS))
    parts += ((f"{C.TRANSACTIONS}.", C.TRANSACTION_FIELDS),)
    described = {
        prefix + f.name: f"{f.type}, {'nullable' if f.nullable else 'required'}, {f.unit}"
        for prefix, fields in parts
        for f in fields
    }
    described[C.STATEMENTS] = "list of statement records, ascending by month (may be absent)"
    described[C.TRANSACTIONS] = "list of transaction records, ascending by time (may be absent)"
    return described


__all__ = [
    "ARTEFACT_NAME",
    "QUIET_ENVIRONMENT",
    "ClosureRiskModel",
    "input_contract",
    "quiet",
    "serving_input_example",
    "serving_signature",
    "set_model",
]
