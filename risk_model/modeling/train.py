"""Fit the LightGBM closure model and calibrate it: the steps that *choose*.

Three windows, three jobs (see :mod:`risk_model.modeling.split`): the **train** window fits
the trees; the **selection** window chooses everything that is chosen (capacity, number of
trees by early stopping, the calibration map; champion/challenger happens later on the same
rows); the **out-of-time** window is not seen here at all: it is scored once, for the
report, by :mod:`risk_model.modeling.evaluation`.

Selection rows are given as the *served* features (built by the scoring path with a
merchant-risk table fitted at the end of the train window), so early stopping and
calibration see what scoring will see; train rows are the training-mode features.

Imbalance is handled by *not* reweighting: the binary log-loss objective on the natural
class mix keeps raw scores close to calibrated log-odds (a reweighted model's
probabilities are inflated by the weight and must be undone), rare positives are still
learnt because the trees split on gradients, and the calibration map fitted on the
selection window corrects what is left. Ranking (AUC/Gini) is unaffected by a monotone
reweighting of probabilities, so ``scale_pos_weight`` would buy nothing here.

Training is reproducible: ``deterministic=True, force_row_wise=True`` and fixed seeds
(``seed``, ``bagging_seed``, ``feature_fraction_seed``, ``data_random_seed``) give
byte-identical text models for the same data and configuration.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from risk_model import contract as C
from risk_model.modeling import capacity
from risk_model.modeling.binned import BinnedRows
from risk_model.modeling.calibration import Calibrator, fit_calibrator
from risk_model.modeling.config import ModelConfig, TrainConfig
from risk_model.modeling.dataset import LABEL
from risk_model.modeling.metrics import evaluate
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
    data: BinnedRows,
    *,
    config: ModelConfig,
    seed: int,
    monotone: Sequence[int] | None = None,
    callbacks: Sequence[Callable[..., None]] = (),
) -> lgb.Booster:
    """Train on binned training rows with early stopping on the binned selection rows.

    ``data`` must be binned with this fit's rows per leaf (:class:`BinnedRows`);
    ``callbacks`` are extra LightGBM callbacks (e.g. a caller's progress display).

    Returns
    -------
    lightgbm.Booster
        A booster holding only the best iteration's trees; ``best_score`` keeps the
        selection log loss of that iteration under ``["selection"]["binary_logloss"]``.
    """
    booster = lgb.train(
        lgb_params(config, seed, monotone),
        data.train,
        num_boost_round=config.num_boost_round,
        valid_sets=[data.selection],
        valid_names=["selection"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False), *callbacks],
    )
    best = booster.best_iteration or booster.current_iteration()
    kept = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    kept.best_score = booster.best_score
    return kept


@dataclass
class TrainResult:
    """What the choosing steps produced (in memory); nothing here has seen the OOT window.

    Attributes
    ----------
    booster : lightgbm.Booster
        Model (best iteration).
    calibrator : Calibrator
        Map from raw log-odds to probability, fitted on the selection window.
    split : Split
        Row assignment (train / selection / OOT / gap).
    model_config : ModelConfig
        Parameters of the final fit (capacity as chosen).
    report : dict
        ``selection`` metrics, ``capacity`` search, ``best_iteration``, ``split``,
        ``calibration`` and ``features`` (JSON-ready).
    timings : dict
        Seconds per step (split, capacity search, fit, calibrate).
    feature_names : list of str
        Model columns (catalogue order, exclusions removed).
    transforms : dict
        Fills and clips applied to the inputs (stored in the spec).
    """

    booster: lgb.Booster
    calibrator: Calibrator
    split: Split
    model_config: ModelConfig
    report: dict[str, Any]
    timings: dict[str, float]
    feature_names: list[str]
    transforms: dict[str, dict[str, float]]

    def predict_proba(self, x: np.ndarray, *, num_threads: int = 1) -> np.ndarray:
        """Calibrated probabilities of a feature matrix (model order, untransformed)."""
        x = apply_transforms(np.asarray(x, dtype=np.float32), self.feature_names, self.transforms)
        raw = self.booster.predict(x, raw_score=True, num_threads=num_threads)
        return self.calibrator(np.asarray(raw))


def split_rows(frame: pd.DataFrame, config: TrainConfig) -> Split:
    """Assign every snapshot row to train, selection, OOT or gap; both classes in each part."""
    y = frame[LABEL].to_numpy(dtype=np.float64)
    split = make_split(
        frame[C.AS_OF].to_numpy(),
        frame[C.ACCOUNT_ID].to_numpy(),
        y,
        config.split,
        horizon_months=config.horizon_months,
        seed=config.seed,
    )
    for name in ("train", "val", "oot"):
        mask = split.mask(name)
        if mask.sum() == 0 or y[mask].min() == y[mask].max():
            part = "selection" if name == "val" else name
            raise ValueError(f"the {part} part needs rows of both classes ({split.reason})")
    return split


def fit_model(
    x_train: np.ndarray,
    y_train: np.ndarray,
    groups_train: np.ndarray,
    x_sel: np.ndarray,
    y_sel: np.ndarray,
    *,
    feature_names: Sequence[str],
    monotone: Sequence[int] | None,
    config: TrainConfig,
    callbacks: Sequence[Callable[..., None]] = (),
) -> tuple[lgb.Booster, ModelConfig, dict[str, Any], float]:
    """Choose the capacity on the selection rows, then fit it on every training row.

    ``callbacks`` (LightGBM callbacks) are passed to every fit, search fits included.

    Returns
    -------
    tuple
        The booster, the model configuration used, the capacity report and the seconds
        the search took.
    """
    # Rows binned once serve every fit with the same rows and rows per leaf (BinnedRows):
    # the six search fits bin their sample three times, not six.
    binned: dict[tuple[bool, int], BinnedRows] = {}

    def fit(rows: np.ndarray | None, model: ModelConfig) -> tuple[lgb.Booster, float]:
        key = (rows is None, model.min_data_in_leaf)
        if key not in binned:
            x, y = (x_train, y_train) if rows is None else (x_train[rows], y_train[rows])
            binned[key] = BinnedRows.of(
                x,
                y,
                x_sel,
                y_sel,
                feature_names=feature_names,
                params=lgb_params(model, config.seed, monotone),
            )
        booster = fit_booster(
            binned[key], config=model, seed=config.seed, monotone=monotone, callbacks=callbacks
        )
        return booster, capacity.selection_log_loss(booster)

    model, report, search_seconds = config.model, {"searched": False, "trials": []}, 0.0
    if model.capacity_search:
        chosen, trials = capacity.search(
            fit,
            y_train,
            groups_train,
            config=model,
            grid=capacity.candidates(),
            search_rows=model.search_rows,
            learning_rate=model.search_learning_rate,
            seed=config.seed,
        )
        model = chosen.apply(model, len(y_train))
        sample = capacity.search_sample(groups_train, model.search_rows, config.seed)
        report = {
            "searched": True,
            "chosen": chosen.label(),
            "search_rows": int(sample.sum()),
            "trials": [t.to_dict() for t in trials],
        }
        search_seconds = sum(t.seconds for t in trials)
        binned.clear()  # the search's binned samples are not needed again
    booster, loss = fit(None, model)
    report |= {
        "selection_log_loss": loss,
        "max_depth": model.max_depth,
        "num_leaves": model.num_leaves,
        "min_data_in_leaf": model.min_data_in_leaf,
    }
    return booster, model, report, search_seconds


def calibrate(
    booster: lgb.Booster,
    x_sel: np.ndarray,
    y_sel: np.ndarray,
    *,
    accounts: np.ndarray,
    months: np.ndarray,
    config: TrainConfig,
) -> tuple[Calibrator, np.ndarray]:
    """Fit the calibration map on the selection rows (see :mod:`.calibration`).

    Returns
    -------
    tuple
        The calibrator and the selection rows' raw scores.
    """
    threads = config.model.num_threads
    raw_sel = np.asarray(booster.predict(x_sel, raw_score=True, num_threads=threads))
    calibrator = fit_calibrator(
        raw_sel,
        y_sel,
        method=config.calibration.method,
        groups=accounts,
        folds=config.calibration.folds,
        seed=config.seed,
        months=months if config.calibration.folds_by == "month" else None,
    )
    return calibrator, raw_sel


def train_model(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    catalogue: list[dict[str, Any]],
    config: TrainConfig,
    *,
    served: pd.DataFrame | None = None,
    split: Split | None = None,
    callbacks: Sequence[Callable[..., None]] = (),
) -> TrainResult:
    """Split, choose the capacity, fit and calibrate; the OOT window is left untouched.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training-mode snapshot rows: account_id, as_of, feature columns, ``label``,
        ``cause`` (and optionally ``truth_p_close``).
    feature_names : sequence of str
        Model columns in order.
    catalogue : list of dict
        Feature catalogue (for monotone directions).
    config : TrainConfig
        Resolved configuration.
    served : pandas.DataFrame, optional
        The same rows with features built by the scoring path (same keys in the same
        order as ``frame``); its selection rows drive early stopping and calibration.
        ``None`` uses ``frame`` (right only for features without population statistics).
    split : Split, optional
        Row assignment of ``frame``; computed by :func:`split_rows` when omitted.
    callbacks : sequence of callable, optional
        Extra LightGBM callbacks given to every fit (capacity search and final fit), e.g.
        the training pipeline's progress display; the library itself shows nothing.

    Returns
    -------
    TrainResult
        Model, calibration, split and the selection report.
    """
    names = [n for n in feature_names if n not in set(config.features.exclude)]
    transforms, ignored = resolve_transforms(
        config.features.transforms(config.horizon_months), names
    )
    served = frame if served is None else served
    if len(served) != len(frame) or not served[C.ACCOUNT_ID].equals(frame[C.ACCOUNT_ID]):
        raise ValueError("served rows must have the same keys in the same order as frame")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    split = split_rows(frame, config) if split is None else split
    train, sel = split.mask("train"), split.mask("val")
    y = frame[LABEL].to_numpy(dtype=np.float64)
    x_train = apply_transforms(frame.loc[train, names].to_numpy(np.float32), names, transforms)
    x_sel = apply_transforms(served.loc[sel, names].to_numpy(np.float32), names, transforms)
    accounts = frame[C.ACCOUNT_ID].to_numpy()
    monotone = monotone_directions(names, catalogue) if config.model.monotone else None
    timings["split"], clock = time.perf_counter() - clock, time.perf_counter()
    booster, model, capacity_report, search_seconds = fit_model(
        x_train,
        y[train],
        accounts[train],
        x_sel,
        y[sel],
        feature_names=names,
        monotone=monotone,
        config=config,
        callbacks=callbacks,
    )
    timings["capacity search"] = search_seconds
    timings["fit"] = time.perf_counter() - clock - search_seconds
    clock = time.perf_counter()
    calibrator, raw_sel = calibrate(
        booster,
        x_sel,
        y[sel],
        accounts=accounts[sel],
        months=frame.loc[sel, C.AS_OF].to_numpy(),
        config=config,
    )
    timings["calibrate"] = time.perf_counter() - clock
    report: dict[str, Any] = {
        "best_iteration": booster.current_iteration(),
        "capacity": capacity_report,
        "selection": evaluate(y[sel], calibrator(raw_sel)),
        "split": split.summary(),
        "calibration": {"method": calibrator.method, "cv_log_loss": calibrator.cv_log_loss},
        "features": {
            "used": len(names),
            "excluded": sorted(set(feature_names) - set(names)),
            "transforms_ignored_unknown": ignored,
        },
    }
    return TrainResult(booster, calibrator, split, model, report, timings, names, transforms)
