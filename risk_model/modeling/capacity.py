"""Model capacity chosen on the selection window: a small, budgeted search.

How deep the trees grow and how many rows a leaf needs decide whether a model generalises
or memorises; the right values depend on the data (5,000 accounts or 5 million). They are
therefore *chosen*, and what is chosen is chosen on the selection window only, never on
the out-of-time window.

The candidates (:func:`candidates`) are a handful of depth / leaves pairs crossed with rows
per leaf given as a *share of the training rows*, so one grid serves any data size. Trees
keep at most :data:`~risk_model.modeling.treeshap.MAX_SPLITS_PER_TREE` splits so the exact
TreeSHAP lookup tables (reasons at batch speed) always apply.

The search is budgeted: every candidate is fitted with a faster learning rate on a
deterministic sample of the training accounts (at most ``search_rows`` rows) with early
stopping on the selection rows, and scored by selection log loss. The winner is then fitted
on all training rows by the caller at the configured learning rate. Rows per leaf scale
with the data, so a share chosen on the sample means the same on the full data. The
caller's ``fit`` takes the sample as positions of the training rows, so that it can bin
the sample once for the candidates that share rows per leaf
(:class:`risk_model.modeling.binned.BinnedRows`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np

from risk_model.modeling.config import ModelConfig
from risk_model.modeling.treeshap import MAX_SPLITS_PER_TREE

MIN_ROWS_PER_LEAF = 20  # LightGBM's own default: below it leaf values are mostly noise
SEARCH_PATIENCE = 20  # rounds without improvement that end a search fit (fast learning rate)


@dataclass(frozen=True)
class Candidate:
    """One capacity setting.

    Parameters
    ----------
    max_depth, num_leaves : int
        Tree shape.
    leaf_share : float
        Minimum rows per leaf as a share of the training rows.
    """

    max_depth: int
    num_leaves: int
    leaf_share: float

    def rows_per_leaf(self, train_rows: int) -> int:
        """Minimum rows per leaf for ``train_rows`` training rows."""
        return max(MIN_ROWS_PER_LEAF, round(self.leaf_share * train_rows))

    def apply(self, config: ModelConfig, train_rows: int) -> ModelConfig:
        """``config`` with this candidate's shape and rows per leaf."""
        return replace(
            config,
            max_depth=self.max_depth,
            num_leaves=self.num_leaves,
            min_data_in_leaf=self.rows_per_leaf(train_rows),
        )

    def label(self) -> str:
        """Short name for logs and reports."""
        return f"depth {self.max_depth}, {self.num_leaves} leaves, {self.leaf_share:.2%} rows/leaf"


def candidates() -> list[Candidate]:
    """Return the six capacity settings searched (all within the TreeSHAP table limit)."""
    grid = [
        Candidate(2, 4, 0.002),
        Candidate(3, 8, 0.002),
        Candidate(3, 8, 0.0005),
        Candidate(4, 11, 0.002),
        Candidate(4, 11, 0.0005),
        Candidate(5, 11, 0.001),
    ]
    return [c for c in grid if c.num_leaves - 1 <= MAX_SPLITS_PER_TREE]


@dataclass(frozen=True)
class Trial:
    """Outcome of one candidate on the selection rows."""

    candidate: Candidate
    selection_log_loss: float
    best_iteration: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (without the time taken: reports stay reproducible)."""
        return {
            "candidate": self.candidate.label(),
            "max_depth": self.candidate.max_depth,
            "num_leaves": self.candidate.num_leaves,
            "leaf_share": self.candidate.leaf_share,
            "selection_log_loss": self.selection_log_loss,
            "best_iteration": self.best_iteration,
        }


def search_sample(groups: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Boolean mask of whole groups (accounts) holding about ``max_rows`` rows at most.

    Groups are ranked by a seeded permutation and taken until the budget is reached, so
    the sample is deterministic and every account keeps all its months.
    """
    n = len(groups)
    if n <= max_rows:
        return np.ones(n, dtype=bool)
    uniques, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(uniques))
    taken = np.zeros(len(uniques), dtype=bool)
    taken[order[np.cumsum(counts[order]) <= max_rows]] = True
    return taken[inverse]


def search(
    fit: Any,
    y_train: np.ndarray,
    groups: np.ndarray,
    *,
    config: ModelConfig,
    grid: Sequence[Candidate],
    search_rows: int,
    learning_rate: float,
    seed: int,
) -> tuple[Candidate, list[Trial]]:
    """Fit every candidate on a training sample and keep the best on selection log loss.

    Parameters
    ----------
    fit : callable
        ``fit(rows, config) -> (booster, selection_log_loss)``: fits the training rows at
        the positions ``rows`` (``None``: every row) with early stopping on the selection
        rows (the caller holds both) and returns the selection log loss of the best
        iteration.
    y_train, groups : numpy.ndarray
        Labels and account of every training row.
    config : ModelConfig
        Base parameters (learning rate and shape are replaced per candidate).
    grid : sequence of Candidate
        Settings to try, in order (ties go to the earlier, i.e. simpler, one).
    search_rows : int
        Row budget of the training sample.
    learning_rate : float
        Learning rate of the search fits.
    seed : int
        Seed of the sample.

    Returns
    -------
    tuple
        The chosen candidate and every trial.
    """
    rows: np.ndarray | None = np.flatnonzero(search_sample(groups, search_rows, seed))
    y = y_train[rows]
    if y.min() == y.max():  # a sample without positives cannot rank anything: use all rows
        rows, y = None, y_train
    trials = []
    for candidate in grid:
        start = time.perf_counter()
        trial_config = replace(
            candidate.apply(config, len(y)),
            learning_rate=learning_rate,
            early_stopping_rounds=SEARCH_PATIENCE,
        )
        booster, loss = fit(rows, trial_config)
        trials.append(
            Trial(candidate, float(loss), booster.current_iteration(), time.perf_counter() - start)
        )
    best = min(range(len(trials)), key=lambda i: (trials[i].selection_log_loss, i))
    return trials[best].candidate, trials


def selection_log_loss(booster: lgb.Booster) -> float:
    """Selection-window binary log loss at the booster's best iteration."""
    return float(booster.best_score["selection"]["binary_logloss"])
