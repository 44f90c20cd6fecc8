"""Drift of a scored batch against the model's training reference, with traffic lights.

Pure functions over in-memory objects: the reference a model carries
(:class:`~risk_model.modeling.reference.TrainingReference`, ``reference.json`` in the
artefact), the batch's probabilities and bands (the scores table) and, when the histories
are at hand, the batch's raw features built by the predictor. ``python -m pipelines.monitor``
reads the files, renders the report (:mod:`risk_model.monitoring_report`) and logs to MLflow.

Figures
-------
* **score PSI**: the batch's calibrated probabilities in the reference's quantile bins,
  ``PSI = sum (a - e) ln(a / e)`` (:func:`risk_model.modeling.metrics.psi_of_shares`, the
  PSI of training); **CSI**: the same per feature, over its *present* values;
* **band shift**: the PSI of the band mix (one bin per band);
* **missing-rate shift**: per feature, the batch's share of missing values minus the
  reference's, in percentage points (pp).

Each figure gets a light by the rules of :mod:`risk_model.monitoring_lights` (green, amber,
red; grey when not compared or over too few values to mean anything).

A feature with no present value in the batch or the reference has no CSI (light grey); its
missing-rate shift speaks for it. CSI leaves missing values out so that one change is not
counted twice: a feature whose values go missing moves its missing-rate light, and its CSI
says how the values still present moved. Calendar features (catalogue scope ``date``:
months to or since a policy date) hold one value for every account at an as-of date, so
they measure the date, not the population: they are listed, not compared (grey).

A batch of ``m`` rows against ``n`` reference rows over ``k`` bins shows a PSI of about
``(k - 1)(1/m + 1/n)`` from sampling alone (:attr:`MonitorResult.noise_psi`): small
batches are noisy, and a figure over fewer than five values per bin is grey
(:func:`~risk_model.monitoring_lights.too_few_to_light`), its value kept and a feature's
note saying how many values were present.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from risk_model.modeling.metrics import psi_of_shares
from risk_model.modeling.reference import Binned, FeatureReference, TrainingReference
from risk_model.monitoring_lights import (
    GREY,
    LIGHTS,
    MISSING_AMBER,
    MISSING_RED,
    PSI_AMBER,
    PSI_RED,
    bins_holding,
    missing_light,
    psi_light,
    too_few_to_light,
    worst,
)


class NoReferenceError(ValueError):
    """The model carries no training reference, so there is nothing to compare with."""


def require_reference(reference: TrainingReference | None, model_version: str) -> TrainingReference:
    """Return ``reference``; raise :class:`NoReferenceError` naming the model when it is None."""
    if reference is None:
        raise NoReferenceError(
            f"model {model_version} has no training reference (its artefact was written "
            "before monitoring existed, without reference.json): retrain it to monitor it"
        )
    return reference


@dataclass(frozen=True)
class Drift:
    """One distribution compared with its reference.

    Parameters
    ----------
    name : str
        What was compared (``probability``, ``band``).
    value : float
        PSI.
    light : str
        ``green``, ``amber`` or ``red``; ``grey`` when too few values were compared.
    labels : tuple of str
        Bin labels.
    reference, current : tuple of float
        Shares per bin.
    note : str, optional
        Why the light is grey (how many values there were).
    """

    name: str
    value: float
    light: str
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "psi": self.value,
            "light": self.light,
            "note": self.note,
            "bins": [
                {"bin": label, "reference": r, "batch": c}
                for label, r, c in zip(self.labels, self.reference, self.current, strict=True)
            ],
        }


@dataclass(frozen=True)
class FeatureDrift:
    """One feature: CSI of its present values and the change of its missing share.

    Parameters
    ----------
    name : str
        Feature.
    csi : float or None
        CSI; ``None`` when the batch or the reference has no present value.
    csi_light : str
        Light of the CSI: ``grey`` when there is none, or when too few values are present
        to light it (see the module notes).
    missing_reference, missing_current : float
        Share of missing values in the reference and in the batch.
    missing_light : str
        Light of the missing-rate change.
    bins : Drift or None
        The shares behind the CSI.
    note : str, optional
        Why the feature was not compared, or why its CSI is not lit.
    """

    name: str
    csi: float | None
    csi_light: str
    missing_reference: float
    missing_current: float
    missing_light: str
    bins: Drift | None
    note: str | None = None

    @property
    def missing_change(self) -> float:
        """Batch minus reference missing share."""
        return self.missing_current - self.missing_reference

    @property
    def light(self) -> str:
        """The worse of the two lights."""
        return worst([self.csi_light, self.missing_light])

    @property
    def csi_lit(self) -> bool:
        """Whether the CSI was compared and lit (not grey: none, calendar, too few values)."""
        return self.csi is not None and self.csi_light != GREY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "csi": self.csi,
            "csi_light": self.csi_light,
            "missing_reference": self.missing_reference,
            "missing_batch": self.missing_current,
            "missing_change": self.missing_change,
            "missing_light": self.missing_light,
            "bins": None if self.bins is None else self.bins.to_dict()["bins"],
            "note": self.note,
        }


def _number(value: float) -> str:
    return f"{value:.4g}"


def bin_labels(edges: Sequence[float], fmt: Any = _number) -> tuple[str, ...]:
    """Labels ``< e0``, ``e0 to e1``, ..., ``>= ek`` of the bins cut by ``edges``."""
    if not edges:
        return ("all",)
    inner = [f"{fmt(a)} to {fmt(b)}" for a, b in itertools.pairwise(edges)]
    return (f"< {fmt(edges[0])}", *inner, f">= {fmt(edges[-1])}")


def _compared(name: str, binned: Binned, values: np.ndarray, reference_count: int) -> Drift:
    current = tuple(binned.shares_of(values).tolist())
    labels = bin_labels(binned.edges)
    return _drift(name, labels, binned.shares, current, len(values), reference_count)


def _drift(
    name: str,
    labels: tuple[str, ...],
    reference: tuple[float, ...],
    current: tuple[float, ...],
    batch: int,
    reference_count: int,
) -> Drift:
    """Return the PSI of ``current`` against ``reference`` shares, lit unless too few values."""
    value = psi_of_shares(reference, current)
    note = _too_few_note(reference, batch, reference_count)
    light = psi_light(value) if note is None else GREY
    return Drift(name, value, light, labels, reference, current, note)


def _too_few_note(reference_shares: Sequence[float], batch: int, reference: int) -> str | None:
    """Why a figure is not lit, or None when it has enough values to be."""
    if not too_few_to_light(reference_shares, batch, reference):
        return None
    return (
        f"too few values to light: {batch:,} in the batch, {reference:,} in the reference, "
        f"over {bins_holding(reference_shares)} bins"
    )


def score_drift(reference: TrainingReference, prob: np.ndarray) -> Drift:
    """PSI of the batch's probabilities in the reference's score bins."""
    prob = np.asarray(prob, dtype=np.float64)
    if len(prob) == 0 or not np.isfinite(prob).all():
        raise ValueError("score drift needs at least one finite probability")
    return _compared("probability", reference.score, prob, reference.rows)


def band_drift(reference: TrainingReference, bands: Sequence[str]) -> Drift:
    """PSI of the batch's band mix against the reference's (one bin per band)."""
    labels = np.asarray(bands, dtype=object)
    if len(labels) == 0:
        raise ValueError("band drift needs at least one row")
    unknown = sorted(set(labels.tolist()) - set(reference.band_names))
    if unknown:
        raise ValueError(f"band(s) {unknown} are not the model's bands {reference.band_names}")
    current = tuple(float(np.mean(labels == b)) for b in reference.band_names)
    names, shares = reference.band_names, reference.band_shares
    return _drift("band", names, shares, current, len(labels), reference.rows)


CALENDAR_NOTE = "calendar feature: one value for every account at an as-of date"


def calendar_features(catalogue: Sequence[dict[str, Any]]) -> list[str]:
    """Names of the catalogue's calendar features (scope ``date``): not compared."""
    return [entry["name"] for entry in catalogue if entry.get("scope") == "date"]


