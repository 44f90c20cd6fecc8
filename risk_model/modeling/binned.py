"""Training and selection rows binned once and shared by the fits that can share them.

Before LightGBM grows a tree it bins the rows (``Dataset`` construction: each float feature
cut into at most ``max_bin`` bins, every row pushed into them). In the quick start each of
the six capacity-search fits binned its sample and the selection rows afresh: about 5 of
the search's 7 s (a py-spy profile). Binning depends on the rows and on the dataset
parameters, of which the fits of one training differ only in ``min_data_in_leaf``:
LightGBM drops, when it bins, the features that cannot split with that many rows per leaf
(``feature_pre_filter``), and it refuses a smaller value on rows binned for a larger one.
So :func:`risk_model.modeling.train.fit_model` bins once per (rows, rows per leaf): the
search's six candidates have three values, and the model is the one a fresh binning per
fit gives, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class BinnedRows:
    """Training rows and selection rows, binned (constructed) with the same bins.

    Attributes
    ----------
    train : lightgbm.Dataset
        The training rows of the fits, binned.
    selection : lightgbm.Dataset
        The selection rows (early stopping), binned with ``train``'s bins.
    """

    train: lgb.Dataset
    selection: lgb.Dataset

    @classmethod
    def of(
        cls,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_sel: np.ndarray,
        y_sel: np.ndarray,
        *,
        feature_names: Sequence[str],
        params: dict[str, Any],
    ) -> BinnedRows:
        """Bin the rows with ``params`` (a fit's :func:`~risk_model.modeling.train.lgb_params`).

        The result serves, as a fresh binning would, every fit whose parameters differ
        from ``params`` only in what binning does not read (tree shape, learning rate,
        early stopping); not one with another ``min_data_in_leaf``.
        """
        names = list(feature_names)
        train = lgb.Dataset(x_train, label=y_train, feature_name=names, params=dict(params))
        selection = lgb.Dataset(
            x_sel, label=y_sel, reference=train, feature_name=names, params=dict(params)
        )
        return cls(train.construct(), selection.construct())
