"""Probability calibration of raw LightGBM log-odds, stored as plain numbers.

Three maps are available; two are fitted:

* ``sigmoid`` (Platt scaling on the raw log-odds): ``p = 1 / (1 + exp(-(a * raw + b)))``.
* ``isotonic_interp``: a strictly increasing map built from isotonic regression, so
  distinct raw scores keep distinct probabilities (no ties). Isotonic regression cuts the
  raw scores into blocks of constant fitted rate; adjacent blocks whose rates are not
  strictly increasing are merged, and a block with no positives (no negatives) gets the
  rate ``0.5 / (n + 1)`` (one minus it) instead of 0 (1), so the ends stay clear of the
  probability clip. The knots are the block centres: ``x`` = mean raw score of the block,
  ``y`` = its rate. Between knots ``p`` is linear in ``raw``; beyond the first and last
  knot it continues in logit space with slope ``tail_slope`` (the Platt slope on the same
  rows, floored at :data:`MIN_TAIL_SLOPE`), so the map increases on the whole real line.
  Stored as ``{"x": [...], "y": [...], "tail_slope": float}``.

``method="isotonic"`` (the configuration name) fits ``isotonic_interp``. Artefacts
written before it stored ``method="isotonic"`` with knots ``x``, ``y`` of a step map
(linear between knots, flat beyond); :func:`apply_calibration` still applies those.

``identity`` keeps the booster's own probability, ``p = 1 / (1 + exp(-raw))`` (stored as
``sigmoid`` with ``a = 1, b = 0``, so older scorers apply it): the
booster is fitted with the log-loss objective on the natural class mix, so its raw score
is already a log-odds estimate, and any map fitted on the selection window must earn its
place by doing better than that on months it was not fitted on.

``method="auto"`` chooses by *cross-fitted* selection log loss. With ``months`` given
(one label per row, the default in training) the folds are the selection months: each
candidate is fitted on the other months and scored on the held-out one. A fitted map
(``sigmoid`` or ``isotonic_interp``) replaces ``identity`` only if it beats it on *every*
held-out month, and then the one with the lower pooled out-of-fold log loss wins. Why
months and why every month: the map is applied to later months, and a selection window
of a few months can hold a policy event (a regulatory sweep) whose level does not carry
to the months after it; a map that helps on average only because one month is unusual
is exactly the map that fails out of time. Without ``months`` (or with a single month)
the rows are split into ``folds`` folds grouped by account (an account's months stay
together) and the same rule applies fold by fold. A fitted map that cannot be fitted on
some fold (a single class: too few positives to judge it) is not a candidate. Either way
the chosen map is then refitted on all
selection rows, so the choice is out of sample and the final map uses every row.

Every map's output is clipped to ``[1e-6, 1 - 1e-6]``; with the strictly increasing map
that only ties rows at extreme log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from risk_model.modeling.metrics import log_loss

PROB_CLIP = 1e-6
METHODS = ("sigmoid", "isotonic_interp")
# The unfitted map; a candidate of "auto" when folds are months, and a method of its own.
IDENTITY = "identity"
# Configuration names accepted by fit_calibrator besides METHODS and "auto".
ALIASES = {"isotonic": "isotonic_interp"}
# Smallest logit slope of the isotonic_interp tails: keeps them strictly increasing
# when the Platt slope is flat or negative (raw scores with no signal).
MIN_TAIL_SLOPE = 1e-3


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map.

    Parameters
    ----------
    method : str
        ``identity``, ``sigmoid`` or ``isotonic_interp``.
    params : dict
        ``{"a": 1.0, "b": 0.0}`` for identity; ``{"a": float, "b": float}`` for sigmoid;
        ``{"x": [...], "y": [...], "tail_slope": float}`` for isotonic_interp (see module
        notes).
    cv_log_loss : dict
        Out-of-fold selection log loss per candidate method (empty when not compared).
    cv_by_fold : dict
        Per candidate, the out-of-fold log loss of each held-out month (empty unless
        the folds were months).
    """

    method: str
    params: dict[str, Any]
    cv_log_loss: dict[str, float]
    cv_by_fold: dict[str, dict[str, float]] = field(default_factory=dict)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Map raw log-odds to probabilities clipped to ``[1e-6, 1 - 1e-6]``."""
        return apply_calibration(self.to_dict(), raw)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in ``spec.json``.

        ``identity`` is stored as the Platt map with ``a = 1, b = 0`` (the same numbers), so
        spec checks and scorers that know only the stored methods apply it unchanged.
        """
        method = "sigmoid" if self.method == IDENTITY else self.method
        return {"method": method, "cv_log_loss": dict(self.cv_log_loss), **self.params}


