"""Typed training configuration: dataclasses with defaults, TOML loading and overrides.

A configuration is a :class:`TrainConfig` made of sections (``snapshot``, ``split``,
``model``, ``calibration``, ``scale``, ``tracking``) plus a few top-level values. It can
be read from a TOML file whose tables mirror the sections::

    seed = 7
    horizon_months = 3

    [split]
    oot_months = 3

    [model]
    learning_rate = 0.05

Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` with the
dotted name of the offending key. Reading and overrides live in
:mod:`risk_model.modeling.config_load` (``load_config``, ``config_from_dict``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class SnapshotConfig:
    """Which month ends become training rows.

    Parameters
    ----------
    max_months : int, optional
        Keep only the last ``max_months`` labelled month ends (``None`` keeps all).
    as_of_dates : tuple of str, optional
        Explicit ISO as-of dates; overrides the automatic choice.
    account_fraction : float
        Deterministic share of accounts kept (hash of the account id), 1.0 keeps all.
    """

    max_months: int | None = None
    as_of_dates: tuple[str, ...] | None = None
    account_fraction: float = 1.0

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if self.max_months is not None and self.max_months < 1:
            raise ConfigError("snapshot.max_months must be >= 1")
        if not 0.0 < self.account_fraction <= 1.0:
            raise ConfigError("snapshot.account_fraction must be in (0, 1]")


_CLOCK_CAP = 12.0  # months: beyond a year, "since/until a policy date" carries no signal
# A sweep that starts after the label horizon cannot close an account inside it, so "months
# to the next sweep" is bounded by the horizon. A 12-month cap made "no sweep announced"
# (filled with the cap) look like the month right after a sweep, whose label window still
# held sweep closures: the model carried that sweep level into sweep-free months.
SWEEP_CLOCK = "months_to_sweep"


@dataclass(frozen=True)
class FeatureConfig:
    """Feature selection and bounded calendar clocks (see :mod:`.transforms`).

    Parameters
    ----------
    exclude : tuple of str
        Catalogue features left out of the model.
    fill_missing : dict
        Value given to a missing feature (e.g. "no sweep announced" = the cap).
    clip_min, clip_max : dict
        Bounds per feature.
    sweep_lookahead : float, optional
        Fill and cap of ``months_to_sweep`` unless ``fill_missing`` / ``clip_max`` name it;
        ``None`` means the label horizon (a sweep after it cannot close an account inside it).
    """

    exclude: tuple[str, ...] = ()
    fill_missing: dict[str, float] = field(
        default_factory=lambda: {"months_since_sweep": _CLOCK_CAP}
    )
    clip_min: dict[str, float] = field(
        default_factory=lambda: {
            "months_to_migration_deadline": -3.0,
            "months_since_migration_offer": -_CLOCK_CAP,
        }
    )
    clip_max: dict[str, float] = field(
        default_factory=lambda: {
            "months_since_sweep": _CLOCK_CAP,
            "months_to_migration_deadline": _CLOCK_CAP,
            "months_since_migration_offer": 3.0,
        }
    )
    sweep_lookahead: float | None = None

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        for name, low in self.clip_min.items():
            if name in self.clip_max and self.clip_max[name] < low:
                raise ConfigError(f"features.clip_max.{name} is below features.clip_min.{name}")
        if self.sweep_lookahead is not None and self.sweep_lookahead <= 0:
            raise ConfigError("features.sweep_lookahead must be > 0")

    def transforms(self, horizon_months: int) -> dict[str, dict[str, float]]:
        """Return the fill and clip settings as one dict, the sweep clock bounded by the horizon."""
        lookahead = float(self.sweep_lookahead or horizon_months)
        return {
            "fill_missing": {SWEEP_CLOCK: lookahead} | dict(self.fill_missing),
            "clip_min": dict(self.clip_min),
            "clip_max": {SWEEP_CLOCK: lookahead} | dict(self.clip_max),
        }


@dataclass(frozen=True)
class SplitConfig:
    """Out-of-time split windows, in labelled month ends.

    Parameters
    ----------
    oot_months : int
        Last labelled months kept as the out-of-time test window.
    val_months : int
        Months of the *selection* window before the OOT window: capacity, early stopping,
        calibration and champion/challenger are chosen on it (the OOT window only reports).
    gap_months : int, optional
        Months dropped between train and validation and between validation and OOT so
        that no label window overlaps the next part's as-of date; ``None`` means the horizon.
    min_train_months : int
        Fewer train months than this falls back to a split by account.
    val_fraction, test_fraction : float
        Account shares for the fallback split by account (stratified, seeded).
    """

    oot_months: int = 3
    val_months: int = 3
    gap_months: int | None = None
    min_train_months: int = 3
    val_fraction: float = 0.2
    test_fraction: float = 0.2

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if self.oot_months < 1 or self.val_months < 1:
            raise ConfigError("split.oot_months and split.val_months must be >= 1")
        if self.gap_months is not None and self.gap_months < 0:
            raise ConfigError("split.gap_months must be >= 0")
        if self.min_train_months < 1:
            raise ConfigError("split.min_train_months must be >= 1")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1):
            raise ConfigError("split.val_fraction and split.test_fraction must be in (0, 1)")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("split.val_fraction + split.test_fraction must be < 0.9")


@dataclass(frozen=True)
class ModelConfig:
    """LightGBM parameters (binary objective, no class reweighting).

    Parameters
    ----------
    learning_rate, num_leaves, min_data_in_leaf, feature_fraction, bagging_fraction,
    bagging_freq, lambda_l2, max_bin :
        Usual LightGBM parameters.
    max_depth : int
        Depth limit of every tree, -1 for none. TreeSHAP reasons cost grows with depth
        squared, so shallow trees make scoring with reasons cheaper.
    num_boost_round : int
        Upper bound on trees; early stopping on validation picks the number used.
    early_stopping_rounds : int
        Rounds without validation improvement before stopping.
    num_threads : int
        LightGBM threads for the fits and the training's batch predictions. The trees do
        not depend on it (deterministic, row-wise histograms: the same model text with 1
        or 2 threads, ``tests/modeling/test_train.py``); 2 fits the quick start in its
        time on a 2-core machine. Scoring has its own setting (``Predictor``, default 1).
    monotone : bool
        Apply the catalogue's monotone directions as constraints.
    capacity_search : bool
        Choose depth, leaves and rows per leaf on the selection window (see
        :mod:`risk_model.modeling.capacity`); off uses the values above as they stand.
    search_rows : int
        Training rows (whole accounts) the search fits on; the winner is refitted on all.
    search_learning_rate : float
        Learning rate of the search fits (faster than the final fit's).
    """

    # A small learning rate: many small steps give finely graded scores (few ties between
    # accounts) and, on the dev worlds (seeds 1, 2, 5, never the acceptance worlds), a lower
    # selection log loss than 0.05 on every seed; 0.05 left 3,500-6,300 distinct selection
    # probabilities per 10k, 0.02 left 6,000-6,800, at about 2.5x the trees (scoring cost
    # grows with them). Shape and rows per leaf below are used as they stand only with
    # capacity_search off; otherwise the search (risk_model.modeling.capacity) chooses them
    # on the selection window. Nothing here was chosen by looking at the out-of-time window.
    learning_rate: float = 0.02
    num_leaves: int = 8
    max_depth: int = 3
    min_data_in_leaf: int = 500
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_bin: int = 255
    num_boost_round: int = 3000
    early_stopping_rounds: int = 50
    num_threads: int = 2
    monotone: bool = True
    capacity_search: bool = True
    search_rows: int = 40_000
    search_learning_rate: float = 0.2

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if not 0 < self.learning_rate <= 1 or not 0 < self.search_learning_rate <= 1:
            raise ConfigError("model.learning_rate and search_learning_rate must be in (0, 1]")
        if self.search_rows < 1000:
            raise ConfigError("model.search_rows must be >= 1000")
        if self.num_leaves < 2:
            raise ConfigError("model.num_leaves must be >= 2")
        if self.max_depth == 0 or self.max_depth < -1:
            raise ConfigError("model.max_depth must be -1 (no limit) or >= 1")
        if self.min_data_in_leaf < 1:
            raise ConfigError("model.min_data_in_leaf must be >= 1")
        for name in ("feature_fraction", "bagging_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"model.{name} must be in (0, 1]")
        if self.num_boost_round < 1 or self.early_stopping_rounds < 1:
            raise ConfigError("model.num_boost_round and early_stopping_rounds must be >= 1")
        if self.num_threads < 1:
            raise ConfigError("model.num_threads must be >= 1")
        if self.lambda_l2 < 0 or self.bagging_freq < 0 or self.max_bin < 2:
            raise ConfigError("model.lambda_l2/bagging_freq must be >= 0, max_bin >= 2")


@dataclass(frozen=True)
class CalibrationConfig:
    """Probability calibration fitted on the selection window.

    Parameters
    ----------
    method : str
        ``auto`` (choose by cross-fitted selection log loss), ``identity`` (the booster's
        own probability), ``isotonic`` or ``sigmoid``.
    folds_by : str
        ``month`` (default): ``auto`` holds out one selection month at a time and keeps
        ``identity`` unless a fitted map beats it on every held-out month, because the map
        is used on later months and a selection window can hold a policy event (sweep)
        whose level does not carry. ``account``: ``folds`` folds grouped by account, same
        rule fold by fold.
    folds : int
        Folds (grouped by account) for the cross-fitted choice with ``folds_by="account"``.
    """

    method: str = "auto"
    folds_by: str = "month"
    folds: int = 2

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if self.method not in ("auto", "identity", "isotonic", "sigmoid"):
            raise ConfigError("calibration.method must be one of auto, identity, isotonic, sigmoid")
        if self.folds_by not in ("month", "account"):
            raise ConfigError("calibration.folds_by must be month or account")
        if self.folds < 2:
            raise ConfigError("calibration.folds must be >= 2")


@dataclass(frozen=True)
class ScaleConfig:
    """Score scale and named risk bands.

    Parameters
    ----------
    base_points : float
        Points at the base odds.
    base_odds : float
        Good:bad odds at ``base_points`` (19 means 19:1).
    pdo : float
        Points to double the good:bad odds.
    min_points, max_points : float
        Clipping range.
    band_names : tuple of str
        Band names from lowest to highest risk.
    band_edges : str
        ``quantiles`` (default): training derives the edges from the served probabilities
        of the selection window so that band ``i`` holds about ``band_shares[i]`` of its
        rows (:mod:`risk_model.modeling.bands`); ``fixed``: the edges are
        ``band_thresholds``, whatever the data.
    band_shares : tuple of float
        Target share of the selection window in each band (``quantiles``; sum 1).
    band_thresholds : tuple of float
        Upper probability bound of every band but the last (ascending): the edges with
        ``band_edges = "fixed"``, and the fallback when the selection window has fewer
        distinct probabilities than bands.
    """

    base_points: float = 600.0
    base_odds: float = 19.0
    pdo: float = 50.0
    min_points: float = 350.0
    max_points: float = 950.0
    band_names: tuple[str, ...] = ("very_low", "low", "medium", "high", "very_high")
    band_edges: str = "quantiles"
    band_shares: tuple[float, ...] = (0.40, 0.30, 0.20, 0.07, 0.03)
    band_thresholds: tuple[float, ...] = (0.01, 0.03, 0.08, 0.20)

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        check_points_and_edges(self)
        if self.band_edges not in ("quantiles", "fixed"):
            raise ConfigError("scale.band_edges must be quantiles or fixed")
        shares = list(self.band_shares)
        if len(shares) != len(self.band_names):
            raise ConfigError("scale.band_shares needs one entry per band (scale.band_names)")
        if any(not 0 < s < 1 for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
            raise ConfigError("scale.band_shares must be within (0, 1) and add up to 1")


def check_points_and_edges(scale: Any) -> None:
    """Raise :class:`ConfigError` unless the points and band edges of ``scale`` are valid.

    Shared by :class:`ScaleConfig` and the artefact's
    :class:`~risk_model.modeling.scale.ScoreScale` (whose edges may be derived from data).
    """
    if scale.base_odds <= 0 or scale.pdo <= 0:
        raise ConfigError("scale.base_odds and scale.pdo must be > 0")
    if scale.min_points >= scale.max_points:
        raise ConfigError("scale.min_points must be < scale.max_points")
    if len(scale.band_names) != len(scale.band_thresholds) + 1:
        raise ConfigError("scale.band_names needs one more entry than scale.band_thresholds")
    if len(set(scale.band_names)) != len(scale.band_names):
        raise ConfigError("scale.band_names must be unique")
    th = list(scale.band_thresholds)
    if th != sorted(th) or len(set(th)) != len(th) or any(not 0 < t < 1 for t in th):
        raise ConfigError("scale.band_thresholds must be strictly ascending within (0, 1)")


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow tracking.

    Parameters
    ----------
    tracking_uri : str, optional
        Store URI; ``None`` uses ``MLFLOW_TRACKING_URI``, else ``./mlflow.db``.
    experiment : str
        Experiment name.
    registered_model : str
        Registry name of the model.
    enabled : bool
        Log to MLflow at all.
    """

    tracking_uri: str | None = None
    experiment: str = "closure-risk"
    registered_model: str = "closure-risk"
    enabled: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if not self.experiment or not self.registered_model:
            raise ConfigError("tracking.experiment and tracking.registered_model must be set")


@dataclass(frozen=True)
class PromotionSection:
    """Champion/challenger on the selection window (see :mod:`.promotion`).

    Parameters
    ----------
    resamples : int
        Paired bootstrap resamples of the Gini difference (accounts resampled).
    margin : float
        The lower bound of the difference must exceed this to promote.
    level : float
        Two-sided level of the interval (0.90: the lower bound is a 95% one-sided bound).
    """

    resamples: int = 200
    margin: float = 0.0
    level: float = 0.90

    def check(self) -> None:
        """Raise :class:`ConfigError` on invalid values."""
        if self.resamples < 1:
            raise ConfigError("promotion.resamples must be >= 1")
        if not 0.0 < self.level < 1.0:
            raise ConfigError("promotion.level must be in (0, 1)")
        if not -1.0 < self.margin < 1.0:
            raise ConfigError("promotion.margin must be in (-1, 1)")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Parameters
    ----------
    seed : int
        Seed for LightGBM, the splits, calibration folds and samples.
    horizon_months : int
        Label horizon: closed within this many months after the as-of date.
    contrib_sample : int
        OOT rows used for the per-family contribution plot.
    snapshot, features, split, model, calibration, scale, tracking, promotion :
        Sections, see their classes.
    """

    seed: int = 7
    horizon_months: int = 3
    contrib_sample: int = 5000
    snapshot: SnapshotConfig = field(default_factory=SnapshotConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    promotion: PromotionSection = field(default_factory=PromotionSection)

    def check(self) -> TrainConfig:
        """Validate every section; return ``self`` for chaining."""
        if not 1 <= self.horizon_months <= 24:
            raise ConfigError("horizon_months must be in 1..24")
        if self.contrib_sample < 0:
            raise ConfigError("contrib_sample must be >= 0")
        sections = (self.snapshot, self.features, self.split, self.model, self.calibration)
        for section in (*sections, self.promotion):
            section.check()
        self.scale.check()
        self.tracking.check()
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved configuration as a nested, JSON-ready dict."""
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Return ``{"section.key": value}`` pairs (for MLflow params)."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out
