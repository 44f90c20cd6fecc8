"""The out-of-time report: the one place the OOT window is looked at.

Nothing chosen during training reads these figures (capacity, trees, calibration and
promotion are chosen on the selection window). The primary figures are those of the
*served* path: OOT rows built by the scoring path and scored by the predictor, exactly as a
user would get them. The same rows scored from training-mode features are reported beside
them, so the gap between the two (the cost of freezing the merchant-risk table) is visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from risk_model.modeling.metrics import decile_table, distinct_per_10k, evaluate, oot_report

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from risk_model.modeling.train import TrainResult


def oot_evaluation(
    y: np.ndarray,
    prob: np.ndarray,
    *,
    period: np.ndarray,
    cause: np.ndarray,
    prob_train: np.ndarray,
    raw: np.ndarray | None = None,
    prob_training_mode: np.ndarray | None = None,
    truth: np.ndarray | None = None,
) -> dict[str, Any]:
    """OOT report of the served probabilities, with the side figures.

    Parameters
    ----------
    y : numpy.ndarray
        0/1 labels of the OOT rows.
    prob : numpy.ndarray
        Served probabilities (scoring path) of the same rows.
    period, cause : numpy.ndarray
        As-of date and closure cause per row.
    prob_train : numpy.ndarray
        Probabilities of the train rows (reference of the PSI).
    raw : numpy.ndarray, optional
        Served raw scores (for the number of distinct raw values).
    prob_training_mode : numpy.ndarray, optional
        The same rows scored from training-mode features.
    truth : numpy.ndarray, optional
        True closure probabilities of the rows (synthetic data).

    Returns
    -------
    dict
        ``oot`` (served), ``oot_deciles``, ``distinct``, and when given
        ``oot_training_mode``, ``truth`` and ``gini_ratio``.
    """
    report: dict[str, Any] = {
        "oot": oot_report(y, prob, period=period, cause=cause, p_reference=prob_train),
        "oot_deciles": decile_table(y, prob).to_dict(orient="records"),
        "distinct": {
            "probabilities_per_10k": distinct_per_10k(prob),
            "raw_scores_per_10k": float("nan") if raw is None else distinct_per_10k(raw),
        },
    }
    if prob_training_mode is not None:
        report["oot_training_mode"] = evaluate(y, prob_training_mode)
    if truth is not None and np.isfinite(truth).all():
        report["truth"] = oot_report(y, truth, period=period, cause=cause)
        report["gini_ratio"] = report["oot"]["metrics"]["gini"] / report["truth"]["metrics"]["gini"]
    return report


PSI_REFERENCE_ROWS = 50_000  # train rows scored as the PSI reference: plenty for 10 bins


def _psi_reference(train: np.ndarray) -> np.ndarray:
    """Return a fixed, evenly spaced subset of the train rows (all of them when few)."""
    rows = np.flatnonzero(train)
    step = max(1, len(rows) // PSI_REFERENCE_ROWS)
    mask = np.zeros_like(train)
    mask[rows[::step]] = True
    return mask


def evaluate_served(
    result: TrainResult,
    *,
    frame: pd.DataFrame,
    served: pd.DataFrame,
    spec: dict[str, Any],
    table: pa.Table,
) -> tuple[dict[str, Any], pa.Table]:
    """Score the OOT rows through the predictor of the evaluation artefact; report them.

    Parameters
    ----------
    result : TrainResult
        The fitted model (:func:`risk_model.modeling.train.train_model`).
    frame, served : pandas.DataFrame
        Training-mode and served snapshot rows (same keys, same order).
    spec : dict
        The model's spec (no evaluation yet).
    table : pyarrow.Table
        Merchant-risk table fitted at the end of the train window.

    Returns
    -------
    report : dict
        :func:`oot_evaluation` output.
    scores : pyarrow.Table
        The predictor's output for the OOT rows (probability, points, band, ...).
    """
    from risk_model.modeling.dataset import LABEL, TRUTH_P
    from risk_model.modeling.package import in_memory_artefact
    from risk_model.predict import Predictor

    split, names = result.split, result.feature_names
    oot, train = split.mask("oot"), split.mask("train")
    threads = result.model_config.num_threads
    artefact = in_memory_artefact(result.booster, spec, table)
    # Scored without reasons: the TreeSHAP tables would be built for nothing.
    predictor = Predictor(artefact, num_threads=threads, prepare_reasons=False)
    rows = served.loc[oot]
    scores = predictor.score_features(rows, reasons="none")
    report = oot_evaluation(
        rows[LABEL].to_numpy(dtype=np.float64),
        scores["probability"].to_numpy(),
        period=rows["as_of"].to_numpy(),
        cause=rows["cause"].to_numpy(),
        prob_train=result.predict_proba(
            frame.loc[_psi_reference(train), names].to_numpy(), num_threads=threads
        ),
        raw=artefact.predict_raw(artefact.matrix(rows), num_threads=threads),
        prob_training_mode=result.predict_proba(
            frame.loc[oot, names].to_numpy(), num_threads=threads
        ),
        truth=rows[TRUTH_P].to_numpy(dtype=np.float64) if TRUTH_P in rows else None,
    )
    return report, scores
