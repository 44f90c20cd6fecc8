"""The summary table ``python -m pipelines.train`` prints at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines._train_tracking import windows_text

if TYPE_CHECKING:
    from pipelines.train import Packaged, Trained
    from risk_model.modeling.config import TrainConfig


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "nan" if np.isnan(value) else f"{value:.4f}"
    return str(value)


def render(rows: list[tuple[str, object]]) -> str:
    """Two aligned columns between rules."""
    width = max(len(k) for k, _ in rows)
    lines = ["", "=" * (width + 40), "closure-risk training summary", "-" * (width + 40)]
    lines += [f"{k:<{width}}  {_fmt(v)}" for k, v in rows]
    lines.append("=" * (width + 40))
    return "\n".join(lines)


def _model_rows(trained: Trained) -> list[tuple[str, object]]:
    result = trained.result
    split = result.split
    return [
        ("split", f"{split.kind} ({split.reason})"),
        ("windows", windows_text(split)),
        (
            "rows train/selection/OOT",
            "/".join(str(split.mask(p).sum()) for p in ("train", "val", "oot")),
        ),
        (
            "capacity (chosen on selection)",
            result.report["capacity"].get("chosen", "fixed (search off)"),
        ),
        ("best iteration", result.report["best_iteration"]),
        ("calibration", result.calibrator.method),
        ("selection log loss", result.report["selection"]["log_loss"]),
    ]


def _oot_rows(evaluation: dict[str, Any]) -> list[tuple[str, object]]:
    served = evaluation["oot"]
    metrics = served["metrics"]
    rows: list[tuple[str, object]] = [
        ("OOT scored with merchant table of", evaluation["table_as_of"]),
        ("OOT base rate", metrics["base_rate"]),
        ("OOT mean probability", metrics["mean_p"]),
        ("OOT AUC", metrics["auc"]),
        ("OOT Gini", metrics["gini"]),
        ("OOT Gini, training-mode features", evaluation["oot_training_mode"]["gini"]),
        ("OOT KS", metrics["ks"]),
        ("OOT ECE", metrics["ece"]),
        ("OOT ECE / base rate", metrics["ece_to_base_rate"]),
        ("OOT capture top 10%", metrics["capture_top10"]),
        ("OOT distinct probabilities / 10k", evaluation["distinct"]["probabilities_per_10k"]),
        ("OOT distinct raw scores / 10k", evaluation["distinct"]["raw_scores_per_10k"]),
        ("OOT Gini slope / month", served["gini_slope"]),
        ("PSI train -> OOT", served["psi"]),
    ]
    if "truth" in evaluation:
        truth = evaluation["truth"]
        rows += [
            ("truth Gini (same rows)", truth["metrics"]["gini"]),
            ("Gini model / truth", evaluation["gini_ratio"]),
        ]
        rows += [
            (f"Gini {cause}: model / truth", f"{value:.3f} / {truth['gini_by_cause'][cause]:.3f}")
            for cause, value in served["gini_by_cause"].items()
        ]
    return rows


def _registry_rows(outcome: Any, config: TrainConfig) -> list[tuple[str, object]]:
    if outcome is None:
        return [("MLflow", "off (--no-tracking)")]
    from risk_model.modeling.tracking import resolve_tracking_uri, ui_command

    champ = outcome.champion_gini
    compared = not np.isnan(champ)
    return [
        ("MLflow run id", outcome.run_id),
        ("registered", f"{config.tracking.registered_model} v{outcome.version}"),
        ("alias", f"{outcome.alias} ({outcome.reason})"),
        (
            "selection Gini new / champion",
            f"{outcome.new_gini:.4f} / {champ:.4f}" if compared else "no comparison",
        ),
        ("MLflow UI", ui_command(resolve_tracking_uri(config.tracking.tracking_uri))),
    ]


def summary_rows(
    seconds: dict[str, float],
    trained: Trained,
    packaged: Packaged,
    outcome: Any,
    config: TrainConfig,
) -> list[tuple[str, object]]:
    """Every row of the summary: times, windows, served-path OOT figures, artefact, registry."""
    rows: list[tuple[str, object]] = [(f"time {k} (s)", v) for k, v in seconds.items()]
    rows.append(("time total (s)", sum(seconds.values())))  # train steps run outside stages
    rows += _model_rows(trained) + _oot_rows(trained.evaluation)
    rows += [("artefact", str(packaged.artefact_dir)), ("latest copy", str(packaged.latest))]
    return rows + _registry_rows(outcome, config)
