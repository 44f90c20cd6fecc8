"""Evaluation plots as PNG files (matplotlib's object API: no display, no pyplot state).

Figures are built as :class:`matplotlib.figure.Figure` objects, never through pyplot, so
training leaves the caller's matplotlib backend alone (a notebook keeps drawing inline after
``pipelines.train``) and plots can be written from any thread.

Each ``plot_*`` function writes one file and returns its path; :func:`save_plots` writes
them all from a training result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from risk_model.modeling.metrics import decile_table


def _subplots(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """One figure with one axes, outside pyplot (nothing to close, no backend switch)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_roc(path: Path, y: np.ndarray, curves: dict[str, np.ndarray]) -> Path:
    """ROC curves of several probability vectors on the same rows."""
    fig, ax = _subplots((5, 5))
    for name, p in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (OOT)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_reliability(
    path: Path, y: np.ndarray, p: np.ndarray, bins: int = 10, truth: np.ndarray | None = None
) -> Path:
    """Mean predicted vs observed rate per equal-frequency bin (the decile table's bins).

    With ``truth`` (true closure probabilities of the same rows, synthetic data) the mean
    true probability of each bin is drawn too: a noise-free view of the calibration. When
    the bins' probabilities span more than a factor of 20 (rare events: most bins crowd near
    zero) both axes are logarithmic; a bin without closures then has no point.
    """
    table = decile_table(y, p, bins)
    mean_p, rate = table["mean_p"].to_numpy(), table["observed_rate"].to_numpy()
    fig, ax = _subplots((5, 5))
    top = max(mean_p.max(), rate.max()) * 1.05
    low = mean_p.min() if mean_p.min() > 0 else 0.0
    log = low > 0 and top / low > 20
    ax.plot([low / 1.5 if log else 0, top], [low / 1.5 if log else 0, top], color="grey", ls=":")
    if truth is not None:
        true_rate = decile_table(truth, p, bins)["observed_rate"].to_numpy()
        ax.plot(mean_p, true_rate, marker="s", color="tab:green", label="mean true probability")
    ax.plot(mean_p, rate, marker="o", color="tab:blue", label="observed closure rate")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="closure rate",
        title="Reliability (OOT, equal-frequency bins)",
    )
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_ks(path: Path, y: np.ndarray, p: np.ndarray) -> Path:
    """Cumulative share of positives and negatives by descending score, with KS."""
    order = np.argsort(-p, kind="stable")
    ys = np.asarray(y, dtype=np.float64)[order]
    pos = np.cumsum(ys) / max(ys.sum(), 1)
    neg = np.cumsum(1 - ys) / max((1 - ys).sum(), 1)
    share = np.arange(1, len(ys) + 1) / len(ys)
    k = int(np.argmax(np.abs(pos - neg)))
    fig, ax = _subplots((6, 4))
    ax.plot(share, pos, label="closed")
    ax.plot(share, neg, label="not closed")
    ax.vlines(share[k], neg[k], pos[k], color="red", label=f"KS = {pos[k] - neg[k]:.3f}")
    ax.set(xlabel="share of rows (riskiest first)", ylabel="cumulative share", title="KS (OOT)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_score_distribution(path: Path, y: np.ndarray, points: np.ndarray) -> Path:
    """Histogram of points by label (densities)."""
    fig, ax = _subplots((6, 4))
    low, high = float(points.min()), float(points.max())
    bins = np.linspace(low, high if high > low else low + 1.0, 40)
    for value, name in ((0, "not closed"), (1, "closed")):
        group = points[y == value]
        if len(group):  # density of an empty group divides by zero
            ax.hist(group, bins=bins, density=True, alpha=0.5, label=name)
    ax.set(xlabel="points (higher = safer)", ylabel="density", title="Score by label (OOT)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_gini_by_month(path: Path, series: dict[str, dict[str, float]]) -> Path:
    """Gini per as-of month for each named series (model, truth)."""
    fig, ax = _subplots((6, 4))
    months = sorted({month for by_month in series.values() for month in by_month})
    position = {month: i for i, month in enumerate(months)}
    for name, by_month in series.items():
        # Numeric positions with month labels: string x values make matplotlib log an INFO
        # line ("categorical units ... parsable as dates") per call.
        ax.plot([position[m] for m in by_month], list(by_month.values()), marker="o", label=name)
    ax.set_xticks(range(len(months)), months, rotation=45)
    ax.set(xlabel="as-of month", ylabel="Gini", title="Gini per month (OOT)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_gini_by_cause(path: Path, series: dict[str, dict[str, float]]) -> Path:
    """Gini of each closure cause (against all negatives) for each named series."""
    causes = sorted({cause for by_cause in series.values() for cause in by_cause})
    fig, ax = _subplots((6, 4))
    width = 0.8 / max(len(series), 1)
    for k, (name, by_cause) in enumerate(series.items()):
        x = np.arange(len(causes)) + (k - (len(series) - 1) / 2) * width
        ax.bar(x, [by_cause.get(c, np.nan) for c in causes], width=width, label=name)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(causes)), causes)
    ax.set(xlabel="closure cause", ylabel="Gini", title="Gini per closure cause (OOT)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_importance(path: Path, names: Sequence[str], gain: np.ndarray, top: int = 30) -> Path:
    """Top features by total gain."""
    order = np.argsort(-np.asarray(gain), kind="stable")[:top][::-1]
    fig, ax = _subplots((7, max(3, 0.25 * len(order) + 1)))
    ax.barh([names[i] for i in order], np.asarray(gain)[order])
    ax.set(xlabel="total gain", title="Feature importance (gain)")
    return _save(fig, path)


def plot_family_contributions(path: Path, by_family: dict[str, float]) -> Path:
    """Mean absolute TreeSHAP contribution (log-odds) per feature family."""
    fig, ax = _subplots((6, 4))
    ax.bar(list(by_family), list(by_family.values()))
    ax.set(ylabel="mean |contribution| (log-odds)", title="Contribution by feature family (OOT)")
    return _save(fig, path)


def family_contributions(
    contrib: np.ndarray, feature_names: Sequence[str], catalogue: list[dict[str, Any]]
) -> dict[str, float]:
    """Mean over rows of the absolute summed contribution of each family's features.

    Parameters
    ----------
    contrib : numpy.ndarray
        ``pred_contrib`` output, shape (n, features + 1); the bias column is ignored.
    feature_names : sequence of str
        Column order of ``contrib``.
    catalogue : list of dict
        Feature catalogue with ``name`` and ``family``.
    """
    family = {c["name"]: c.get("family", "other") for c in catalogue}
    out: dict[str, float] = {}
    for fam in sorted({family.get(n, "other") for n in feature_names}):
        cols = [i for i, n in enumerate(feature_names) if family.get(n, "other") == fam]
        out[fam] = float(np.mean(np.abs(contrib[:, cols].sum(axis=1))))
    return out


def save_plots(
    outdir: Path,
    *,
    y: np.ndarray,
    prob: np.ndarray,
    points: np.ndarray,
    truth: np.ndarray | None,
    report: dict[str, Any],
    feature_names: Sequence[str],
    gain: np.ndarray,
    by_family: dict[str, float],
) -> list[Path]:
    """Write every evaluation plot for the OOT rows into ``outdir``.

    Returns
    -------
    list of Path
        The PNG files written.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    curves = {"model": prob} | ({} if truth is None else {"truth": truth})
    months = {"model": report["oot"]["gini_by_month"]}
    causes = {"model": report["oot"]["gini_by_cause"]}
    if "truth" in report:
        months["truth"] = report["truth"]["gini_by_month"]
        causes["truth"] = report["truth"]["gini_by_cause"]
    return [
        plot_roc(outdir / "roc.png", y, curves),
        plot_reliability(outdir / "reliability.png", y, prob, truth=truth),
        plot_ks(outdir / "ks.png", y, prob),
        plot_score_distribution(outdir / "score_distribution.png", y, points),
        plot_gini_by_month(outdir / "gini_by_month.png", months),
        plot_gini_by_cause(outdir / "gini_by_cause.png", causes),
        plot_importance(outdir / "feature_importance_gain.png", feature_names, gain),
        plot_family_contributions(outdir / "contribution_by_family.png", by_family),
    ]
