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

Where the edges come from is ``band_origin`` (stored beside them in ``spec.json``):
``{"rule": "quantiles", ...}`` when training derived them from the selection window
(:mod:`risk_model.modeling.bands`), ``{"rule": "fixed", ...}`` when they are the
configuration's. An artefact written before edges were derived has no ``band_origin``:
it loads and keeps the fixed edges it stored, and :meth:`ScoreScale.band_note` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from risk_model.modeling.config import ScaleConfig, check_points_and_edges

FIXED, QUANTILES = "fixed", "quantiles"


@dataclass(frozen=True)
class ScoreScale:
    """Points and bands from probabilities.

    Parameters
    ----------
    base_points, base_odds, pdo, min_points, max_points, band_names :
        As in :class:`risk_model.modeling.config.ScaleConfig`.
    band_thresholds : tuple of float
        The band edges in use (the configuration's, or derived from data).
    band_origin : dict, optional
        Where the edges come from (JSON-ready, ``rule`` first); ``None`` for an artefact
        written before edges were derived (its stored fixed edges are used).
    """

    # Defaults live in ScaleConfig only (one place to change them).
    base_points: float = ScaleConfig.base_points
    base_odds: float = ScaleConfig.base_odds
    pdo: float = ScaleConfig.pdo
    min_points: float = ScaleConfig.min_points
    max_points: float = ScaleConfig.max_points
    band_names: tuple[str, ...] = ScaleConfig.band_names
    band_thresholds: tuple[float, ...] = ScaleConfig.band_thresholds
    band_origin: dict[str, Any] | None = field(
        default_factory=lambda: {"rule": FIXED, "source": "configuration"}, hash=False
    )

    def __post_init__(self) -> None:
        check_points_and_edges(self)

    @classmethod
    def from_config(cls, config: ScaleConfig) -> ScoreScale:
        """Build with the configuration's fixed edges (``band_thresholds``)."""
        return cls(**{k: getattr(config, k) for k in _CONFIG_KEYS})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreScale:
        """Build from :meth:`to_dict` output (as stored in ``spec.json``)."""
        values = {k: data[k] for k in _CONFIG_KEYS}
        values["band_names"] = tuple(values["band_names"])
        values["band_thresholds"] = tuple(float(t) for t in values["band_thresholds"])
        return cls(**values, band_origin=data.get("band_origin"))

    def with_edges(self, edges: tuple[float, ...], origin: dict[str, Any]) -> ScoreScale:
        """Return the same scale with other band edges and their origin."""
        values = self.to_dict_config() | {"band_thresholds": tuple(float(e) for e in edges)}
        return ScoreScale(**values, band_origin=dict(origin))

    def to_dict_config(self) -> dict[str, Any]:
        """Return the configuration values only (points and edges, not their origin)."""
        return {k: getattr(self, k) for k in _CONFIG_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict including the derived factor, offset and points cuts."""
        out = self.to_dict_config()
        out["band_names"] = list(self.band_names)
        out["band_thresholds"] = list(self.band_thresholds)
        if self.band_origin is not None:
            out["band_origin"] = dict(self.band_origin)
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

    def band_note(self) -> str:
        """One sentence: the edges in use and where they come from (logs, report)."""
        edges = ", ".join(f"{e:.4g}" for e in self.band_thresholds)
        origin = self.band_origin
        if origin is None:
            return (
                f"band edges {edges}: fixed edges stored by a model trained before edges were "
                "derived from the data (retrain for data-derived bands)"
            )
        if origin.get("rule") == QUANTILES:
            shares = "/".join(f"{100 * s:.0f}" for s in origin["shares"])
            return (
                f"band edges {edges}: derived from {origin['rows']:,} served "
                f"{origin['window']}-window probabilities (base rate {origin['base_rate']:.4f}) "
                f"so the bands hold {shares}% of them"
            )
        why = origin.get("why")
        return f"band edges {edges}: fixed, from the configuration" + (f" ({why})" if why else "")


_CONFIG_KEYS = (
    "base_points",
    "base_odds",
    "pdo",
    "min_points",
    "max_points",
    "band_names",
    "band_thresholds",
)
