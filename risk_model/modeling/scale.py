"""Score scale (points) and named risk bands.

``points = offset - factor * ln(odds_bad)`` with ``odds_bad = p / (1 - p)``,
``factor = pdo / ln 2`` and ``offset = base_points + factor * ln(1 / base_odds)``, so a
probability at good:bad odds ``base_odds``:1 scores ``base_points`` and every ``pdo``
points double the good:bad odds. Points are clipped to ``[min_points, max_points]``;
higher points mean lower risk.

Bands are defined by upper probability thresholds (ascending). Because points decrease
strictly with probability, each threshold has an equivalent points cut, so a band can be
read from points as well (:meth:`ScoreScale.band_of_points`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from risk_model.modeling.config import ScaleConfig


@dataclass(frozen=True)
class ScoreScale:
    """Points from probabilities, bands from points or probabilities.

    Parameters
    ----------
    base_points, base_odds, pdo, min_points, max_points, band_names, band_thresholds :
        As in :class:`risk_model.modeling.config.ScaleConfig`.
    """

    # Defaults live in ScaleConfig only (one place to change them).
    base_points: float = ScaleConfig.base_points
    base_odds: float = ScaleConfig.base_odds
    pdo: float = ScaleConfig.pdo
    min_points: float = ScaleConfig.min_points
    max_points: float = ScaleConfig.max_points
    band_names: tuple[str, ...] = ScaleConfig.band_names
    band_thresholds: tuple[float, ...] = ScaleConfig.band_thresholds

    def __post_init__(self) -> None:
        ScaleConfig(**self.to_dict_config()).check()

    @classmethod
    def from_config(cls, config: ScaleConfig) -> ScoreScale:
        """Build from the training configuration section."""
        return cls(**{k: getattr(config, k) for k in cls.__dataclass_fields__})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreScale:
        """Build from :meth:`to_dict` output (as stored in ``spec.json``)."""
        keys = cls.__dataclass_fields__
        values = {k: data[k] for k in keys}
        values["band_names"] = tuple(values["band_names"])
        values["band_thresholds"] = tuple(float(t) for t in values["band_thresholds"])
        return cls(**values)

    def to_dict_config(self) -> dict[str, Any]:
        """Return the configuration values only."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict including the derived factor, offset and points cuts."""
        out = self.to_dict_config()
        out["band_names"] = list(self.band_names)
        out["band_thresholds"] = list(self.band_thresholds)
        out["factor"] = self.factor
        out["offset"] = self.offset
        out["band_min_points"] = self.band_points_cuts().tolist()
        return out

    @property
    def factor(self) -> float:
        """Points per unit of ln(odds): ``pdo / ln 2``."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Points at odds_bad = 1."""
        return self.base_points + self.factor * math.log(1.0 / self.base_odds)

    def points(self, prob: np.ndarray) -> np.ndarray:
        """Points for probabilities of closure (unrounded, clipped)."""
        p = np.clip(np.asarray(prob, dtype=np.float64), 1e-12, 1 - 1e-12)
        raw = self.offset - self.factor * np.log(p / (1.0 - p))
        return np.clip(raw, self.min_points, self.max_points)

    def band_points_cuts(self) -> np.ndarray:
        """Points equivalent of each probability threshold (descending)."""
        th = np.asarray(self.band_thresholds, dtype=np.float64)
        return self.offset - self.factor * np.log(th / (1.0 - th))

    def band_of_prob(self, prob: np.ndarray) -> np.ndarray:
        """Band name per probability: band ``i`` holds ``threshold[i-1] <= p < threshold[i]``."""
        index = np.searchsorted(np.asarray(self.band_thresholds), np.asarray(prob), "right")
        return np.asarray(self.band_names, dtype=object)[index]

    def band_of_points(self, points: np.ndarray) -> np.ndarray:
        """Band name per points value (same cut as :meth:`band_of_prob` before clipping)."""
        cuts = self.band_points_cuts()  # descending: very_low needs points > cuts[0]
        index = np.searchsorted(-cuts, -np.asarray(points, dtype=np.float64), side="left")
        return np.asarray(self.band_names, dtype=object)[index]
