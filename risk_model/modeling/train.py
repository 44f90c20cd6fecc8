"""Fit the LightGBM closure model, calibrate it and evaluate it out of time.

Imbalance is handled by *not* reweighting: the binary log-loss objective on the natural
class mix keeps raw scores close to calibrated log-odds (a reweighted model's
probabilities are inflated by the weight and must be undone), rare positives are still
learnt because the trees split on gradients, and the calibration map fitted on the
validation window corrects what is left. Ranking (AUC/Gini) is unaffected by a monotone
reweighting of probabilities, so ``scale_pos_weight`` would buy nothing here.

Training is reproducible: ``deterministic=True, force_row_wise=True`` and fixed seeds
(``seed``, ``bagging_seed``, ``feature_fraction_seed``, ``data_random_seed``) give
byte-identical text models for the same data and configuration.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from risk_model import contract as C
from risk_model.modeling.calibration import Calibrator, fit_calibrator
from risk_model.modeling.config import ModelConfig, TrainConfig
from risk_model.modeling.dataset import LABEL, TRUTH_P
from risk_model.modeling.metrics import decile_table, oot_report
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.split import Split, make_split
from risk_model.modeling.transforms import apply_transforms, resolve_transforms


def catalogue_records(specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Feature catalogue as JSON-ready dicts (dataclass, NamedTuple or dict items)."""
    out = []
    for spec in specs:
        if dataclasses.is_dataclass(spec):
            record = dataclasses.asdict(spec)
        elif hasattr(spec, "_asdict"):
            record = dict(spec._asdict())
        else:
            record = dict(spec)
        out.append(
            {
                k: (v if isinstance(v, int | float | str | None) else str(v))
                for k, v in record.items()
            }
        )
    return out


def monotone_directions(feature_names: Sequence[str], catalogue: list[dict[str, Any]]) -> list[int]:
    """Direction (-1/0/+1) per feature from the catalogue; 0 where not catalogued."""
    direction = {c["name"]: int(c.get("direction", 0) or 0) for c in catalogue}
    return [int(np.sign(direction.get(name, 0))) for name in feature_names]


