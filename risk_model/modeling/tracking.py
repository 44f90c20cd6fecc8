"""MLflow tracking without a server: one run per training, model registry with aliases.

Store: ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<project root>/mlflow.db``
(anchored to the project, not the current directory). For SQLite stores the artifacts go
to ``mlruns/`` beside the database file. Telemetry is switched off.

Champion rule: the newly registered version gets the alias ``champion`` when the model
has no champion yet, when the champion cannot score the new OOT rows (other features or
horizon), or when the new version's OOT Gini beats the champion's Gini scored on the same
OOT rows; otherwise it gets ``challenger``. Both Gini figures are logged.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types.utils import _infer_schema

from risk_model.modeling.artefact import ArtefactError, load_artefact
from risk_model.modeling.metrics import gini

PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
CHAMPION, CHALLENGER = "champion", "challenger"


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc model (inferring them costs ~7 s per run)."""
    from risk_model.modeling.spec import package_versions

    versions = package_versions()
    return [f"{name}=={versions[name]}" for name in sorted(versions) if name != "closure-risk"]


def project_root() -> Path:
    """Root of the closure-risk checkout (two levels above this package)."""
    return Path(__file__).resolve().parents[2]


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """Tracking URI: explicit value, else ``MLFLOW_TRACKING_URI``, else the project store."""
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def _artifact_root(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()
    return None


def setup_tracking(uri: str, experiment: str) -> str:
    """Point MLflow at ``uri`` and return the experiment id (created when missing)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(experiment, artifact_location=_artifact_root(uri))


def ui_command(uri: str) -> str:
    """Shell command that opens the MLflow UI on this store."""
    return f"mlflow ui --backend-store-uri {uri}"


@dataclass(frozen=True)
class RegistryOutcome:
    """Result of registering a model version.

    Attributes
    ----------
    run_id : str
        MLflow run id.
    version : str
        Registered model version.
    alias : str
        ``champion`` or ``challenger``.
    new_gini : float
        OOT Gini of the new version.
    champion_gini : float
        Previous champion's Gini on the same rows (NaN when there was none).
    reason : str
        Why the alias was given.
    model_uri : str
        ``models:/<name>/<version>``.
    """

    run_id: str
    version: str
    alias: str
    new_gini: float
    champion_gini: float
    reason: str
    model_uri: str


def _artefact_in_model(local: Path) -> Path:
    """Artefact directory inside a downloaded pyfunc model (path recorded in MLmodel)."""
    flavor = mlflow.models.Model.load(str(local)).flavors.get("python_function", {})
    try:
        return local / flavor["artifacts"]["artefact"]["path"]
    except KeyError as exc:
        raise ArtefactError("the registered model carries no closure-risk artefact") from exc


def champion_gini_on(
    client: MlflowClient, name: str, oot_frame: pd.DataFrame, y: np.ndarray, horizon: int
) -> tuple[float, str]:
    """Gini of the current champion on the given OOT rows, and a note.

    Returns NaN with the reason when there is no champion or it cannot score the rows.
    """
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return float("nan"), "no champion yet"
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{current.version}", dst_path=tmp
        )
        try:
            artefact = load_artefact(_artefact_in_model(Path(local)))
            if artefact.horizon_months != horizon:
                return float("nan"), f"champion v{current.version} has another horizon"
            prob = artefact.predict_proba(artefact.matrix(oot_frame))
        except (ArtefactError, KeyError) as exc:
            return float("nan"), f"champion v{current.version} cannot score these rows: {exc}"
    return gini(y, prob), f"champion v{current.version} scored on the same OOT rows"


def _log_metrics(report: dict[str, Any]) -> None:
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


def log_training_run(
    *,
    uri: str,
    experiment: str,
    registered_model: str,
    params: dict[str, Any],
    tags: dict[str, str],
    report: dict[str, Any],
    artefact_dir: Path,
    plots: list[Path],
    catalogue: list[dict[str, Any]],
    dataset: pd.DataFrame,
    dataset_digest: str,
    dataset_source: str,
    oot_features: pd.DataFrame,
    oot_label: np.ndarray,
    horizon_months: int,
    run_name: str | None = None,
) -> RegistryOutcome:
    """Log one training run, register the model and assign its alias.

    Parameters
    ----------
    uri, experiment, registered_model : str
        Store, experiment and registry name.
    params : dict
        Resolved configuration (flat).
    tags : dict
        Run tags (split kind, data source, ...).
    report : dict
        ``TrainResult.report``.
    artefact_dir : Path
        Saved artefact, shipped inside the pyfunc model.
    plots : list of Path
        PNG files to log under ``plots/``.
    catalogue : list of dict
        Feature catalogue, logged as JSON and CSV.
    dataset : pandas.DataFrame
        Training snapshot frame, logged as the run's input (schema from its first rows,
        row count as a tag; inferring MLflow's schema over every row takes minutes).
    dataset_digest : str
        Fingerprint of the full frame (sha256 hex); its first 16 characters are the
        dataset digest.
    dataset_source : str
        Where the data came from (directory).
    oot_features : pandas.DataFrame
        OOT feature rows (model columns), used for the champion comparison and examples.
    oot_label : numpy.ndarray
        Labels of those rows.
    horizon_months : int
        Label horizon.
    run_name : str, optional
        MLflow run name.

    Returns
    -------
    RegistryOutcome
        Run id, version, alias and the Gini figures.
    """
    experiment_id = setup_tracking(uri, experiment)
    client = MlflowClient(uri)
    champ_gini, note = champion_gini_on(
        client, registered_model, oot_features, oot_label, horizon_months
    )
    new_gini = float(report["oot"]["metrics"]["gini"])
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.set_tags(tags)
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
        example = oot_features.head(5).astype(np.float64)
        output = pd.DataFrame(
            {
                "probability": [0.1] * len(example),
                "points": [600.0] * len(example),
                "band": ["low"] * len(example),
            }
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={"artefact": str(artefact_dir)},
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=registered_model,
            pip_requirements=_requirements(),
            code_paths=[str(Path(__file__).resolve().parents[1])],
        )
        version = str(info.registered_model_version)
        if np.isnan(champ_gini) or new_gini > champ_gini:
            alias = CHAMPION
            reason = note if np.isnan(champ_gini) else f"{note}: new Gini is higher"
        else:
            alias = CHALLENGER
            reason = f"{note}: champion Gini {champ_gini:.4f} >= new {new_gini:.4f}"
        client.set_registered_model_alias(registered_model, alias, version)
        client.set_model_version_tag(registered_model, version, "oot_gini", f"{new_gini:.6f}")
        if not np.isnan(champ_gini):
            mlflow.log_metric("champion_gini_same_oot_rows", champ_gini)
        mlflow.log_metric("new_gini_same_oot_rows", new_gini)
        mlflow.set_tags({"alias": alias, "alias_reason": reason, "registered_version": version})
        run_id = run.info.run_id
    return RegistryOutcome(
        run_id,
        version,
        alias,
        new_gini,
        champ_gini,
        reason,
        f"models:/{registered_model}/{version}",
    )
