"""MLflow wiring of ``python -m pipelines.train``: what is logged and how the alias is chosen.

The run itself is opened by ``pipelines.train.run`` around every stage (its duration is the
training's); this module logs the finished training into it and registers the model.
MLflow is imported by the functions that log, not with this module: ``--help`` and
``--no-tracking`` never start it (its import is seconds of CPU).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from risk_model import contract as C
from risk_model.modeling.dataset import LABEL

if TYPE_CHECKING:
    from pipelines.train import Packaged, Trained
    from risk_model.modeling.config import TrainConfig
    from risk_model.modeling.data_dir import Inputs
    from risk_model.modeling.registry_lock import RegistryOutcome


def run_tags(inputs: Inputs) -> dict[str, str]:
    """Tags known when the run opens."""
    return {"data_source": str(inputs.source.resolve())}


def mlflow_report(trained: Trained, by_family: dict[str, float]) -> dict[str, Any]:
    """Return the report logged as ``report.json`` and as metrics (OOT = the served path)."""
    result = trained.result
    return trained.evaluation | {
        "val": result.report["selection"],
        "best_iteration": result.report["best_iteration"],
        "split": result.report["split"] | {"windows": windows_text(result.split)},
        "capacity": result.report["capacity"],
        "calibration": result.report["calibration"],
        "family_contributions": by_family,
    }


def windows_text(split: Any) -> str:
    """``train a..b | selection c..d | OOT e..f`` (months)."""
    parts = (("train", "train"), ("val", "selection"), ("oot", "OOT"))
    months = split.months
    return " | ".join(
        f"{label} {months[p][0][:7]}..{months[p][-1][:7]}" if months.get(p) else f"{label} -"
        for p, label in parts
    )


REPORT_ARTIFACT = "report.html"


def description(trained: Trained, inputs: Inputs, report_run: str | None = None) -> str:
    """Short markdown for the registered model and version: data, windows, headline figures.

    With ``report_run`` (the run holding ``report.html``) a last paragraph points at the
    model report.
    """
    evaluation, result = trained.evaluation, trained.result
    oot = evaluation["oot"]["metrics"]
    lines = [
        f"closure-risk model `{trained.version}`, trained on `{inputs.source}` "
        f"({len(trained.frame):,} snapshot rows, {result.split.kind} split).",
        f"Windows: {windows_text(result.split)}; capacity {_chosen(result)}.",
        f"Served-path OOT (merchant table of {evaluation['table_as_of']}): Gini {oot['gini']:.4f}, "
        f"ECE/base rate {oot['ece_to_base_rate']:.3f}, base rate {oot['base_rate']:.4f}.",
    ]
    if "gini_ratio" in evaluation:
        lines.append(f"Gini model / truth on the same rows: {evaluation['gini_ratio']:.4f}.")
    if report_run:
        lines.append(report_link(report_run))
    return "\n\n".join(lines)


def report_link(run_id: str) -> str:
    """Markdown pointing at the model report logged in run ``run_id``.

    The link is relative to the MLflow UI (its run page opens the artifact): the UI's
    markdown drops ``file://`` links, and the same description must work for any host.
    """
    import mlflow

    run = mlflow.get_run(run_id)
    page = f"#/experiments/{run.info.experiment_id}/runs/{run_id}/artifacts/{REPORT_ARTIFACT}"
    uri = f"runs:/{run_id}/{REPORT_ARTIFACT}"
    return (
        f"Model report: [`{REPORT_ARTIFACT}`]({page}) (run artifact `{uri}`, stored at "
        f"`{run.info.artifact_uri}/{REPORT_ARTIFACT}`; `mlflow artifacts download -u {uri}` "
        "fetches it)."
    )


def log_and_register(
    trained: Trained,
    packaged: Packaged,
    plots: list[Any],
    by_family: dict[str, float],
    config: TrainConfig,
    inputs: Inputs,
    *,
    force: bool,
    report: Path | None = None,
) -> RegistryOutcome:
    """Log the training into the active run, register it and choose its alias.

    ``report`` (the model report page) is logged as ``report.html`` and linked from the
    registered version's description.
    """
    import mlflow

    from risk_model.modeling.promotion import PromotionConfig, evaluation_fingerprint
    from risk_model.modeling.registry_lock import register_and_promote
    from risk_model.modeling.tracking import log_training, resolve_tracking_uri

    result = trained.result
    split = result.split
    mlflow.set_tags(
        {
            "mlflow.runName": trained.version,
            "model_version_label": trained.version,
            "split_kind": split.kind,
            "split_reason": split.reason,
            "snapshots": trained.snapshots,
            "windows": windows_text(split),
        }
    )
    selection = trained.served.loc[split.mask("val")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mlflow's advisory UserWarnings
        info = log_training(
            params=config.flat() | {"split.kind": split.kind, "capacity": _chosen(result)},
            report=mlflow_report(trained, by_family),
            artefact_dir=packaged.artefact_dir.resolve(),
            plots=plots,
            catalogue=trained.catalogue,
            dataset=trained.frame.drop(columns=[C.CAUSE]),
            dataset_digest=packaged.spec["data_fingerprint"],
            dataset_source=str(inputs.source.resolve()),
        )
        run_id = None
        if report is not None:
            mlflow.log_text(report.read_text(encoding="utf-8"), REPORT_ARTIFACT)
            run_id = mlflow.active_run().info.run_id
        return register_and_promote(
            uri=resolve_tracking_uri(config.tracking.tracking_uri),
            registered_model=config.tracking.registered_model,
            model_uri=info.model_uri,
            artefact_dir=packaged.artefact_dir.resolve(),
            selection_features=selection,
            selection_label=selection[LABEL].to_numpy(),
            selection_groups=selection[C.ACCOUNT_ID].to_numpy(),
            eval_fingerprint=evaluation_fingerprint(
                selection[[C.ACCOUNT_ID, C.AS_OF]], selection[LABEL].to_numpy()
            ),
            horizon_months=config.horizon_months,
            description=description(trained, inputs, report_run=run_id),
            promotion=PromotionConfig(
                resamples=config.promotion.resamples,
                seed=config.seed,
                margin=config.promotion.margin,
                level=config.promotion.level,
            ),
            force=force,
        )


def _chosen(result: Any) -> str:
    return str(result.report["capacity"].get("chosen", "fixed"))
