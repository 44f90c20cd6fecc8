"""Champion / challenger decision with evidence: a paired bootstrap of the Gini difference.

Pure numpy / pandas (no MLflow), so the rule can be tested and reasoned about alone.

Evidence
--------
Both models score the *same* rows (the selection window). :func:`paired_bootstrap_gini`
resamples those rows -- by account when ``groups`` are given, because one account
contributes several correlated month-end rows -- and recomputes both Gini figures on each
resample, so the interval of ``new - champion`` reflects the pairing. Resamples are never
materialised: each one is a vector of bootstrap counts (multinomial over groups), used as
row weights in a weighted Mann-Whitney AUC over a sort done once per model.

Rule (:func:`decide`)
---------------------
``force`` -> champion ("forced"); no champion -> champion; champion on another horizon,
evaluated on other data (fingerprint differs or missing) or unable to score the rows ->
challenger, "not comparable", with the command that promotes explicitly; otherwise
champion only when the lower bound of the difference is above ``margin``. Two identical
models have difference 0 and lower bound 0, which is not above a margin of 0: a rerun is
never promoted over the model it reproduces.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

CHAMPION, CHALLENGER = "champion", "challenger"
PROMOTE_HINT = "promote it explicitly with `python -m pipelines.train ... --promote`"
_CHUNK_CELLS = 4_000_000  # resamples x rows per weight matrix: bounds memory (~32 MB)


@dataclass(frozen=True)
class PromotionConfig:
    """Knobs of the champion comparison.

    Parameters
    ----------
    resamples : int
        Bootstrap resamples (200 keeps the 5% tail from ~10 values).
    seed : int
        Seed of the resampling.
    margin : float
        Lower bound of the Gini difference must exceed this to promote.
    level : float
        Two-sided level of the interval; 0.90 makes the lower bound a 95% one-sided bound.
    """

    resamples: int = 200
    seed: int = 0
    margin: float = 0.0
    level: float = 0.90

    def check(self) -> PromotionConfig:
        """Validate the values; return ``self``."""
        if self.resamples < 1:
            raise ValueError("promotion resamples must be >= 1")
        if not 0.0 < self.level < 1.0:
            raise ValueError("promotion level must be in (0, 1)")
        if not np.isfinite(self.margin):
            raise ValueError("promotion margin must be finite")
        return self


@dataclass(frozen=True)
class GiniComparison:
    """Gini of two models on the same rows and a bootstrap interval of the difference.

    Attributes
    ----------
    new_gini, champion_gini : float
        Gini on all rows.
    difference : float
        ``new_gini - champion_gini``.
    lower, upper : float
        Percentile interval of the difference over the resamples (NaN when no resample
        had both classes).
    level : float
        Two-sided level of ``[lower, upper]``.
    resamples, valid_resamples : int
        Resamples drawn, and those with both classes (the others are skipped).
    seed : int
        Seed used.
    rows, groups : int
        Rows compared and resampling units (accounts, or rows without groups).
    """

    new_gini: float
    champion_gini: float
    difference: float
    lower: float
    upper: float
    level: float
    resamples: int
    valid_resamples: int
    seed: int
    rows: int
    groups: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class ChampionInfo:
    """What is known about the current champion before comparing.

    Attributes
    ----------
    version : str
        Registered version.
    horizon_months : int or None
        Its label horizon (None when unknown).
    eval_fingerprint : str or None
        Fingerprint of the data it was evaluated on (None when it carries none).
    scoring_error : str or None
        Why it could not score the rows, when it could not.
    """

    version: str
    horizon_months: int | None
    eval_fingerprint: str | None
    scoring_error: str | None = None


@dataclass(frozen=True)
class Decision:
    """Alias for the new version and why.

    Attributes
    ----------
    alias : str
        ``champion`` or ``challenger``.
    reason : str
        Human-readable reason.
    comparison : GiniComparison or None
        Evidence, when the models were compared.
    rule : str
        ``forced``, ``no_champion``, ``not_comparable``, ``better`` or ``not_better``.
    """

    alias: str
    reason: str
    comparison: GiniComparison | None
    rule: str


def _weighted_gini(y_sorted: np.ndarray, starts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Gini per row of ``weights`` (rows already in ascending score order).

    Mann-Whitney with ties counted one half: for each distinct score, positives there beat
    the negatives strictly below and tie with the negatives at that score.
    """
    pos = np.add.reduceat(weights * y_sorted, starts, axis=1)
    neg = np.add.reduceat(weights, starts, axis=1) - pos
    below = np.cumsum(neg, axis=1) - neg
    wins = np.sum(pos * (below + 0.5 * neg), axis=1)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, 2.0 * wins / pairs - 1.0, np.nan)


