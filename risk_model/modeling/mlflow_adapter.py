"""Everything closure-risk asks of MLflow, in one place.

The only library module that imports MLflow when it is imported; every other module
imports MLflow (or this module) inside the functions that need it, so scoring from an
artefact folder never starts MLflow. Here:

* the store: :func:`resolve_tracking_uri` (an explicit URI, else ``MLFLOW_TRACKING_URI``,
  else ``./mlflow.db`` in the current directory, with artifacts in ``./mlruns`` beside
  it), :func:`setup_tracking` and :func:`quiet`;
* registry resolution: :func:`model_location` (``models:/NAME@alias``, ``models:/NAME/3``,
  ``models:/m-<id>``, ``runs:/<run>/model``) and :func:`download_model`, both on the store
  the caller names, :func:`alias_version`, and :func:`artefact_dir` (the artefact inside an
  MLflow model folder, as its ``MLmodel`` records it);
* the served model: :class:`ClosureRiskModel`, its signature, input example and metadata,
  and :func:`log_served_model`.

The registered model is a pyfunc logged *from code* (``pyfunc_model.py`` sets
:class:`ClosureRiskModel`); it carries the artefact directory as the artifact
``artefact`` and scores account history records with :func:`risk_model.serving.score_rows`.

Request (``mlflow models serve``; any of MLflow's JSON layouts, e.g.
``{"dataframe_records": [record, ...], "params": {"as_of": "2025-12-31"}}``): one
record per account in the contract's shape. Params: ``as_of`` (ISO date; default the
latest month end the records cover), ``reasons`` (``all``, the default, ``needed`` or
``none``), ``if_none_scored`` (``error``, the default: HTTP 400 naming every account and
problem when no record could be scored; ``report``: rejected rows instead, for batch
callers such as ``spark_udf``). Response: one row per record (:data:`SERVING_COLUMNS`);
``predict`` returns the rows as a list of dicts (:func:`risk_model.serving.score_rows`),
which MLflow writes out as they are (a DataFrame would be built only to be turned back
into records).

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
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow as pa
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient
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
from risk_model.modeling.mlflow_store import SQLITE_PREFIX, create_store, database_file

ARTEFACT_NAME = "artefact"
STORE_FILE = "mlflow.db"
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
# Tag the MLflow UI reads to choose the experiment page (values from mlflow 3.17's UI:
# "genai_development" opens the GenAI overview, this one the classic runs table).
EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"
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


# --- the store ----------------------------------------------------------------------------


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """Tracking URI: ``explicit``, else ``MLFLOW_TRACKING_URI``, else ``./mlflow.db``.

    The default is the SQLite file in the current directory (absolute path), as the
    ``mlflow`` command line uses it, so ``mlflow ui`` and ``mlflow models serve`` run from
    the same folder find the same store.
    """
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"{SQLITE_PREFIX}{Path.cwd() / STORE_FILE}"


def artifact_root(uri: str) -> str | None:
    """Artifact location of new experiments: ``mlruns/`` beside a SQLite store, else MLflow's."""
    database = database_file(uri)
    return None if database is None else (database.parent / "mlruns").resolve().as_uri()


