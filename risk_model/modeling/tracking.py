"""MLflow tracking without a server: one run per training, model registry with aliases.

Store: an explicit URI (``--tracking-uri``), else ``MLFLOW_TRACKING_URI``, else
``./mlflow.db`` in the current directory; for SQLite stores the artifacts go to ``mlruns/``
beside the database file. Telemetry and download progress bars are switched off. The store,
experiment set-up and the served model live in :mod:`risk_model.modeling.mlflow_adapter`
(re-exported here); MLflow itself is imported inside the functions that log.

A training wraps all its stages in :func:`training_run` (the run ends FINISHED, FAILED
or KILLED), logs with :func:`log_training` and registers with
:func:`register_and_promote`, which scores the current champion and the new model on the
same selection-window rows and applies :func:`risk_model.modeling.promotion.decide`
under the registry lock (:mod:`risk_model.modeling.registry_lock`).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from risk_model.modeling.mlflow_adapter import (
    log_served_model,
    resolve_tracking_uri,
    setup_tracking,
)
from risk_model.modeling.promotion import PromotionConfig
from risk_model.modeling.registry_lock import RegistryOutcome, register_and_promote

if TYPE_CHECKING:
    import mlflow
    from mlflow.models.model import ModelInfo

__all__ = [
    "PromotionConfig",
    "RegistryOutcome",
    "TrainingTerminated",
    "log_training",
    "register_and_promote",
    "resolve_tracking_uri",
    "setup_tracking",
    "training_run",
]


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc model (inferring them costs ~7 s per run).

    uvloop is the event loop the model server should run on: with asyncio's, uvicorn's
    ``--workers N`` leaves Nagle's algorithm on and each keep-alive answer waits ~40 ms.
    """
    from risk_model.modeling.spec import package_versions

    versions = package_versions()
    out = [f"{name}=={versions[name]}" for name in sorted(versions) if name != "closure-risk"]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        out.append(f"uvloop=={importlib.metadata.version('uvloop')}; sys_platform != 'win32'")
    return out


def ui_command(uri: str) -> str:
    """Shell command that opens the MLflow UI on this store."""
    return f"mlflow ui --backend-store-uri {uri}"


class TrainingTerminated(SystemExit):
    """SIGTERM arrived during a training run (exit status 128 + 15 when not caught)."""


def _raise_terminated(signum: int, _frame: object) -> None:
    raise TrainingTerminated(128 + signum)


@contextmanager
def training_run(
    uri: str, experiment: str, run_name: str | None = None, tags: dict[str, str] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """One MLflow run around a whole training, ended with the status it deserves.

    Parameters
    ----------
    uri, experiment : str
        Store and experiment (created and tagged as model development when needed).
    run_name : str, optional
        Run name.
    tags : dict, optional
        Run tags set at start.

    Yields
    ------
    mlflow.ActiveRun
        The active run.

    Notes
    -----
    Ends FINISHED on success, KILLED on KeyboardInterrupt or SIGTERM (a handler raising
    :class:`TrainingTerminated` is installed for the duration, main thread only, and the
    previous handler restored), FAILED on any other exception; the exception is
    re-raised and its type and message kept in the run tag ``failure``.
    """
    import mlflow

    experiment_id = setup_tracking(uri, experiment)
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main else None
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt | TrainingTerminated) else status
        with contextlib.suppress(Exception):  # a tagging error must not hide the failure
            mlflow.set_tag("failure", f"{type(exc).__name__}: {exc}"[:4000])
        raise
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        mlflow.end_run(status=status)


def _log_metrics(report: dict[str, Any]) -> None:
    import mlflow

    flat: dict[str, float] = {}
    for part in ("oot", "truth"):
        if part not in report:
            continue
        section = report[part]
        flat.update({f"{part}_{k}": v for k, v in section["metrics"].items()})
        flat[f"{part}_gini_slope"] = section["gini_slope"]
        for cause, value in section["gini_by_cause"].items():
            flat[f"{part}_gini_cause_{cause}"] = value
        for step, (month, value) in enumerate(section["gini_by_month"].items()):
            mlflow.log_metric(f"{part}_gini_by_month", value, step=step)
            flat[f"{part}_gini_month_{month}"] = value
    flat.update({f"val_{k}": v for k, v in report["val"].items()})
    flat["oot_psi_vs_train"] = report["oot"]["psi"]
    flat["best_iteration"] = float(report["best_iteration"])
    if "gini_ratio" in report:
        flat["gini_ratio_model_to_truth"] = report["gini_ratio"]
    mlflow.log_metrics({k: float(v) for k, v in flat.items() if v is not None})


def log_training(
    *,
    params: dict[str, Any],
    report: dict[str, Any],
    artefact_dir: Path,
    plots: list[Path],
    catalogue: list[dict[str, Any]],
    dataset: pd.DataFrame,
    dataset_digest: str,
    dataset_source: str,
) -> ModelInfo:
    """Log params, metrics, artifacts, the input data set and the model into the active run.

    Parameters
    ----------
    params : dict
        Resolved configuration (flat).
    report : dict
        ``TrainResult.report`` (``oot``, ``val``, ``split``, ``best_iteration``, ...).
    artefact_dir : Path
        Saved artefact, shipped inside the pyfunc model.
    plots : list of Path
        PNG files to log under ``plots/``.
    catalogue : list of dict
        Feature catalogue, logged as JSON and CSV.
    dataset : pandas.DataFrame
        Training snapshot frame (schema from its first rows: inferring MLflow's schema
        over every row takes minutes; row count as a tag).
    dataset_digest : str
        Fingerprint of the full frame (sha256 hex; the first 16 characters are the digest).
    dataset_source : str
        Where the data came from (directory).

    Returns
    -------
    mlflow.models.model.ModelInfo
        The logged (not yet registered) model; pass ``model_uri`` to
        :func:`register_and_promote`.
    """
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types.utils import _infer_schema

    if mlflow.active_run() is None:
        raise RuntimeError("log_training needs an active run (use training_run)")
    mlflow.log_params({k: str(v) for k, v in params.items()})
    _log_metrics(report)
    mlflow.log_dict(report["split"], "split.json")
    mlflow.log_dict({"features": catalogue}, "feature_catalogue.json")
    mlflow.log_text(pd.DataFrame(catalogue).to_csv(index=False), "feature_catalogue.csv")
    mlflow.log_text(json.dumps(report, indent=2, default=str), "report.json")
    deciles = pd.DataFrame(report.get("oot_deciles", []))
    mlflow.log_text(deciles.to_csv(index=False), "oot_decile_table.csv")
    for plot in plots:
        mlflow.log_artifact(str(plot), artifact_path="plots")
    data = MetaDataset(
        source=resolve_dataset_source(dataset_source),
        name="snapshots",
        digest=dataset_digest[:16],
        schema=_infer_schema(dataset.head(1000)),
    )
    mlflow.log_input(data, context="training")
    mlflow.set_tags({"dataset_rows": str(len(dataset)), "dataset_sha256": dataset_digest})
    return log_served_model(artefact_dir, _requirements())
