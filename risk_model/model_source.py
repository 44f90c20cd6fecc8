"""Where a scoring model comes from: an artefact folder, an MLflow model or a run.

:func:`load_model_artefact` accepts an artefact directory, an MLflow model directory, a
``models:/...`` or ``runs:/...`` URI or an MLflow run id (default: the registry's
champion, :data:`DEFAULT_MODEL`). MLflow models carry the artefact directory as the
artifact named ``artefact``; it is downloaded to a temporary folder, verified (sha256
checksums, before anything is parsed) and read fully into memory.

:class:`ModelLoadError` is defined in :mod:`risk_model.modeling.errors` (a subclass of
``ArtefactError``) and re-exported here; every refusal of a model folder's content
reads ``"<file>: <field>: <problem>"``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from risk_model.modeling.artefact import ModelArtefact, load_artefact
from risk_model.modeling.errors import ArtefactError, ModelLoadError

DEFAULT_MODEL = "models:/closure-risk@champion"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")

__all__ = ["DEFAULT_MODEL", "ModelLoadError", "load_model_artefact"]


def _resolve_local(model: str | os.PathLike[str]) -> Path:
    """Return the artefact directory for a local path (artefact or MLflow model folder)."""
    path = Path(model)
    if not (path / "MLmodel").is_file():
        return path
    from risk_model.modeling.mlflow_adapter import artefact_dir  # MLflow only for its models

    return artefact_dir(path)


def _download(uri: str, tracking_uri: str | None) -> ModelArtefact:
    """Download an MLflow model (or a run's model) and load its verified artefact."""
    # Imported here: a local artefact needs no MLflow start-up.
    from risk_model.modeling.mlflow_adapter import download_model, resolve_tracking_uri

    store = resolve_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="closure-risk-model-") as tmp:
        try:
            local = download_model(uri, store, tmp)
        except Exception as exc:  # MLflow raises many types for unknown models / stores
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot load model {uri!r} from {store}: {first}") from exc
        # The artefact is read fully into memory, so the download can be deleted after.
        return load_artefact(_resolve_local(local))


def load_model_artefact(
    model: str | os.PathLike[str] | None = None, *, tracking_uri: str | None = None
) -> ModelArtefact:
    """Find, verify and load a model artefact.

    Parameters
    ----------
    model : str or path, optional
        An artefact directory, an MLflow model directory, a ``models:/...`` or
        ``runs:/...`` URI, or an MLflow run id; default :data:`DEFAULT_MODEL`.
    tracking_uri : str, optional
        MLflow store; default ``MLFLOW_TRACKING_URI``, else ``./mlflow.db``.

    Returns
    -------
    ModelArtefact
        The artefact, checksums verified.

    Raises
    ------
    ModelLoadError
        When the model is unknown, unreachable, incomplete or altered.
    """
    model = DEFAULT_MODEL if model is None else model
    text = os.fspath(model)
    try:
        if text.startswith(("models:/", "runs:/")):
            return _download(text, tracking_uri)
        if Path(text).exists():
            return load_artefact(_resolve_local(text))
        if _RUN_ID.match(text):
            return _download(f"runs:/{text}/model", tracking_uri)
    except ModelLoadError:
        raise
    except ArtefactError as exc:
        raise ModelLoadError(f"model {text!r} refused: {exc}") from exc
    raise ModelLoadError(
        f"model {text!r} not found: give an artefact directory, a models:/ or runs:/ URI "
        "or an MLflow run id"
    )