def lgb_params(config: ModelConfig, seed: int, monotone: Sequence[int] | None) -> dict[str, Any]:
    """LightGBM parameters for a deterministic binary model."""
    params: dict[str, Any] = {
        "objective": "binary",
        "metric": ["binary_logloss"],
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "max_bin": config.max_bin,
        "num_threads": config.num_threads,
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "bagging_seed": seed,
        "feature_fraction_seed": seed,
        "data_random_seed": seed,
        "verbose": -1,
    }
    if monotone is not None and any(monotone):
        params["monotone_constraints"] = list(monotone)
        params["monotone_constraints_method"] = "advanced"
    return params


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    feature_names: Sequence[str],
    config: ModelConfig,
    seed: int,
    monotone: Sequence[int] | None = None,
) -> lgb.Booster:
    """Train with early stopping on the validation rows.

    Returns
    -------
    lightgbm.Booster
        A booster holding only the best iteration's trees.
    """
    params = lgb_params(config, seed, monotone)
    names = list(feature_names)
    train_set = lgb.Dataset(x_train, label=y_train, feature_name=names, free_raw_data=True)
    val_set = lgb.Dataset(x_val, label=y_val, reference=train_set, feature_name=names)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.num_boost_round,
        valid_sets=[val_set],
        valid_names=["val"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


@dataclass
class TrainResult:
    """Everything a training run produced (in memory).

    Attributes
    ----------
    booster : lightgbm.Booster
        Model (best iteration).
    calibrator : Calibrator
        Map from raw log-odds to probability.
    split : Split
        Row assignment.
    scored : pandas.DataFrame
        account_id, as_of, label, cause, part, raw, prob, points (and truth_p_close).
    report : dict
        ``oot`` report for the model, ``truth`` report on the same rows (if truth),
        ``gini_ratio``, ``val`` metrics, ``best_iteration``.
    timings : dict
        Seconds per stage (split, fit, calibrate, evaluate).
    feature_names : list of str
        Model columns (catalogue order, exclusions removed).
    transforms : dict
        Fills and clips applied to the inputs (stored in the spec).
    """

    booster: lgb.Booster
    calibrator: Calibrator
    split: Split
    scored: pd.DataFrame
    report: dict[str, Any]
    timings: dict[str, float]
    feature_names: list[str]
    transforms: dict[str, dict[str, float]]


def train_model(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    catalogue: list[dict[str, Any]],
    config: TrainConfig,
) -> TrainResult:
    """Split, fit, calibrate and evaluate on a labelled snapshot frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        account_id, as_of, feature columns, ``label``, ``cause`` and optionally
        ``truth_p_close``.
    feature_names : sequence of str
        Model columns in order.
    catalogue : list of dict
        Feature catalogue (for monotone directions).
    config : TrainConfig
        Resolved configuration.

    Returns
    -------
    TrainResult
        Model, calibration, split, scored rows and the evaluation report.
    """
    names = [n for n in feature_names if n not in set(config.features.exclude)]
    transforms, ignored = resolve_transforms(config.features.transforms(), names)
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    y = frame[LABEL].to_numpy(dtype=np.float64)
    split = make_split(
        frame[C.AS_OF].to_numpy(),
        frame[C.ACCOUNT_ID].to_numpy(),
        y,
        config.split,
        horizon_months=config.horizon_months,
        seed=config.seed,
    )
    train, val, oot = split.mask("train"), split.mask("val"), split.mask("oot")
    for name, mask in (("train", train), ("val", val), ("oot", oot)):
        if mask.sum() == 0 or y[mask].min() == y[mask].max():
            raise ValueError(f"the {name} part needs rows of both classes ({split.reason})")
    x = apply_transforms(frame[names].to_numpy(dtype=np.float32), names, transforms)
    lap("split")
    monotone = monotone_directions(names, catalogue) if config.model.monotone else None
    booster = fit_booster(
        x[train],
        y[train],
        x[val],
        y[val],
        feature_names=names,
        config=config.model,
        seed=config.seed,
        monotone=monotone,
    )
    lap("fit")
    threads = config.model.num_threads
    raw = np.asarray(booster.predict(x, raw_score=True, num_threads=threads))
    calibrator = fit_calibrator(
        raw[val],
        y[val],
        method=config.calibration.method,
        groups=frame[C.ACCOUNT_ID].to_numpy()[val],
        folds=config.calibration.folds,
        seed=config.seed,
    )
    prob = calibrator(raw)
    lap("calibrate")
    scale = ScoreScale.from_config(config.scale)
    keep = [C.ACCOUNT_ID, C.AS_OF, LABEL, C.CAUSE] + ([TRUTH_P] if TRUTH_P in frame else [])
    scored = frame[keep].copy()
    scored["part"] = np.select([train, val, oot], ["train", "val", "oot"], "gap")
    scored["raw"], scored["prob"], scored["points"] = raw, prob, scale.points(prob)

    period = frame[C.AS_OF].to_numpy()
    cause = frame[C.CAUSE].to_numpy()
    report: dict[str, Any] = {
        "best_iteration": booster.current_iteration(),
        "oot": oot_report(
            y[oot], prob[oot], period=period[oot], cause=cause[oot], p_reference=prob[train]
        ),
        "oot_deciles": decile_table(y[oot], prob[oot]).to_dict(orient="records"),
        "val": oot_report(y[val], prob[val], period=period[val])["metrics"],
        "split": split.summary(),
        "calibration": {"method": calibrator.method, "cv_log_loss": calibrator.cv_log_loss},
        "features": {
            "used": len(names),
            "excluded": sorted(set(feature_names) - set(names)),
            "transforms_ignored_unknown": ignored,
        },
    }
    if TRUTH_P in frame and frame.loc[oot, TRUTH_P].notna().all():
        truth = frame[TRUTH_P].to_numpy(dtype=np.float64)
        report["truth"] = oot_report(y[oot], truth[oot], period=period[oot], cause=cause[oot])
        report["gini_ratio"] = report["oot"]["metrics"]["gini"] / report["truth"]["metrics"]["gini"]
    lap("evaluate")
    return TrainResult(booster, calibrator, split, scored, report, timings, names, transforms)
