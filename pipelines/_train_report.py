"""The model report of ``python -m pipelines.train``: gather the facts, write ``report.html``.

:func:`write_report` collects what one training knows (windows, selection and served-path
OOT figures, truth, top features, reason accuracy), renders the page with
:func:`risk_model.modeling.report.render_report` using the PNG figures already written by
the plots stage, and writes it beside the artefact as ``<out>/<version>-report.html``.
``pipelines._train_tracking`` logs the same file into the MLflow run as ``report.html``.

Reason accuracy is measured here, on the served path: the OOT account-months that closed
within the horizon with a recorded cause, with features built by the scoring path and the
merchant-risk table of the end of the train window (point in time for every OOT date), are
scored with reasons by the production model; the share whose top cause is the recorded
cause is reported per cause.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from risk_model import contract as C
from risk_model.modeling.dataset import LABEL, TRUTH_P

if TYPE_CHECKING:
    from pipelines.train import Packaged, Trained
    from risk_model.modeling.config import TrainConfig
    from risk_model.modeling.data_dir import Inputs
    from risk_model.modeling.report import ReportFacts

log = logging.getLogger("pipelines.train")

TOP_FEATURES = 15
REASON_ROWS_MAX = 20_000  # closed OOT rows explained at most (evenly spaced beyond that)
PARTS = (("train", "train"), ("val", "selection"), ("oot", "OOT"))


@dataclass(frozen=True)
class WrittenReport:
    """The report page on disk."""

    path: Path
    facts: ReportFacts


def report_path(artefact_dir: Path) -> Path:
    """``<out>/<version>-report.html``: beside the artefact and its plots folder."""
    return artefact_dir.parent / f"{artefact_dir.name}-report.html"


def _month(value: Any) -> str:
    """ISO date of an as-of value, spelled as the evaluation's per-month keys are."""
    return str(value)[:10]


def _windows(trained: Trained) -> list[dict[str, Any]]:
    split, y = trained.result.split, trained.frame[LABEL].to_numpy(dtype=np.float64)
    out = []
    for part, label in PARTS:
        months, mask = split.months.get(part, []), split.mask(part)
        out.append(
            {
                "part": label,
                "first": months[0] if months else "n/a",
                "last": months[-1] if months else "n/a",
                "months": len(months),
                "rows": int(mask.sum()),
                "positives": int(y[mask].sum()),
            }
        )
    return out


def _selection_truth(trained: Trained) -> dict[str, float] | None:
    from risk_model.modeling.metrics import evaluate

    rows = trained.served.loc[trained.result.split.mask("val")]
    if TRUTH_P not in rows or not np.isfinite(rows[TRUTH_P].to_numpy(dtype=np.float64)).all():
        return None
    return evaluate(rows[LABEL].to_numpy(dtype=np.float64), rows[TRUTH_P].to_numpy(np.float64))


def _monthly(trained: Trained) -> list[dict[str, Any]]:
    rows = trained.served.loc[trained.result.split.mask("oot")]
    frame = pd.DataFrame(
        {
            "month": [_month(v) for v in rows[C.AS_OF].to_numpy()],
            "y": rows[LABEL].to_numpy(dtype=np.float64),
            "p": trained.oot_scores["probability"].to_numpy(),
            "truth": rows[TRUTH_P].to_numpy(np.float64) if TRUTH_P in rows else np.nan,
        }
    )
    grouped = frame.groupby("month", sort=True)
    return [
        {
            "month": month,
            "rows": len(part),
            "base_rate": float(part["y"].mean()),
            "mean_p": float(part["p"].mean()),
            "mean_truth": float(part["truth"].mean()),
        }
        for month, part in grouped
    ]


def _positives_by_cause(trained: Trained) -> dict[str, int]:
    rows = trained.served.loc[trained.result.split.mask("oot")]
    causes = rows.loc[rows[LABEL] > 0, C.CAUSE].map(str)
    return {str(k): int(v) for k, v in causes.value_counts().sort_index().items()}


def _top_features(trained: Trained) -> list[dict[str, Any]]:
    result = trained.result
    gain = np.asarray(result.booster.feature_importance(importance_type="gain"), dtype=float)
    total = gain.sum()
    entry = {c["name"]: c for c in trained.catalogue}
    order = np.argsort(-gain, kind="stable")[:TOP_FEATURES]
    return [
        {
            "name": result.feature_names[i],
            "family": entry.get(result.feature_names[i], {}).get("family", ""),
            "cause": entry.get(result.feature_names[i], {}).get("cause", ""),
            "definition": entry.get(result.feature_names[i], {}).get("definition", ""),
            "gain_share": float(gain[i] / total) if total > 0 else float("nan"),
        }
        for i in order
        if gain[i] > 0
    ]