def _sorted_view(p: np.ndarray, y: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    return y[order], starts, codes[order]


def _check_inputs(
    y: np.ndarray, p_new: np.ndarray, p_champion: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    p_new = np.asarray(p_new, dtype=np.float64)
    p_champion = np.asarray(p_champion, dtype=np.float64)
    if y.ndim != 1 or y.shape != p_new.shape or y.shape != p_champion.shape or len(y) == 0:
        raise ValueError("y, p_new and p_champion must be 1-d, non-empty, of equal length")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1")
    if not (np.isfinite(p_new).all() and np.isfinite(p_champion).all()):
        raise ValueError("predictions must be finite")
    if groups is None:
        codes = np.arange(len(y))
    else:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError("groups must align with y")
        codes = pd.factorize(groups)[0]
    return y, p_new, p_champion, codes


def paired_bootstrap_gini(
    y: np.ndarray,
    p_new: np.ndarray,
    p_champion: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.90,
) -> GiniComparison:
    """Compare two models' Gini on the same rows with a paired (cluster) bootstrap.

    Parameters
    ----------
    y : numpy.ndarray
        0/1 labels.
    p_new, p_champion : numpy.ndarray
        Scores of the new model and of the champion on the same rows (any monotone score).
    groups : numpy.ndarray, optional
        Resampling unit per row (account id); rows are resampled alone when omitted.
    resamples : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling.
    level : float
        Two-sided level of the percentile interval.

    Returns
    -------
    GiniComparison
        Both Gini figures, their difference and its interval.
    """
    PromotionConfig(resamples=resamples, seed=seed, level=level).check()
    y, p_new, p_champion, codes = _check_inputs(y, p_new, p_champion, groups)
    n_groups = int(codes.max()) + 1
    views = [_sorted_view(p, y, codes) for p in (p_new, p_champion)]
    ones = np.ones((1, len(y)))
    full = [_weighted_gini(ys, starts, ones)[0] for ys, starts, _ in views]
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // len(y))
    diffs = []
    for first in range(0, resamples, chunk):
        size = min(chunk, resamples - first)
        # Multinomial counts per group without materialising the resampled rows.
        draws = rng.integers(0, n_groups, size=(size, n_groups))
        draws += (np.arange(size) * n_groups)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n_groups).reshape(size, -1)
        counts = counts.astype(np.float64)
        g_new, g_champ = (_weighted_gini(ys, starts, counts[:, cs]) for ys, starts, cs in views)
        diffs.append(g_new - g_champ)
    diff = np.concatenate(diffs)
    diff = diff[np.isfinite(diff)]
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(diff, [tail, 1.0 - tail]) if len(diff) else (np.nan, np.nan)
    return GiniComparison(
        new_gini=float(full[0]),
        champion_gini=float(full[1]),
        difference=float(full[0] - full[1]),
        lower=float(lower),
        upper=float(upper),
        level=level,
        resamples=resamples,
        valid_resamples=len(diff),
        seed=seed,
        rows=len(y),
        groups=n_groups,
    )


def not_comparable_reason(
    champion: ChampionInfo, *, horizon_months: int, eval_fingerprint: str
) -> str | None:
    """Why ``champion`` cannot be compared with a new model, or None when it can."""
    where = f"champion v{champion.version}"
    if champion.horizon_months is not None and champion.horizon_months != horizon_months:
        return f"{where} has a {champion.horizon_months}-month horizon, not {horizon_months}"
    if champion.eval_fingerprint is None:
        return f"{where} carries no evaluation fingerprint"
    if champion.eval_fingerprint != eval_fingerprint:
        return f"{where} was evaluated on other data (fingerprint differs)"
    if champion.scoring_error is not None:
        return f"{where} cannot score these rows: {champion.scoring_error}"
    return None


def decide(
    *,
    champion: ChampionInfo | None,
    comparison: GiniComparison | None,
    horizon_months: int,
    eval_fingerprint: str,
    margin: float = 0.0,
    force: bool = False,
) -> Decision:
    """Alias for a newly registered version (see the module docstring for the rule).

    Parameters
    ----------
    champion : ChampionInfo or None
        Current champion; None when the model has none.
    comparison : GiniComparison or None
        Paired comparison on the selection rows (None when it could not be made).
    horizon_months : int
        Horizon of the new model.
    eval_fingerprint : str
        Fingerprint of the rows the new model was evaluated on.
    margin : float
        Promote only when the lower bound of the difference exceeds this.
    force : bool
        Promote regardless (``--promote``).

    Returns
    -------
    Decision
        Alias, reason, evidence and the rule that applied.
    """
    if force:
        return Decision(CHAMPION, "forced", comparison, "forced")
    if champion is None:
        return Decision(CHAMPION, "no champion yet", comparison, "no_champion")
    problem = not_comparable_reason(
        champion, horizon_months=horizon_months, eval_fingerprint=eval_fingerprint
    )
    if problem is None and comparison is None:
        problem = f"champion v{champion.version} was not compared"
    if problem is not None:
        reason = f"not comparable: {problem}; {PROMOTE_HINT}"
        return Decision(CHALLENGER, reason, comparison, "not_comparable")
    figures = (
        f"Gini {comparison.new_gini:.4f} vs champion v{champion.version} "
        f"{comparison.champion_gini:.4f}, difference {comparison.difference:+.4f}, "
        f"{comparison.level:.0%} interval [{comparison.lower:+.4f}, {comparison.upper:+.4f}]"
    )
    # NaN bounds (no resample had both classes) compare False: never promoted.
    if comparison.lower > margin:
        return Decision(CHAMPION, f"better: {figures} > margin {margin:g}", comparison, "better")
    reason = f"not better: {figures}, lower bound not > margin {margin:g}"
    return Decision(CHALLENGER, reason, comparison, "not_better")


def evaluation_fingerprint(keys: pd.DataFrame, label: np.ndarray) -> str:
    """sha256 of the evaluation rows' identity: key columns (e.g. account, as-of) and labels.

    Parameters
    ----------
    keys : pandas.DataFrame
        Columns that identify the rows, in row order.
    label : numpy.ndarray
        Their labels.

    Returns
    -------
    str
        Hex digest; equal for the same rows in the same order with the same labels.
    """
    digest = hashlib.sha256()
    digest.update(",".join(map(str, keys.columns)).encode())
    hashed = pd.util.hash_pandas_object(keys.reset_index(drop=True), index=False)
    digest.update(hashed.to_numpy().tobytes())
    digest.update(np.asarray(label, dtype=np.int8).tobytes())
    return digest.hexdigest()
