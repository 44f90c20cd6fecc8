"""Risk-band edges derived from the training data (the default) or fixed by the configuration.

The rule (``scale.band_edges = "quantiles"``): the edges are quantiles of the calibrated
probabilities that the *served* path gives the rows of the **selection window**, placed so
that band ``i`` holds ``band_shares[i]`` of them (default 40 / 30 / 20 / 7 / 3 % from
``very_low`` to ``very_high``). Why this rule:

* a band then means the same thing on any data: "among the riskiest 3 % of the accounts
  the model was tuned on", whether the base rate is 0.5 % or 25 %. Fixed probability edges
  (0.01, 0.03, 0.08, 0.20) put 99 % of a 22 %-base-rate extract in ``high`` / ``very_high``
  and nearly all of a 0.5 %-base-rate one in ``very_low``; odds-doubling steps around the
  base rate adapt the centre but not the spread, so a sharp model still fills the end bands;
* the probability itself stays calibrated and absolute: the band is the rank, the
  probability the risk. The model report lists each band's edges and its observed rate;
* the selection window is the one the calibration was fitted on and that chose everything
  else; the out-of-time window stays the report's alone;
* monitoring's band mix then starts from the designed shares, so a band shift reads
  directly as "the population moved".

Ties: calibrated probabilities can repeat (isotonic steps), so an edge is placed in a gap
between two adjacent distinct values, the gap whose share below is nearest to the target
(gaps taken in order, leaving one for each later edge), at the midpoint of the gap in
log-odds. When the data have fewer distinct probabilities than bands, the fixed edges are
kept and the origin says why. The edges depend only on the multiset of probabilities (not
on row order), so a training run gives the same edges every time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from risk_model.modeling.config import ScaleConfig
from risk_model.modeling.scale import FIXED, QUANTILES, ScoreScale

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from risk_model.modeling.train import TrainResult

_EPS = 1e-12


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(q / (1.0 - q))


def quantile_edges(prob: np.ndarray, shares: tuple[float, ...]) -> tuple[float, ...]:
    """Band edges that give each band about its share of ``prob``.

    Parameters
    ----------
    prob : numpy.ndarray
        Calibrated probabilities (finite, within [0, 1]).
    shares : tuple of float
        Target share per band, lowest risk first (sum 1).

    Returns
    -------
    tuple of float
        ``len(shares) - 1`` strictly ascending edges within (0, 1); each lies strictly
        between two adjacent distinct values of ``prob`` (or on the upper one).

    Raises
    ------
    ValueError
        When ``prob`` is empty, not finite or outside [0, 1], or has fewer distinct
        values than bands.
    """
    p = np.asarray(prob, dtype=np.float64).ravel()
    if p.size == 0 or not np.isfinite(p).all() or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("band edges need finite probabilities within [0, 1]")
    values, counts = np.unique(p, return_counts=True)
    wanted = len(shares) - 1
    if len(values) <= wanted:
        raise ValueError(f"{len(values)} distinct probabilities cannot make {len(shares)} bands")
    below = np.cumsum(counts)[:-1] / p.size  # share below the gap after values[g]
    targets = np.cumsum(shares)[:-1]
    gaps, start, last = [], 0, len(below) - 1
    for k, target in enumerate(targets):
        stop = last - (wanted - 1 - k)  # leave a gap for every later edge
        g = start + int(np.argmin(np.abs(below[start : stop + 1] - target)))  # first of ties
        gaps.append(g)
        start = g + 1
    return tuple(_gap_edge(values[g], values[g + 1]) for g in gaps)


def _gap_edge(low: float, high: float) -> float:
    """Midpoint of ``(low, high)`` in log-odds; ``high`` when no float lies between."""
    edge = float(1.0 / (1.0 + np.exp(-(_logit(np.array([low, high])).mean()))))
    if not low < edge <= high:  # clipped logits (p = 0 or 1) or adjacent floats
        edge = (low + high) / 2.0
    return edge if low < edge <= high and 0.0 < edge < 1.0 else float(high)


def band_shares(scale: ScoreScale, prob: np.ndarray) -> tuple[float, ...]:
    """Share of ``prob`` in each band of ``scale`` (band order)."""
    labels = scale.band_of_prob(np.asarray(prob, dtype=np.float64))
    return tuple(float(np.mean(labels == name)) for name in scale.band_names)


def training_scale(
    config: ScaleConfig, prob: np.ndarray, label: np.ndarray, *, window: str = "selection"
) -> ScoreScale:
    """Return the scale a training stores: the configuration's, edges set by its rule.

    Parameters
    ----------
    config : ScaleConfig
        The ``scale`` section (``band_edges``, ``band_shares``, ``band_thresholds``).
    prob : numpy.ndarray
        Served calibrated probabilities of the window's rows.
    label : numpy.ndarray
        Their 0/1 labels (the base rate is recorded beside the edges).
    window : str
        Which rows these are.

    Returns
    -------
    ScoreScale
        With ``band_origin`` saying how the edges were set: ``quantiles`` with the rows,
        base rate, target and observed shares; or ``fixed`` (by the configuration, or
        because the window has too few distinct probabilities, with ``why``).
    """
    fixed = ScoreScale.from_config(config)
    if config.band_edges == FIXED:
        return fixed
    try:
        edges = quantile_edges(prob, config.band_shares)
    except ValueError as exc:
        why = f"{window} window: {exc}"
        return fixed.with_edges(fixed.band_thresholds, {"rule": FIXED, "why": why})
    origin: dict[str, Any] = {
        "rule": QUANTILES,
        "window": window,
        "rows": int(np.asarray(prob).size),
        "base_rate": float(np.mean(label)),
        "shares": [float(s) for s in config.band_shares],
    }
    scale = fixed.with_edges(edges, origin)
    origin["observed"] = list(band_shares(scale, prob))
    return fixed.with_edges(edges, origin)


def selection_scale(
    result: TrainResult,
    served: pd.DataFrame,
    *,
    spec: dict[str, Any],
    merchant_risk: pa.Table | None,
    config: ScaleConfig,
) -> ScoreScale:
    """:func:`training_scale` of the served selection-window rows of a training.

    Parameters
    ----------
    result : TrainResult
        The fitted model and its split (``val`` is the selection window).
    served : pandas.DataFrame
        Served snapshot rows (scoring-path features, ``label``), aligned with the split.
    spec : dict
        The model's spec so far (its band edges are not read).
    merchant_risk : pyarrow.Table, optional
        The merchant-risk table the served rows were built with (the evaluation table).
    config : ScaleConfig
        The ``scale`` section.

    Returns
    -------
    ScoreScale
    """
    from risk_model.modeling.dataset import LABEL
    from risk_model.modeling.package import in_memory_artefact

    rows = served.loc[result.split.mask("val")]
    artefact = in_memory_artefact(result.booster, spec, merchant_risk)
    threads = result.model_config.num_threads
    prob = artefact.predict_proba(artefact.matrix(rows), num_threads=threads)
    return training_scale(config, prob, rows[LABEL].to_numpy(dtype=np.float64))


def band_table(scale: ScoreScale, prob: np.ndarray, label: np.ndarray) -> list[dict[str, Any]]:
    """Per band of ``scale``: its probability range and the rows' share, mean p and rate.

    Parameters
    ----------
    scale : ScoreScale
        The model's scale (its band edges).
    prob, label : numpy.ndarray
        Served probabilities and 0/1 labels of some rows (the report's OOT rows).

    Returns
    -------
    list of dict
        Lowest risk first: ``band``, ``low`` / ``high`` (the band holds
        ``low <= p < high``), ``rows``, ``share``, ``mean_p``, ``observed_rate`` (NaN for
        an empty band).
    """
    p, y = np.asarray(prob, dtype=np.float64), np.asarray(label, dtype=np.float64)
    labels = scale.band_of_prob(p)
    bounds = (0.0, *scale.band_thresholds, 1.0)
    out = []
    for i, name in enumerate(scale.band_names):
        mask = labels == name
        rows = int(mask.sum())
        out.append(
            {
                "band": name,
                "low": float(bounds[i]),
                "high": float(bounds[i + 1]),
                "rows": rows,
                "share": rows / max(len(p), 1),
                "mean_p": float(p[mask].mean()) if rows else float("nan"),
                "observed_rate": float(y[mask].mean()) if rows else float("nan"),
            }
        )
    return out