def reason_accuracy(trained: Trained, packaged: Packaged) -> tuple[dict[str, Any] | None, str]:
    """Top cause of the reasons vs recorded cause on the closed OOT rows (served features).

    Returns
    -------
    tuple
        The measurement (``rows``, ``match``, ``confusion``, ``how``) or ``None``, and why
        it is missing when it is.
    """
    from pipelines.evaluate_reasons import confusion
    from risk_model.predict import Predictor

    served = trained.served
    closed = trained.result.split.mask("oot") & (served[LABEL].to_numpy() > 0)
    closed &= served[C.CAUSE].isin(C.CAUSES).to_numpy()
    rows = served.loc[closed]
    if rows.empty:
        return None, "no OOT closure with a recorded cause"
    note = ""
    if len(rows) > REASON_ROWS_MAX:
        step = -(-len(rows) // REASON_ROWS_MAX)
        rows, note = rows.iloc[::step], f" (every {step}th of them)"
    predictor = Predictor(packaged.artefact, num_threads=trained.result.model_config.num_threads)
    scores = predictor.score_features(rows, reasons="all")
    top = pd.Series(scores["top_cause"].to_pylist(), index=rows.index, dtype=object)
    table, match = confusion(rows[C.CAUSE].astype(str), top)
    how = (
        f"The OOT account-months that closed within the horizon with a recorded cause"
        f"{note}, with features built by the scoring path and the merchant-risk table of "
        f"{trained.evaluation.get('table_as_of', 'n/a')} (point in time for every OOT date), "
        "scored with reasons for every row by this model."
    )
    return {
        "rows": len(rows),
        "match": {str(k): float(v) for k, v in match.items()},
        "confusion": {
            str(cause): {str(t): int(n) for t, n in counts.items()}
            for cause, counts in table.T.to_dict().items()
        },
        "how": how,
    }, ""


def report_facts(
    trained: Trained,
    packaged: Packaged,
    by_family: dict[str, float],
    config: TrainConfig,
    inputs: Inputs,
    run_id: str | None,
) -> ReportFacts:
    """Everything the report states about this training."""
    from risk_model.modeling.report import ReportFacts

    result = trained.result
    accuracy, why = reason_accuracy(trained, packaged)
    return ReportFacts(
        version=trained.version,
        created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        data={
            "source": str(inputs.source),
            "accounts": inputs.histories.num_rows,
            "closures": inputs.closures.num_rows,
            "truth": inputs.truth is not None,
            "snapshots": trained.snapshots,
            "snapshot_rows": len(trained.frame),
            "horizon_months": config.horizon_months,
            "features_used": len(result.feature_names),
            "features_excluded": result.report["features"]["excluded"],
            "seed": config.seed,
        },
        split={
            "kind": result.split.kind,
            "reason": result.split.reason,
            "gap_months": result.split.gap_months,
        },
        windows=_windows(trained),
        model={
            "capacity": result.report["capacity"].get("chosen", "fixed (search off)"),
            "best_iteration": result.report["best_iteration"],
            "calibration": result.report["calibration"].get("method"),
            "calibration_cv_log_loss": result.report["calibration"].get("cv_log_loss") or {},
        },
        selection=result.report["selection"],
        selection_truth=_selection_truth(trained),
        evaluation=trained.evaluation,
        monthly=_monthly(trained),
        positives_by_cause=_positives_by_cause(trained),
        top_features=_top_features(trained),
        families=by_family,
        reason_accuracy=accuracy,
        reason_note=why or "not measured in this training",
        production_table_as_of=packaged.spec.get("merchant_risk_as_of"),
        run_id=run_id,
        bands=_bands(trained, packaged),
    )


def _bands(trained: Trained, packaged: Packaged) -> dict:
    """Return the artefact's band edges and the OOT rows in each band."""
    from risk_model.modeling.bands import band_table

    scale = packaged.artefact.scale
    oot = trained.result.split.mask("oot")
    table = band_table(
        scale,
        trained.oot_scores["probability"].to_numpy(),
        trained.served.loc[oot, LABEL].to_numpy(dtype=np.float64),
    )
    return {"note": scale.band_note(), "table": table}


def write_report(
    trained: Trained,
    packaged: Packaged,
    plots: list[Path],
    by_family: dict[str, float],
    config: TrainConfig,
    inputs: Inputs,
    *,
    tracked: bool,
) -> WrittenReport:
    """Render the model report and write it to ``<out>/<version>-report.html``."""
    from risk_model.modeling.report import render_report

    run_id = None
    if tracked:
        import mlflow

        run = mlflow.active_run()
        run_id = run.info.run_id if run is not None else None
    facts = report_facts(trained, packaged, by_family, config, inputs, run_id)
    page = render_report(facts, {p.stem: p.read_bytes() for p in plots})
    path = report_path(packaged.artefact_dir)
    path.write_text(page, encoding="utf-8")
    log.info("model report: %s (%d kB)", path, len(page.encode()) // 1024)
    return WrittenReport(path, facts)