def apply_calibration(spec: dict[str, Any], raw: np.ndarray) -> np.ndarray:
    """Apply a calibration map given as its ``spec.json`` dict.

    Parameters
    ----------
    spec : dict
        Output of :meth:`Calibrator.to_dict` (methods ``identity``, ``sigmoid`` and
        ``isotonic_interp``), or a stored step map with method ``isotonic``.
    raw : numpy.ndarray
        Raw log-odds.

    Returns
    -------
    numpy.ndarray
        Probabilities clipped to ``[1e-6, 1 - 1e-6]``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    method = spec.get("method")
    if method == IDENTITY:
        p = _expit(raw)
    elif method == "sigmoid":
        p = _expit(float(spec["a"]) * raw + float(spec["b"]))
    elif method == "isotonic_interp":
        x, y = np.asarray(spec["x"], float), np.asarray(spec["y"], float)
        p = _interp_with_tails(x, y, float(spec["tail_slope"]), raw)
    elif method == "isotonic":  # step map of artefacts written before isotonic_interp
        p = np.interp(raw, np.asarray(spec["x"], float), np.asarray(spec["y"], float))
    else:
        raise ValueError(f"unknown calibration method {method!r}")
    return np.clip(p, PROB_CLIP, 1 - PROB_CLIP)


def _expit(z: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def _interp_with_tails(x: np.ndarray, y: np.ndarray, slope: float, raw: np.ndarray) -> np.ndarray:
    """Linear between knots, logit-linear with ``slope`` beyond them (strictly increasing)."""
    p = np.interp(raw, x, y)
    for end, outside in ((0, raw < x[0]), (-1, raw > x[-1])):
        z0 = np.log(y[end] / (1.0 - y[end]))
        # The tail's step from the knot is added to the knot's own y, so the map is
        # continuous to the last bit at the knot (expit(logit(y)) need not round-trip).
        step = _expit(z0 + slope * (raw[outside] - x[end])) - _expit(z0)
        p[outside] = y[end] + step
    return p


def _increasing_blocks(
    sum_raw: np.ndarray, positives: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent blocks until centres and rates both increase strictly.

    Parameters
    ----------
    sum_raw, positives, rows : numpy.ndarray
        Per isotonic block in raw order: sum of raw scores, positives and rows.

    Returns
    -------
    tuple of numpy.ndarray
        Knots ``x`` (block centres) and ``y`` (block rates, see module notes).
    """
    while True:
        x = sum_raw / rows
        # A pure block's rate 0 (1) becomes 0.5 / (n + 1) (one minus it), Jeffreys-style.
        y = np.clip(positives / rows, 0.5 / (rows + 1), 1 - 0.5 / (rows + 1))
        bad = np.flatnonzero((np.diff(y) <= 0) | (np.diff(x) <= 0))
        if len(bad) == 0:
            return x, y
        i = bad[0]
        for column in (sum_raw, positives, rows):
            column[i] += column[i + 1]
        keep = np.arange(len(rows)) != i + 1
        sum_raw, positives, rows = sum_raw[keep], positives[keep], rows[keep]