def client(uri: str) -> MlflowClient:
    """Return a client bound to ``uri`` for tracking and registry (no process-wide state)."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def setup_tracking(uri: str, experiment: str) -> str:
    """Point MLflow at ``uri`` and return the experiment id (created when missing).

    A SQLite store that does not exist yet is written from the recorded schema
    (:func:`risk_model.modeling.mlflow_store.create_store`). The experiment is tagged as
    model development (also when it already existed), so the UI opens the runs table
    rather than the GenAI overview.
    """
    quiet()
    create_store(uri)  # a new SQLite store from the recorded schema, not by migrations
    mlflow.set_tracking_uri(uri)
    store = client(uri)
    found = store.get_experiment_by_name(experiment)
    if found is None:
        try:
            return store.create_experiment(
                experiment,
                artifact_location=artifact_root(uri),
                tags={EXPERIMENT_KIND_TAG: MODEL_DEVELOPMENT},
            )
        except MlflowException:
            # Another process created it between our lookup and our insert: use theirs.
            found = store.get_experiment_by_name(experiment)
            if found is None:
                raise
    if found.tags.get(EXPERIMENT_KIND_TAG) != MODEL_DEVELOPMENT:
        store.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT)
    return found.experiment_id


# --- registry resolution ------------------------------------------------------------------


def alias_version(store: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """Return the version of registered model ``name`` holding ``alias``, or None."""
    try:
        return store.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def model_location(uri: str, store: str) -> str:
    """Resolve a ``models:/`` or ``runs:/`` URI to its artifact location in ``store``.

    MLflow resolves such URIs with its process-wide tracking and registry URIs, not with
    the ``tracking_uri`` given to ``download_artifacts``; resolving them here with a client
    bound to ``store`` keeps the lookup on the store the caller named.
    """
    registry = client(store)
    if uri.startswith("runs:/"):
        run_id, _, name = uri.removeprefix("runs:/").partition("/")
        run = registry.get_run(run_id)
        found = registry.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}' AND name = '{name}'",
        )
        if not found:
            raise ValueError(f"run {run_id} logged no model named {name!r}")
        return found[0].artifact_location
    reference = uri.removeprefix("models:/")
    if _LOGGED_MODEL_ID.match(reference):  # not a registered name that starts with "m-"
        return registry.get_logged_model(reference).artifact_location
    name, sep, alias = reference.partition("@")
    if sep:
        version = registry.get_model_version_by_alias(name, alias).version
    else:
        name, _, version = name.partition("/")
    source = registry.get_model_version_download_uri(name, version)
    return model_location(source, store) if source.startswith("models:/m-") else source


def download_model(uri: str, store: str, destination: str | os.PathLike[str]) -> Path:
    """Download the MLflow model ``uri`` of ``store`` into ``destination``; return its folder."""
    quiet()
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=model_location(uri, store), dst_path=os.fspath(destination), tracking_uri=store
    )
    return Path(local)


def artefact_dir(model_dir: str | os.PathLike[str]) -> Path:
    """Return the closure-risk artefact folder inside an MLflow model folder (its ``MLmodel``).

    Raises
    ------
    ModelLoadError
        When the folder is not an MLflow model or carries no artefact.
    """
    from risk_model.modeling.errors import ModelLoadError

    folder = Path(model_dir)
    try:
        flavor = mlflow.models.Model.load(os.fspath(folder)).flavors.get("python_function", {})
        return folder / flavor["artifacts"][ARTEFACT_NAME]["path"]
    except (KeyError, TypeError, OSError, MlflowException) as error:
        raise ModelLoadError(
            f"MLflow model {folder} carries no {ARTEFACT_NAME!r} artifact ({error})"
        ) from error


# --- the served model ---------------------------------------------------------------------


def log_served_model(artefact: Path, requirements: list[str]) -> ModelInfo:
    """Log the artefact as the served pyfunc (from code) into the active run."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_CODE),
        artifacts={ARTEFACT_NAME: str(artefact)},
        signature=serving_signature(),
        input_example=serving_input_example(),  # a made-up account, never customer data
        metadata={"input_contract": input_contract()},
        pip_requirements=requirements,
        code_paths=[str(Path(__file__).resolve().parents[1])],
    )


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
    ) -> list[dict[str, Any]]:
        """Score every record (one dict per record); HTTP 400 when none could be scored."""
        params = params or {}
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        try:
            return S.score_rows(
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
    inputs += [ColSpec(AnyType(), C.ATTRIBUTES, required=False)]  # the user's own, if any
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
    described[C.ATTRIBUTES] = (
        "record of the user's own attributes, numbers or texts by name (may be absent; read "
        "only by a model trained with them)"
    )
    return described


__all__ = [
    "ARTEFACT_NAME",
    "EXPERIMENT_KIND_TAG",
    "MODEL_DEVELOPMENT",
    "QUIET_ENVIRONMENT",
    "ClosureRiskModel",
    "alias_version",
    "artefact_dir",
    "artifact_root",
    "client",
    "download_model",
    "input_contract",
    "log_served_model",
    "model_location",
    "quiet",
    "resolve_tracking_uri",
    "serving_input_example",
    "serving_signature",
    "set_model",
    "setup_tracking",
]
