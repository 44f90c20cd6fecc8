"""The verified model artefact, sent once to the executors and verified again there.

On the driver, :func:`ship_model` loads the model exactly as one machine does
(:func:`risk_model.model_source.load_model_artefact`: a missing, unknown or altered
artefact fails here, before any Spark job, with the one-machine message), copies the
verified artefact folder to a staging folder, verifies the copy and adds it to the job's
files (``SparkContext.addFile``): each executor fetches it once.

On an executor, :func:`executor_predictor` loads the fetched copy with the same loader
(checksums, optional signature, model text and spec checks) and also checks that its
``checksums.json`` is byte for byte the one verified on the driver, so a copy altered in
transit or on the executor's disk fails the task before it scores any account. Error
messages name the driver's folder, as one machine's do. The predictor is kept for the
life of the Python worker: tasks after the first reuse it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from risk_model.limits import DEFAULT_LIMITS, EventLimits
from risk_model.modeling.artefact_files import CHECKSUMS_FILE
from risk_model.modeling.errors import ModelLoadError

__all__ = ["ShippedModel", "executor_predictor", "model_error", "ship_model"]


@dataclass(frozen=True)
class ShippedModel:
    """What a task needs to find and check the shipped artefact.

    Parameters
    ----------
    name : str
        File name under ``SparkFiles`` (unique per shipment).
    source : str
        The artefact folder as the driver verified it (named in error messages).
    fingerprint : str
        sha256 of the verified ``checksums.json`` bytes.
    version : str
        Model version.
    """

    name: str
    source: str
    fingerprint: str
    version: str


def _fingerprint(folder: Path) -> str:
    return hashlib.sha256((folder / CHECKSUMS_FILE).read_bytes()).hexdigest()


def _local_folder(model: str, tracking_uri: str | None, into: Path) -> Path:
    """Return the artefact folder of ``model``: the local one, or a download into ``into``."""
    from risk_model.model_source import _RUN_ID, _resolve_local

    if model.startswith(("models:/", "runs:/")) or (
        not Path(model).exists() and _RUN_ID.match(model)
    ):
        from risk_model.modeling.mlflow_adapter import download_model, resolve_tracking_uri

        uri = model if model.startswith(("models:/", "runs:/")) else f"runs:/{model}/model"
        return _resolve_local(download_model(uri, resolve_tracking_uri(tracking_uri), into))
    return _resolve_local(model)


def ship_model(spark, model: str | os.PathLike[str] | None = None, *, tracking_uri=None):
    """Verify ``model`` on the driver and add the verified artefact to the job's files.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session whose executors will score.
    model : str or path, optional
        As :func:`risk_model.predict.load` (folder, ``models:/``/``runs:/`` URI, run id;
        default the registry champion).
    tracking_uri : str, optional
        MLflow store.

    Returns
    -------
    ShippedModel

    Raises
    ------
    ModelLoadError
        As on one machine, before any Spark job runs.
    """
    from risk_model.model_source import DEFAULT_MODEL, load_model_artefact
    from risk_model.modeling.artefact_files import read_verified

    text = os.fspath(DEFAULT_MODEL if model is None else model)
    artefact = load_model_artefact(text, tracking_uri=tracking_uri)  # one machine's checks
    staging = Path(tempfile.mkdtemp(prefix="closure-risk-ship-"))
    try:
        folder = _local_folder(text, tracking_uri, staging / "download")
        verified = _fingerprint(folder)
        read_verified(folder)  # the folder shipped is the one verified, as it is now
        name = f"closure-risk-model-{verified[:12]}-{uuid.uuid4().hex[:8]}"
        copy = staging / name
        shutil.copytree(folder, copy)
        read_verified(copy)
        if _fingerprint(copy) != verified:
            raise ModelLoadError(f"{folder}: (files): the artefact changed while it was copied")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    spark.sparkContext.addFile(str(copy), recursive=True)
    # Executors fetch the copy from the driver when their first task starts: it stays until
    # this process ends.
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    return ShippedModel(name, str(folder), verified, artefact.version)


_PREDICTORS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def executor_predictor(
    shipped: ShippedModel, *, limits: EventLimits = DEFAULT_LIMITS, num_threads: int = 1
):
    """Return the :class:`~risk_model.predict.Predictor` of the shipped artefact (executor).

    Loaded and verified once per Python worker; later tasks reuse it.

    Raises
    ------
    ModelLoadError
        When the executor's copy is missing, incomplete, altered, or not the one verified
        on the driver; the message names the driver's folder.
    """
    key = (shipped.name, shipped.fingerprint, limits, num_threads)
    with _LOCK:
        if key in _PREDICTORS:
            return _PREDICTORS[key]
        from pyspark import SparkFiles

        from risk_model.predict import load

        path = Path(SparkFiles.get(shipped.name))
        try:
            predictor = load(path, num_threads=num_threads, limits=limits)
            if _fingerprint(path) != shipped.fingerprint:
                raise ModelLoadError(
                    f"{path / CHECKSUMS_FILE}: sha256: checksums differ from the artefact "
                    "verified on the driver: the artefact was altered"
                )
        except (ModelLoadError, OSError) as exc:
            raise ModelLoadError(str(exc).replace(str(path), shipped.source)) from None
        _PREDICTORS[key] = predictor
        return predictor


_MODEL_ERROR = re.compile(r"ModelLoadError: (.+)")


def model_error(error: BaseException) -> str | None:
    """Return the :class:`ModelLoadError` message a failed Spark job carries, if any."""
    found = _MODEL_ERROR.findall(str(error))
    return found[-1].strip() if found else None