def feature_drift(
    reference: TrainingReference,
    features: np.ndarray,
    feature_names: Sequence[str],
    *,
    calendar: Sequence[str] = (),
) -> tuple[FeatureDrift, ...]:
    """CSI and missing-rate shift of every model feature.

    Parameters
    ----------
    reference : TrainingReference
        The model's reference.
    features : numpy.ndarray
        ``(m, len(feature_names))`` raw feature values of the batch (NaN = missing).
    feature_names : sequence of str
        The columns of ``features``: the model's features (any order).
    calendar : sequence of str
        Calendar features (:func:`calendar_features`): listed with their missing shares,
        lights grey.

    Returns
    -------
    tuple of FeatureDrift
        In the reference's (model) order.
    """
    x = np.asarray(features, dtype=np.float64)
    names = list(feature_names)
    if x.ndim != 2 or x.shape[1] != len(names) or len(x) == 0:
        raise ValueError(f"features must be (rows > 0, {len(names)}), got {x.shape}")
    expected = [f.name for f in reference.features]
    if sorted(names) != sorted(expected):
        raise ValueError("feature columns differ from the reference's features")
    column = {name: j for j, name in enumerate(names)}
    skip = set(calendar)
    return tuple(
        _one_feature(f, x[:, column[f.name]], f.name in skip, reference.rows)
        for f in reference.features
    )


def _one_feature(
    ref: FeatureReference, values: np.ndarray, calendar: bool, reference_rows: int
) -> FeatureDrift:
    present = values[~np.isnan(values)]
    missing = float(1.0 - len(present) / len(values))
    if calendar:
        return FeatureDrift(
            ref.name, None, GREY, ref.missing_rate, missing, GREY, None, CALENDAR_NOTE
        )
    bins = None
    if ref.values is not None and len(present):
        # The reference stores its missing share, not its count of present values.
        in_reference = round(reference_rows * (1.0 - ref.missing_rate))
        bins = _compared(ref.name, ref.values, present, in_reference)
    return FeatureDrift(
        name=ref.name,
        csi=None if bins is None else bins.value,
        csi_light=GREY if bins is None else bins.light,
        missing_reference=ref.missing_rate,
        missing_current=missing,
        missing_light=missing_light(missing - ref.missing_rate),
        bins=bins,
        note=None if bins is None else bins.note,
    )


