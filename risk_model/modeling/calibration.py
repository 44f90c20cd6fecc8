"""Probability calibration of raw LightGBM log-odds, stored as plain numbers.

Two maps are available:

* ``sigmoid`` (Platt scaling on the raw log-odds): ``p = 1 / (1 + exp(-(a * raw + b)))``.
* ``isotonic``: a non-decreasing step map given by knots ``x`` (raw log-odds) and ``y``
  (probabilities), applied by linear interpolation between knots and held flat beyond.

``method="auto"`` chooses between them by *cross-fitted* validation log loss: the
validation rows are split into ``folds`` folds grouped by account (an account's months
stay together), each map is fitted on the other folds and scored on the held-out one,
and the map with the lower out-of-fold log loss is then refitted on all validation rows.
This keeps the choice out of sample; the final map itself uses every validation row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from risk_model.modeling.metrics import log_loss

PROB_CLIP = 1e-6
METHODS = ("sigmoid", "isotonic")


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map.

    Parameters
    ----------
    method : str
        ``sigmoid`` or ``isotonic``.
    params : dict
        ``{"a": float, "b": float}`` for sigmoid; ``{"x": [...], "y": [...]}`` for isotonic.
    cv_log_loss : dict
        Out-of-fold validation log loss per candidate method (empty when not compared).
    """

    method: str
    params: dict[str, Any]
    cv_log_loss: dict[str, float]

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Map raw log-odds to probabilities clipped to ``[1e-6, 1 - 1e-6]``."""
        return apply_calibration(self.to_dict(), raw)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in ``spec.json``."""
        return {"method": self.method, "cv_log_loss": dict(self.cv_log_loss), **self.params}


def apply_calibration(spec: dict[str, Any], raw: np.ndarray) -> np.ndarray:
    """Apply a calibration map given as its ``spec.json`` dict.

    Parameters
    ----------
    spec : dict
        Output of :meth:`Calibrator.to_dict`.
    raw : numpy.ndarray
        Raw log-odds.

    Returns
    -------
    numpy.ndarray
        Probabilities.
    """
    raw = np.asarray(raw, dtype=np.float64)
    method = spec.get("method")
    if method == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-(float(spec["a"]) * raw + float(spec["b"]))))
    elif method == "isotonic":
        p = np.interp(raw, np.asarray(spec["x"], float), np.asarray(spec["y"], float))
    else:
        raise ValueError(f"unknown calibration method {method!r}")
    return np.clip(p, PROB_CLIP, 1 - PROB_CLIP)


def _fit(method: str, raw: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    # scikit-learn is imported only to fit: scoring imports this module for
    # apply_calibration and should not pay scikit-learn's ~0.7 s import.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method == "sigmoid":
        # Nearly unpenalised logistic regression on one feature = Platt scaling.
        model = LogisticRegression(C=1e6, max_iter=1000)
        model.fit(raw.reshape(-1, 1), y)
        return {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(raw, y)
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def _fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold per row, assigning whole groups (accounts) to folds at random (seeded)."""
    uniques, inverse = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    group_fold = rng.permutation(len(uniques)) % folds
    return group_fold[inverse]


def fit_calibrator(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "auto",
    groups: np.ndarray | None = None,
    folds: int = 2,
    seed: int = 0,
) -> Calibrator:
    """Fit a calibration map on validation log-odds and labels.

    Parameters
    ----------
    raw : numpy.ndarray
        Raw log-odds of the validation rows.
    y : numpy.ndarray
        0/1 labels.
    method : str
        ``auto``, ``sigmoid`` or ``isotonic``.
    groups : numpy.ndarray, optional
        Group (account) per row for the cross-fitted choice; rows are their own group
        when omitted.
    folds : int
        Number of folds for ``auto``.
    seed : int
        Seed for the fold assignment.

    Returns
    -------
    Calibrator
        The fitted map, with the out-of-fold log loss per method when ``auto``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if raw.shape != y.shape or raw.ndim != 1:
        raise ValueError("raw and y must be 1-d of equal length")
    if y.min() == y.max():
        raise ValueError("calibration needs both classes in the validation rows")
    if method not in (*METHODS, "auto"):
        raise ValueError(f"method must be auto, sigmoid or isotonic, got {method!r}")
    scores: dict[str, float] = {}
    if method == "auto":
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        fold = _fold_of(groups, folds, seed)
        for candidate in METHODS:
            oof = np.empty_like(raw)
            for k in range(folds):
                held = fold == k
                fit_y = y[~held]
                if fit_y.min() == fit_y.max():
                    raise ValueError("a calibration fold has a single class; use fewer folds")
                params = _fit(candidate, raw[~held], fit_y)
                oof[held] = apply_calibration({"method": candidate, **params}, raw[held])
            scores[candidate] = log_loss(y, oof)
        method = min(METHODS, key=lambda m: (scores[m], m))
    return Calibrator(method=method, params=_fit(method, raw, y), cv_log_loss=scores)