def _fit(method: str, raw: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if method == IDENTITY:
        return {"a": 1.0, "b": 0.0}
    # scikit-learn is imported only to fit: scoring imports this module for
    # apply_calibration and should not pay scikit-learn's import.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    # Nearly unpenalised logistic regression on one feature = Platt scaling; its slope
    # is also the tail slope of isotonic_interp.
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(raw.reshape(-1, 1), y)
    a, b = float(model.coef_[0, 0]), float(model.intercept_[0])
    if method == "sigmoid":
        return {"a": a, "b": b}
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(raw, y)
    # Fitted rates do not decrease with raw, so equal rates are contiguous blocks.
    _, block = np.unique(fitted, return_inverse=True)
    block = block.ravel()
    sums = [np.bincount(block, w).astype(np.float64) for w in (raw, y, None)]
    x, p = _increasing_blocks(*sums)
    return {"x": x.tolist(), "y": p.tolist(), "tail_slope": max(a, MIN_TAIL_SLOPE)}


def _fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold per row, assigning whole groups (accounts) to folds at random (seeded)."""
    uniques, inverse = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    group_fold = rng.permutation(len(uniques)) % folds
    return group_fold[inverse]


def _out_of_fold(
    candidate: str, raw: np.ndarray, y: np.ndarray, fold: np.ndarray
) -> np.ndarray | None:
    """Probabilities of each row from ``candidate`` fitted on the other folds.

    ``None`` when some fold leaves a single class to fit on (too few positives to judge a
    fitted map; identity needs no fit and is always available).
    """
    oof = np.empty_like(raw)
    for k in np.unique(fold):
        held = fold == k
        fit_y = y[~held]
        if candidate != IDENTITY and fit_y.min() == fit_y.max():
            return None
        params = _fit(candidate, raw[~held], fit_y)
        oof[held] = apply_calibration({"method": candidate, **params}, raw[held])
    return oof


def _choose(
    raw: np.ndarray, y: np.ndarray, fold: np.ndarray, labels: list[str]
) -> tuple[str, dict[str, float], dict[str, dict[str, float]]]:
    """Cross-fitted choice: a fitted map must beat identity on every held-out fold.

    Returns
    -------
    tuple
        Chosen method, pooled out-of-fold log loss per candidate that could be fitted, and
        per candidate the log loss of each held-out fold (keyed by ``labels``).
    """
    scores: dict[str, float] = {}
    by_fold: dict[str, dict[str, float]] = {}
    for candidate in (IDENTITY, *METHODS):
        oof = _out_of_fold(candidate, raw, y, fold)
        if oof is None:
            continue
        scores[candidate] = log_loss(y, oof)
        by_fold[candidate] = {
            label: log_loss(y[fold == k], oof[fold == k]) for k, label in enumerate(labels)
        }
    base = by_fold[IDENTITY]
    # A fold with one class still has a log loss; only the comparison matters.
    fitted = [m for m in METHODS if m in by_fold]
    carries = [m for m in fitted if all(by_fold[m][key] < base[key] for key in base)]
    method = min(carries, key=lambda m: (scores[m], m)) if carries else IDENTITY
    return method, scores, by_fold


def fit_calibrator(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "auto",
    groups: np.ndarray | None = None,
    folds: int = 2,
    seed: int = 0,
    months: np.ndarray | None = None,
) -> Calibrator:
    """Fit a calibration map on selection-window log-odds and labels.

    Parameters
    ----------
    raw : numpy.ndarray
        Raw log-odds of the selection rows.
    y : numpy.ndarray
        0/1 labels.
    method : str
        ``auto``, ``identity``, ``sigmoid``, ``isotonic_interp`` or ``isotonic`` (fits
        ``isotonic_interp``).
    groups : numpy.ndarray, optional
        Group (account) per row for the account-fold choice; rows are their own group
        when omitted. Unused when the folds are months.
    folds : int
        Number of account folds for ``auto`` without months.
    seed : int
        Seed for the account fold assignment.
    months : numpy.ndarray, optional
        Month (as-of date) per row. With two or more distinct months ``auto`` holds out
        one month at a time and keeps ``identity`` unless a fitted map beats it on every
        held-out month (see module notes).

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
    if method not in (*METHODS, *ALIASES, IDENTITY, "auto"):
        raise ValueError(f"method must be auto, identity, sigmoid or isotonic, got {method!r}")
    if months is not None and np.shape(months) != raw.shape:
        raise ValueError("months must have one value per row")
    method = ALIASES.get(method, method)
    scores: dict[str, float] = {}
    by_month: dict[str, dict[str, float]] = {}
    if method == "auto" and months is not None and len(np.unique(months)) >= 2:
        values, fold = np.unique(np.asarray(months), return_inverse=True)
        method, scores, by_month = _choose(raw, y, fold, [str(v)[:10] for v in values])
    elif method == "auto":
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        fold = _fold_of(groups, folds, seed)
        labels = [f"accounts {k}" for k in range(folds)]
        method, scores, by_month = _choose(raw, y, fold, labels)
    return Calibrator(method, _fit(method, raw, y), scores, by_month)