@dataclass(frozen=True)
class MonitorResult:
    """Every figure of one monitored batch, with its light.

    Parameters
    ----------
    model_version : str
        Label of the model whose reference was used.
    as_of : str
        The batch's as-of date (ISO).
    rows : int
        Scored accounts in the batch.
    reference : dict
        ``window``, ``rows`` and ``as_of`` (first, last) of the reference rows.
    score, bands : Drift
        Score PSI and band shift.
    features : tuple of FeatureDrift
        Per feature (empty when no features were given).
    feature_rows : int
        Accounts whose features were compared (0 without features).
    """

    model_version: str
    as_of: str
    rows: int
    reference: dict[str, Any]
    score: Drift
    bands: Drift
    features: tuple[FeatureDrift, ...] = field(default=())
    feature_rows: int = 0

    @property
    def lights(self) -> list[str]:
        """Every light: score, bands, then CSI and missing-rate light per feature."""
        per_feature = [light for f in self.features for light in (f.csi_light, f.missing_light)]
        return [self.score.light, self.bands.light, *per_feature]

    @property
    def light(self) -> str:
        """The worst light of the batch."""
        return worst(self.lights)

    @property
    def counts(self) -> dict[str, int]:
        """How many figures are green, amber, red and grey."""
        return {light: self.lights.count(light) for light in (*LIGHTS, GREY)}

    @property
    def noise_psi(self) -> float:
        """PSI expected from sampling alone for the score bins: ``(k - 1)(1/m + 1/n)``."""
        bins = len(self.score.labels)
        return (bins - 1) * (1.0 / self.rows + 1.0 / self.reference["rows"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of every figure (the monitoring JSON)."""
        return {
            "model_version": self.model_version,
            "as_of": self.as_of,
            "rows": self.rows,
            "light": self.light,
            "counts": self.counts,
            "thresholds": {
                "psi": {"amber_from": PSI_AMBER, "red_above": PSI_RED},
                "missing_change": {"amber_from": MISSING_AMBER, "red_above": MISSING_RED},
            },
            "reference": self.reference,
            "noise_psi": self.noise_psi,
            "score": self.score.to_dict(),
            "bands": self.bands.to_dict(),
            "feature_rows": self.feature_rows,
            "features": [f.to_dict() for f in self.features],
        }

    def metrics(self) -> dict[str, float]:
        """Flat figures for MLflow: PSIs, CSIs, missing-rate changes and light counts."""
        out = {
            "rows": float(self.rows),
            "score_psi": self.score.value,
            "band_psi": self.bands.value,
            **{f"lights_{k}": float(v) for k, v in self.counts.items()},
        }
        for f in self.features:
            if f.csi is not None:
                out[f"csi/{f.name}"] = f.csi
            out[f"missing_change/{f.name}"] = f.missing_change
        return out


def monitor(
    reference: TrainingReference | None,
    *,
    model_version: str,
    as_of: str,
    prob: np.ndarray,
    bands: Sequence[str],
    features: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
    calendar: Sequence[str] = (),
) -> MonitorResult:
    """Compare a scored batch (and its features) with the model's training reference.

    Parameters
    ----------
    reference : TrainingReference or None
        The model's reference (``ModelArtefact.reference``).
    model_version : str
        The model's version label (named in the error when there is no reference).
    as_of : str
        The batch's as-of date.
    prob, bands : array-like
        The batch's calibrated probabilities and bands (the scores table).
    features : numpy.ndarray, optional
        The batch's raw features (rows: the accounts whose histories were given).
    feature_names : sequence of str, optional
        Columns of ``features``.
    calendar : sequence of str
        Calendar features, not compared (:func:`calendar_features`).

    Returns
    -------
    MonitorResult

    Raises
    ------
    NoReferenceError
        When ``reference`` is ``None`` (an artefact written before references existed).
    ValueError
        When the batch is empty or does not match the model (bands, features).
    """
    reference = require_reference(reference, model_version)
    drifts: tuple[FeatureDrift, ...] = ()
    rows = 0
    if features is not None:
        if feature_names is None:
            raise ValueError("feature_names are needed with features")
        drifts = feature_drift(reference, features, feature_names, calendar=calendar)
        rows = len(features)
    return MonitorResult(
        model_version=model_version,
        as_of=as_of,
        rows=len(prob),
        reference={"window": reference.window, "rows": reference.rows, "as_of": reference.as_of},
        score=score_drift(reference, prob),
        bands=band_drift(reference, bands),
        features=drifts,
        feature_rows=rows,
    )
