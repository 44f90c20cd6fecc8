"""The training reference a model carries for monitoring: ``reference.json`` in the artefact.

Training describes the rows the model was tuned on by the distributions monitoring compares
scored batches with (:mod:`risk_model.monitoring`):

* ``score``: inner edges of ``bins`` quantile bins of the calibrated probability and the
  share of rows in each bin (:func:`~risk_model.modeling.metrics.psi_edges`,
  :func:`~risk_model.modeling.metrics.bin_shares`: the PSI of training, stored);
* ``bands``: the share of rows in each risk band, in the scale's band order;
* ``features``: per model feature, in model order, the share of missing values and the
  edges and shares of its present values (``null`` when none is present).

Which rows: the accounts of the **selection window** at its **latest as-of date**, with
features built by the scoring path with the *production* merchant-risk table (the one in
the artefact) and scored by the final model and calibration: what the production model
serves for those accounts on that date (:func:`reference_rows`). Why these rows:

* a monitored batch is one as-of date; a reference of one date compares like with like
  (features that count months since an event, or of history, move with the date, and a
  mixture of dates would differ from any single date);
* built and scored as a batch is (same path, same merchant table: train rows carry
  merchant statistics computed another way, and the selection rows of the report use an
  older table, so either would show a shift that is only a difference of paths);
* the selection window is the one the calibration was fitted on, its latest date is the
  nearest to deployment, and the out-of-time window stays the report's alone.

``reference.json``::

    {"format_version": 1, "window": "selection", "rows": 4213,
     "as_of": ["2024-06-30", "2024-06-30"], "bins": 10,
     "score": {"edges": [...], "shares": [...]},
     "bands": {"names": [...], "shares": [...]},
     "features": [{"name": ..., "missing_rate": ..., "edges": [...] | null,
                   "shares": [...] | null}, ...]}

It is listed in ``checksums.json`` like every artefact file and is optional: artefacts
written before it existed load and score, and monitoring says they have no reference.
:func:`parse_reference` refuses a malformed file as ``"<file>: <field>: <problem>"``
(:class:`~risk_model.modeling.errors.ModelLoadError`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from risk_model.attributes import AttributeSpec
from risk_model.modeling.errors import fail, shown
from risk_model.modeling.metrics import bin_shares, psi_edges

if TYPE_CHECKING:
    import pyarrow as pa

    from risk_model.modeling.artefact import ModelArtefact
    from risk_model.policy import PolicyCalendar

REFERENCE_FORMAT = 1
BINS = 10
_SHARE_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Binned:
    """A distribution over quantile bins of a reference sample.

    Parameters
    ----------
    edges : tuple of float
        Increasing inner edges; bin ``i`` holds ``edges[i-1] <= v < edges[i]``.
    shares : tuple of float
        Share of the sample in each of the ``len(edges) + 1`` bins (sum 1).
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]

    @classmethod
    def of(cls, values: np.ndarray, bins: int) -> Binned:
        """Bin a sample by its own quantiles (the PSI's expected side)."""
        edges = psi_edges(values, bins)
        return cls(tuple(edges.tolist()), tuple(bin_shares(values, edges).tolist()))

    def shares_of(self, values: np.ndarray) -> np.ndarray:
        """Shares of another sample in these bins."""
        return bin_shares(values, np.asarray(self.edges, dtype=np.float64))

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready form."""
        return {"edges": list(self.edges), "shares": list(self.shares)}


@dataclass(frozen=True)
class FeatureReference:
    """One feature of the reference: its missing share and the bins of its present values."""

    name: str
    missing_rate: float
    values: Binned | None  # None when no reference row has a value


@dataclass(frozen=True)
class TrainingReference:
    """The distributions of the reference rows (see the module notes).

    Parameters
    ----------
    window : str
        Which rows (``selection``).
    rows : int
        Number of reference rows.
    as_of : tuple of str
        First and last as-of date of the rows (ISO).
    bins : int
        Quantile bins asked for (ties may leave fewer).
    score : Binned
        Calibrated probability.
    band_names : tuple of str
        Risk bands, in the scale's order.
    band_shares : tuple of float
        Share of rows per band.
    features : tuple of FeatureReference
        Per model feature, model order.
    """

    window: str
    rows: int
    as_of: tuple[str, str]
    bins: int
    score: Binned
    band_names: tuple[str, ...]
    band_shares: tuple[float, ...]
    features: tuple[FeatureReference, ...]

    def feature(self, name: str) -> FeatureReference:
        """Return one feature's reference (``KeyError`` when the model has no such feature)."""
        for entry in self.features:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the content of ``reference.json``)."""
        return {
            "format_version": REFERENCE_FORMAT,
            "window": self.window,
            "rows": self.rows,
            "as_of": list(self.as_of),
            "bins": self.bins,
            "score": self.score.to_dict(),
            "bands": {"names": list(self.band_names), "shares": list(self.band_shares)},
            "features": [
                {
                    "name": f.name,
                    "missing_rate": f.missing_rate,
                    **(f.values.to_dict() if f.values else {"edges": None, "shares": None}),
                }
                for f in self.features
            ],
        }

    def to_bytes(self) -> bytes:
        """Return the ``reference.json`` bytes (finite numbers only)."""
        return (json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n").encode("utf-8")


def build_reference(
    *,
    prob: np.ndarray,
    bands: np.ndarray,
    features: np.ndarray,
    feature_names: Sequence[str],
    band_names: Sequence[str],
    as_of: Sequence[dt.date],
    window: str = "selection",
    bins: int = BINS,
) -> TrainingReference:
    """Describe reference rows: score bins, band mix, per-feature missing share and bins.

    Parameters
    ----------
    prob : numpy.ndarray
        ``(n,)`` calibrated probabilities.
    bands : numpy.ndarray
        ``(n,)`` band names.
    features : numpy.ndarray
        ``(n, len(feature_names))`` raw feature values (NaN = missing).
    feature_names, band_names : sequence of str
        Model columns and the scale's bands, in order.
    as_of : sequence of datetime.date
        As-of date per row.
    window : str
        Which rows these are.
    bins : int
        Quantile bins.

    Returns
    -------
    TrainingReference
    """
    prob = np.asarray(prob, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    if len(prob) == 0 or x.shape != (len(prob), len(feature_names)):
        raise ValueError(
            f"reference needs rows: probabilities {prob.shape}, features {x.shape} "
            f"for {len(feature_names)} features"
        )
    if not np.isfinite(prob).all():
        raise ValueError("reference probabilities must be finite")
    present = ~np.isnan(x)
    entries = []
    for j, name in enumerate(feature_names):
        values = x[present[:, j], j]
        if not np.isfinite(values).all():
            raise ValueError(f"feature {name} has infinite values")
        binned = Binned.of(values, bins) if len(values) else None
        entries.append(FeatureReference(name, float(1.0 - present[:, j].mean()), binned))
    names = list(band_names)
    labels = np.asarray(bands, dtype=object)
    unknown = sorted(set(labels.tolist()) - set(names))
    if unknown:
        raise ValueError(f"unknown band(s) {unknown}")
    days = sorted({str(d)[:10] for d in as_of})
    return TrainingReference(
        window=window,
        rows=len(prob),
        as_of=(days[0], days[-1]),
        bins=bins,
        score=Binned.of(prob, bins),
        band_names=tuple(names),
        band_shares=tuple(float(np.mean(labels == b)) for b in names),
        features=tuple(entries),
    )


def reference_rows(
    histories: pa.Table,
    keys: pd.DataFrame,
    *,
    merchant_risk: pa.Table | None,
    policy: PolicyCalendar,
    attributes: AttributeSpec | None = None,
) -> pd.DataFrame:
    """Features of the latest as-of date of ``keys``, built by the scoring path.

    Parameters
    ----------
    histories : pyarrow.Table
        The training histories.
    keys : pandas.DataFrame
        ``account_id`` and ``as_of`` of the candidate rows (the selection window).
    merchant_risk : pyarrow.Table, optional
        The production merchant-risk table (the artefact's).
    policy : PolicyCalendar
        The model's policy calendar.
    attributes : AttributeSpec, optional
        The model's user attributes.

    Returns
    -------
    pandas.DataFrame
        ``build_features`` rows of the accounts of ``keys`` at its latest as-of date.
    """
    from risk_model.features import build_features

    latest = pd.Timestamp(keys["as_of"].max())
    accounts = keys.loc[keys["as_of"] == latest, "account_id"]
    frame = build_features(
        histories,
        latest.date(),
        merchant_risk=merchant_risk,
        policy=policy,
        attributes=attributes,
    )
    return frame.loc[frame["account_id"].isin(accounts)].reset_index(drop=True)


def reference_of_rows(
    artefact: ModelArtefact, rows: pd.DataFrame, *, window: str
) -> TrainingReference:
    """Score feature rows with an artefact and describe them (:func:`build_reference`).

    Parameters
    ----------
    artefact : ModelArtefact
        The model (its features, calibration and bands).
    rows : pandas.DataFrame
        ``as_of`` and the model's raw feature columns (:func:`reference_rows`).
    window : str
        Which rows these are.

    Returns
    -------
    TrainingReference
    """
    x = artefact.matrix(rows)
    prob = artefact.predict_proba(x)
    return build_reference(
        prob=prob,
        bands=artefact.bands(prob),
        features=x,
        feature_names=artefact.feature_names,
        band_names=artefact.scale.band_names,
        as_of=rows["as_of"].tolist(),
        window=window,
    )


# --- reading -----------------------------------------------------------------------------


def _number(where: str, field: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(where, field, f"must be a number, got {shown(value)}")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        fail(where, field, f"must be a finite number in [{low}, {high}], got {shown(value)}")
    return number


def _shares(where: str, field: str, value: Any, count: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != count:
        fail(where, field, f"must be a list of {count} shares")
    shares = tuple(_number(where, f"{field}[{i}]", v, 0.0, 1.0) for i, v in enumerate(value))
    if abs(sum(shares) - 1.0) > _SHARE_SUM_TOLERANCE * max(count, 1):
        fail(where, field, f"shares must add up to 1, got {sum(shares)!r}")
    return shares


def _binned(where: str, field: str, value: Any) -> Binned:
    if not isinstance(value, dict):
        fail(where, field, "must be an object with edges and shares")
    edges = value.get("edges")
    if not isinstance(edges, list):
        fail(where, f"{field}.edges", "must be a list")
    numbers = tuple(
        _number(where, f"{field}.edges[{i}]", e, -math.inf, math.inf) for i, e in enumerate(edges)
    )
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        fail(where, f"{field}.edges", "must be strictly increasing")
    return Binned(numbers, _shares(where, f"{field}.shares", value.get("shares"), len(edges) + 1))


def _feature(where: str, i: int, entry: Any) -> FeatureReference:
    field = f"features[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        fail(where, field, "must be an object with a name")
    missing = _number(where, f"{field}.missing_rate", entry.get("missing_rate"), 0.0, 1.0)
    if entry.get("edges") is None and entry.get("shares") is None:
        if missing != 1.0:
            fail(where, field, "no bins, but not every value is missing")
        return FeatureReference(entry["name"], missing, None)
    return FeatureReference(entry["name"], missing, _binned(where, field, entry))


def parse_reference(
    data: bytes, *, where: str, feature_names: Sequence[str], band_names: Sequence[str]
) -> TrainingReference:
    """Read ``reference.json`` bytes and check them against the model they belong to.

    Parameters
    ----------
    data : bytes
        The verified file content.
    where : str
        The file's name for error messages.
    feature_names, band_names : sequence of str
        The model's features and bands (from its checked spec).

    Returns
    -------
    TrainingReference

    Raises
    ------
    ModelLoadError
        ``"<where>: <field>: <problem>"`` on the first problem found.
    """
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        fail(where, "(file)", f"not JSON: {shown(str(exc))}")
    if not isinstance(body, dict):
        fail(where, "(top level)", "must be a JSON object")
    if body.get("format_version") != REFERENCE_FORMAT:
        fail(where, "format_version", f"unsupported format {shown(body.get('format_version'))}")
    window, rows, as_of = body.get("window"), body.get("rows"), body.get("as_of")
    if not isinstance(window, str) or not window.isidentifier():
        fail(where, "window", f"must be a name, got {shown(window)}")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        fail(where, "rows", "must be a positive integer")
    bins = body.get("bins")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1000:
        fail(where, "bins", "must be an integer in 2..1000")
    try:
        first, last = (dt.date.fromisoformat(d).isoformat() for d in as_of)
    except (TypeError, ValueError):
        fail(where, "as_of", "must be two ISO dates")
    bands = body.get("bands")
    if not isinstance(bands, dict) or bands.get("names") != list(band_names):
        fail(where, "bands.names", f"must be the model's bands {list(band_names)}")
    band_shares = _shares(where, "bands.shares", bands.get("shares"), len(band_names))
    entries = body.get("features")
    if not isinstance(entries, list):
        fail(where, "features", "must be a list")
    features = tuple(_feature(where, i, e) for i, e in enumerate(entries))
    if [f.name for f in features] != list(feature_names):
        fail(where, "features", "names must be the model's feature_names, in order")
    return TrainingReference(
        window=window,
        rows=rows,
        as_of=(first, last),
        bins=bins,
        score=_binned(where, "score", body.get("score")),
        band_names=tuple(band_names),
        band_shares=band_shares,
        features=features,
    )
