"""Score scale (points) and named risk bands.

``points = offset - factor * ln(odds_bad)`` with ``odds_bad = p / (1 - p)``,
``factor = pdo / ln 2`` and ``offset = base_points + factor * ln(1 / base_odds)``, so a
probability at good:bad odds ``base_odds``:1 scores ``base_points`` and every ``pdo``
points double the good:bad odds. Points are clipped to ``[min_points, max_points]``;
higher points mean lower risk.

Bands are defined by upper probability thresholds ``edge_0 < edge_1 < ...`` (ascending)
and read from the probability only (:meth:`ScoreScale.band_of_prob`), with one boundary
rule: band ``i`` holds ``edge_{i-1} <= p < edge_i``, so a probability exactly at an edge
goes to the higher (riskier) band. Bands are never read from points: points are rounded
through a logarithm and clipped, so a points value at a cut cannot say on which side of
the edge its probability was. ``band_min_points`` in :meth:`ScoreScale.to_dict` is the
points equivalent of each edge, for display only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from risk_model.modeling.config import ScaleConfig


@dataclass(frozen=True)
class ScoreScale:
    """Points and bands from probabilities.

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
        """Band name per probability (the one band rule of the package).

        Parameters
        ----------
        prob : numpy.ndarray
            Calibrated probabilities of closure.

        Returns
        -------
        numpy.ndarray
            Band names (object dtype): band ``i`` holds ``edge_{i-1} <= p < edge_i``, so a
            probability exactly at an edge is in the higher band.
        """
        # side="right" counts the edges <= p, which puts p == edge_i above that edge.
        index = np.searchsorted(np.asarray(self.band_thresholds), np.asarray(prob), "right")
        return np.asarray(self.band_names, dtype=object)[index]
