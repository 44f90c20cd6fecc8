"""Discrimination, calibration and stability metrics (numpy / scikit-learn only).

Conventions
-----------
* ``y`` is 0/1 (1 = closed within the horizon), ``p`` a probability of closure.
* Gini = 2 AUC - 1; KS = max |TPR - FPR| over thresholds.
* ECE uses ``bins`` equal-frequency bins of ``p``: ECE = sum_b (n_b / n)
  |mean p_b - mean y_b|. Equal-frequency bins keep every bin populated when probabilities
  are concentrated near the base rate. Binning is tie-aware: every row with the same
  ``p`` goes to one bin, the bin of that value's mid-rank (the middle of its block of
  positions in sorted order), so bins are as equal as ties allow and some may be empty
  when one value fills more than a bin. ECE and the decile table are computed on the rows
  sorted by ``(p, y)``, so they are exact functions of the multiset of ``(p, y)`` pairs:
  the same predictions in any row order give the same bits.
* Capture rate at ``q``: share of all positives found in the riskiest
  ``k = ceil(q * n)`` rows. When the cut falls inside a block of equal ``p`` the rows of
  that block are counted fractionally (each with weight ``(k - rows above) / block
  size``), which is the expected capture over every order of the tied rows.
* ``distinct_per_10k``: distinct probabilities per 10,000 rows, a measure of how many
  ties a calibrated score leaves (10,000 = every row different).
* PSI over ``bins`` quantile bins of the expected (train) distribution, a value holding at
  least ``1/bins`` of it in a bin of its own (:func:`psi_edges`), with an epsilon of 1e-6
  for empty bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-6


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y and p must be 1-d of equal length, got {y.shape} and {p.shape}")
    if len(y) == 0:
        raise ValueError("metrics need at least one row")
    return y, p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, p = _check(y, p)
    if y.min() == y.max():
        return float("nan")
    # Imported where used: scoring imports this module (via calibration) and should not
    # pay scikit-learn's import.
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    """Gini coefficient ``2 AUC - 1``."""
    return 2.0 * auc(y, p) - 1.0


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic ``max |TPR - FPR|``."""
    y, p = _check(y, p)
    if y.min() == y.max():
        return float("nan")
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(np.abs(tpr - fpr)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probability."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Binary cross-entropy with probabilities clipped to ``[1e-6, 1 - 1e-6]``."""
    y, p = _check(y, p)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def _sorted_pairs(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by ``(p, y)``: one canonical order for the same multiset of pairs."""
    order = np.lexsort((y, p))
    return y[order], p[order]


def equal_frequency_bins(p_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Return the bin index per row of a sorted ``p``, keeping rows with equal ``p`` in one bin.

    Each distinct value takes the bin of its mid-rank ``start + count / 2`` (positions
    ``start .. start + count - 1`` in sorted order), scaled to ``bins`` and floored. Shared by
    :func:`ece`, :func:`decile_table` and the reliability plot, so all three bin alike.

    Parameters
    ----------
    p_sorted : numpy.ndarray
        Probabilities sorted ascending (at least one row).
    bins : int
        Number of bins.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` integer bin index in ``0 .. bins - 1``, non-decreasing along ``p_sorted``.
    """
    n = len(p_sorted)
    _, start, count = np.unique(p_sorted, return_index=True, return_counts=True)
    # Integer arithmetic: floor((2 start + count) * bins / (2 n)) is exact.
    value_bin = np.minimum((2 * start + count) * bins // (2 * n), bins - 1)
    return np.repeat(value_bin, count)


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Return the expected calibration error over equal-frequency bins (see module notes)."""
    y, p = _sorted_pairs(*_check(y, p))
    index = equal_frequency_bins(p, bins)
    n = np.bincount(index, minlength=bins).astype(np.float64)
    gap = np.abs(np.bincount(index, p, bins) - np.bincount(index, y, bins))
    return float(gap[n > 0].sum() / len(y))


def distinct_per_10k(p: np.ndarray) -> float:
    """Distinct probabilities per 10,000 rows: ``distinct / n * 10000``.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities (any order).

    Returns
    -------
    float
        10,000 when every row has its own value; a step-function calibration that maps
        every account to a few values gives a small figure.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    if len(p) == 0:
        raise ValueError("metrics need at least one row")
    return float(len(np.unique(p)) / len(p) * 10_000)


def capture_rate(y: np.ndarray, p: np.ndarray, top: float) -> float:
    """Share of positives in the riskiest ``top`` fraction of rows, ties counted fractionally.

    The riskiest ``k = ceil(top * n)`` rows are taken; rows tied with the ``k``-th riskiest
    share the remaining places equally (see module notes), so the result does not depend
    on row order.
    """
    y, p = _check(y, p)
    if not 0 < top <= 1:
        raise ValueError("top must be in (0, 1]")
    if y.sum() == 0:
        return float("nan")
    k = max(1, int(np.ceil(top * len(y))))
    values, block, count = np.unique(-p, return_inverse=True, return_counts=True)
    positives = np.bincount(block.ravel(), y, len(values))
    rows_before = np.cumsum(count) - count  # riskier rows than each distinct value
    # Share of each block inside the top k: 1 above the cut, 0 below, a fraction at it.
    share = np.clip((k - rows_before) / count, 0.0, 1.0)
    return float(np.sum(share * positives) / y.sum())


def decile_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Tabulate expected vs observed closure rate per equal-frequency bin, riskiest first.

    Returns
    -------
    pandas.DataFrame
        Columns decile (1 = riskiest), rows, min_p, max_p, mean_p, observed_rate,
        positives, cumulative_capture. One row per non-empty bin: with heavy ties some
        bins are empty and their decile numbers are missing (see module notes).
    """
    y, p = _sorted_pairs(*_check(y, p))
    index = (bins - 1) - equal_frequency_bins(p, bins)  # 0 = riskiest
    frame = pd.DataFrame({"bin": index, "p": p, "y": y})
    table = frame.groupby("bin", sort=True).agg(
        rows=("y", "size"),
        min_p=("p", "min"),
        max_p=("p", "max"),
        mean_p=("p", "mean"),
        observed_rate=("y", "mean"),
        positives=("y", "sum"),
    )
    table.insert(0, "decile", table.index.to_numpy() + 1)
    total = max(float(y.sum()), 1.0)
    table["cumulative_capture"] = table["positives"].cumsum() / total
    return table.reset_index(drop=True)


def psi_edges(expected: np.ndarray, bins: int = 10) -> np.ndarray:
    """Return the inner bin edges of a PSI: quantiles of ``expected``, mass points split off.

    The edges are the distinct ``1/bins .. (bins-1)/bins`` quantiles. Ties merge quantile
    bins, so a value that holds at least ``1/bins`` of the sample (a *mass point*: the
    zeros of a count, a cap) would share its bin with the values around it and a change
    among those would go unseen; each mass point and the next distinct value above it (the
    next float for the largest value) are therefore edges too, giving the mass point a bin
    of its own.

    Parameters
    ----------
    expected : numpy.ndarray
        The reference sample (finite values, at least one).
    bins : int
        Number of quantile bins.

    Returns
    -------
    numpy.ndarray
        Increasing edges; bin ``i`` holds the values ``v`` with ``edges[i-1] <= v < edges[i]``
        (:func:`bin_shares`).
    """
    expected = np.asarray(expected, dtype=np.float64)
    if len(expected) == 0:
        raise ValueError("psi needs non-empty samples")
    quantiles = np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1])
    values, counts = np.unique(expected, return_counts=True)
    mass = np.flatnonzero(counts * bins >= len(expected))
    # The bin of a mass point ends at the next value of the sample (just above it at the top).
    ends = np.append(values[1:], np.nextafter(values[-1], np.inf))[mass]
    return np.unique(np.concatenate([quantiles, values[mass], ends]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the share of ``values`` in each of the ``len(edges) + 1`` bins cut by ``edges``.

    A value equal to an edge belongs to the bin above it.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("psi needs non-empty samples")
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / counts.sum()


def psi_of_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """Return ``sum (a - e) ln(a / e)`` over bins, shares floored at :data:`EPS`."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPS)
    a = np.maximum(np.asarray(actual, dtype=np.float64), EPS)
    if e.shape != a.shape:
        raise ValueError(f"psi needs shares over the same bins, got {e.shape} and {a.shape}")
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Return the population stability index of ``actual`` against ``expected`` (quantile bins).

    The composition of :func:`psi_edges`, :func:`bin_shares` and :func:`psi_of_shares`;
    monitoring stores the edges and shares of the reference and applies the last two to
    a scored batch (:mod:`risk_model.monitoring`).
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if len(expected) == 0 or len(actual) == 0:
        raise ValueError("psi needs non-empty samples")
    edges = psi_edges(expected, bins)
    return psi_of_shares(bin_shares(expected, edges), bin_shares(actual, edges))


def gini_by_period(y: np.ndarray, p: np.ndarray, period: np.ndarray) -> dict[str, float]:
    """Gini per distinct value of ``period`` (sorted), keyed by ``str(period)``."""
    y, p = _check(y, p)
    period = np.asarray(period)
    out: dict[str, float] = {}
    for value in np.unique(period):
        mask = period == value
        out[str(value)[:10]] = gini(y[mask], p[mask])
    return out


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ... (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64)
    x = np.arange(len(v), dtype=np.float64)
    keep = ~np.isnan(v)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(x[keep], v[keep], 1)[0])


def evaluate(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """All point metrics for one probability vector.

    Returns
    -------
    dict
        auc, gini, ks, brier, log_loss, ece, ece_to_base_rate, base_rate, mean_p,
        capture_top5, capture_top10, rows, distinct_per_10k (distinct probabilities per
        10,000 rows).
    """
    y, p = _check(y, p)
    base_rate = float(y.mean())
    out: dict[str, Any] = {
        "rows": float(len(y)),
        "base_rate": base_rate,
        "mean_p": float(p.mean()),
        "auc": auc(y, p),
        "gini": gini(y, p),
        "ks": ks(y, p),
        "brier": brier(y, p),
        "log_loss": log_loss(y, p),
        "ece": ece(y, p, bins),
        "capture_top5": capture_rate(y, p, 0.05),
        "capture_top10": capture_rate(y, p, 0.10),
        "distinct_per_10k": distinct_per_10k(p),
    }
    out["ece_to_base_rate"] = out["ece"] / base_rate if base_rate > 0 else float("nan")
    return out


def gini_by_cause(y: np.ndarray, p: np.ndarray, cause: np.ndarray) -> dict[str, float]:
    """Gini of each closure cause against all negatives (positives of other causes dropped).

    Shows which causes a model ranks well; compare with the same figure for the truth.
    """
    y, p = _check(y, p)
    cause = np.asarray(cause, dtype=object)
    out: dict[str, float] = {}
    for value in sorted({str(c) for c in cause[y > 0]}):
        keep = (y == 0) | (cause == value)
        out[value] = gini(y[keep], p[keep])
    return out


def oot_report(
    y: np.ndarray,
    p: np.ndarray,
    *,
    period: np.ndarray,
    cause: np.ndarray | None = None,
    p_reference: np.ndarray | None = None,
    bins: int = 10,
) -> dict[str, Any]:
    """Point metrics, Gini per period and its slope, Gini per cause and PSI.

    Parameters
    ----------
    y, p : numpy.ndarray
        Labels and probabilities of the evaluated rows.
    period : numpy.ndarray
        As-of date per row.
    cause : numpy.ndarray, optional
        Closure cause per row (positives).
    p_reference : numpy.ndarray, optional
        Probabilities of the reference (train) rows for the PSI.
    bins : int
        Bins for ECE, deciles and PSI.

    Returns
    -------
    dict
        ``metrics`` (evaluate), ``gini_by_month``, ``gini_slope``, ``gini_by_cause``,
        ``psi`` (NaN without reference).
    """
    by_month = gini_by_period(y, p, period)
    return {
        "metrics": evaluate(y, p, bins),
        "gini_by_month": by_month,
        "gini_slope": slope(list(by_month.values())),
        "gini_by_cause": {} if cause is None else gini_by_cause(y, p, cause),
        "psi": float("nan") if p_reference is None else psi(p_reference, p, bins),
    }
