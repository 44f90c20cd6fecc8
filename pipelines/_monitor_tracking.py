"""MLflow wiring of ``python -m pipelines.monitor``: the model's registry entry, the run.

A monitoring run goes to its own experiment (default ``closure-risk-monitoring``, tagged as
model development like training's, :func:`risk_model.modeling.tracking.setup_tracking`),
so training runs stay alone in theirs. It is linked to the model it watched: tags name the
registered model, version, training run and logged model; the logged model is the run's
input and the figures are logged against it (``model_id``), so they also show on the
model's page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger("pipelines.monitor")
KIND_TAG, MONITORING = "kind", "monitoring"  # the tag of monitoring runs


@dataclass(frozen=True)
class Registered:
    """Where a model version label stands in the store (any part may be unknown)."""

    label: str
    run_id: str | None = None
    name: str | None = None
    version: str | None = None
    model_id: str | None = None

    @property
    def uri(self) -> str | None:
        """``models:/<name>/<version>`` when registered."""
        return f"models:/{self.name}/{self.version}" if self.name and self.version else None

    def tags(self) -> dict[str, str]:
        """Run tags naming the model."""
        values = {
            "monitored_model_label": self.label,  # not model_version_label: training's tag
            "model_run_id": self.run_id,
            "registered_model_name": self.name,
            "registered_model_version": self.version,
            "model_id": self.model_id,
        }
        return {k: v for k, v in values.items() if v}


def find_registered(uri: str, label: str) -> Registered:
    """Find the training run of a model version label and its registered version(s).

    The training run carries the tag ``model_version_label`` (monitoring runs, tagged
    ``kind=monitoring``, are passed over); the registered version is the one made from that
    run (the newest when there are several).
    """
    from mlflow.tracking import MlflowClient

    from risk_model.modeling.mlflow_adapter import quiet

    quiet()  # before MLflow's first call: no telemetry
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return Registered(label)
    quoted = label.replace("'", "")
    runs = client.search_runs(
        experiments, filter_string=f"tags.model_version_label = '{quoted}'", max_results=100
    )
    trainings = [r for r in runs if r.data.tags.get(KIND_TAG) != MONITORING]
    if not trainings:
        return Registered(label)
    run_id = trainings[0].info.run_id
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    if not versions:
        return Registered(label, run_id)
    newest = max(versions, key=lambda v: int(v.version))
    return Registered(label, run_id, newest.name, str(newest.version), logged_model_id(newest))


def logged_model_id(version: Any) -> str | None:
    """Return the logged model behind a registered version (its source ``models:/m-<id>``).

    The SQLite store leaves ``ModelVersion.model_id`` empty; the source names the model.
    """
    if version.model_id:
        return str(version.model_id)
    source = str(version.source or "")
    return source.removeprefix("models:/") if source.startswith("models:/m-") else None


def log_monitoring(
    *,
    uri: str,
    experiment: str,
    result: Any,
    registered: Registered,
    files: list[Path],
    tags: dict[str, str],
) -> str:
    """Log one monitoring run; return its id.

    Parameters
    ----------
    uri, experiment : str
        Store and experiment (created and tagged when missing).
    result : MonitorResult
        The figures (logged as metrics).
    registered : Registered
        The model watched (tags; its logged model links the run and the metrics).
    files : list of Path
        The report and the JSON of the figures, logged as artifacts.
    tags : dict
        Further run tags (scores file, as-of date, ...).
    """
    import mlflow
    from mlflow.entities import LoggedModelInput

    from risk_model.modeling.tracking import setup_tracking

    experiment_id = setup_tracking(uri, experiment)
    name = f"monitor {registered.label} as of {result.as_of}"
    all_tags = tags | registered.tags() | {"light": result.light, KIND_TAG: MONITORING}
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=all_tags) as run:
        metrics = {k: float(v) for k, v in result.metrics().items()}
        model_id = registered.model_id
        if model_id:
            mlflow.log_input(model=LoggedModelInput(model_id))
        mlflow.log_metrics(metrics, model_id=model_id)
        for path in files:
            mlflow.log_artifact(str(path))
        return run.info.run_id
