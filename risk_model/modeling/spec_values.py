"""Checks of the numeric sections of ``spec.json``: calibration, score scale, transforms.

Each refuses with :class:`~risk_model.modeling.errors.ModelLoadError`
(``"<file>: <field>: <problem>"``):

* ``calibration``: ``method`` ``sigmoid`` (finite ``a``, ``b``), ``isotonic_interp`` or
  ``isotonic`` (``x`` and ``y`` lists of equal length >= 1, finite, ``x`` strictly
  increasing, ``y`` non-decreasing within [0, 1]; ``isotonic_interp`` also ``y`` within
  (0, 1) and a finite ``tail_slope`` > 0);
* ``scale``: finite ``base_points``, ``min_points`` < ``max_points``, ``base_odds`` and
  ``pdo`` > 0, unique band names, ``band_thresholds`` strictly ascending within (0, 1),
  one band name more than thresholds, and finite derived points cuts; ``band_origin``
  (optional: older artefacts have none) an object with ``rule`` ``fixed`` (an optional
  printable ``why``) or ``quantiles`` (``window`` name, ``rows`` >= 1, ``base_rate``
  within [0, 1], ``shares`` and ``observed``: one share per band);
* ``feature_transforms``: null, or kinds from ``transforms.KINDS`` mapping model
  features to finite numbers.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from risk_model.modeling.errors import fail, shown
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.transforms import KINDS

BAND_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_KNOTS = 1_000_000
METHODS = ("sigmoid", "isotonic_interp", "isotonic")  # isotonic: step maps of old artefacts
_SCALE_NUMBERS = ("base_points", "base_odds", "pdo", "min_points", "max_points")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(where: str, field: str, value: Any) -> list[float]:
    if not isinstance(value, list) or not value or len(value) > MAX_KNOTS:
        fail(where, field, "must be a non-empty list")
    if not all(_finite(v) for v in value):
        fail(where, field, "values must be finite numbers")
    return [float(v) for v in value]


def check_calibration(where: str, calibration: Any) -> None:
    """Refuse a calibration map that :func:`apply_calibration` could not apply safely."""
    if not isinstance(calibration, dict):
        fail(where, "calibration", "must be an object")
    method = calibration.get("method")
    if method == "sigmoid":
        for key in ("a", "b"):
            if not _finite(calibration.get(key)):
                fail(
                    where,
                    f"calibration.{key}",
                    f"must be a finite number, got {shown(calibration.get(key))}",
                )
        return
    if method not in ("isotonic", "isotonic_interp"):
        fail(where, "calibration.method", f"must be {', '.join(METHODS)}, got {shown(method)}")
    x = _numbers(where, "calibration.x", calibration.get("x"))
    y = _numbers(where, "calibration.y", calibration.get("y"))
    if len(x) != len(y):
        fail(where, "calibration.y", f"has {len(y)} values for {len(x)} knots")
    if any(b <= a for a, b in itertools.pairwise(x)):
        fail(where, "calibration.x", "knots must be strictly increasing")
    if any(b < a for a, b in itertools.pairwise(y)) or not 0.0 <= y[0] <= y[-1] <= 1.0:
        fail(where, "calibration.y", "must be non-decreasing within [0, 1]")
    if method == "isotonic_interp":  # logit tails need 0 < y < 1 and a positive slope
        if not 0.0 < y[0] <= y[-1] < 1.0:
            fail(where, "calibration.y", "must be within (0, 1) for isotonic_interp")
        slope = calibration.get("tail_slope")
        if not _finite(slope) or not slope > 0:
            fail(where, "calibration.tail_slope", f"must be finite and > 0, got {shown(slope)}")


def check_scale(where: str, scale: Any) -> ScoreScale:
    """Return the :class:`ScoreScale` of a spec's ``scale`` section, checked."""
    if not isinstance(scale, dict):
        fail(where, "scale", "must be an object")
    for key in _SCALE_NUMBERS:
        if not _finite(scale.get(key)):
            fail(where, f"scale.{key}", f"must be a finite number, got {shown(scale.get(key))}")
    for key in ("base_odds", "pdo"):
        if not scale[key] > 0:
            fail(where, f"scale.{key}", f"must be > 0, got {shown(scale[key])}")
    if not scale["min_points"] < scale["max_points"]:
        fail(where, "scale.min_points", "must be < scale.max_points")
    names = scale.get("band_names")
    if not isinstance(names, list) or not all(
        isinstance(n, str) and BAND_NAME.fullmatch(n) for n in names
    ):
        fail(where, "scale.band_names", f"must be a list of names matching {BAND_NAME.pattern}")
    if len(set(names)) != len(names):
        fail(where, "scale.band_names", "must be unique")
    cuts = _numbers(where, "scale.band_thresholds", scale.get("band_thresholds"))
    if any(not 0.0 < t < 1.0 for t in cuts) or any(b <= a for a, b in itertools.pairwise(cuts)):
        fail(where, "scale.band_thresholds", "must be strictly ascending within (0, 1)")
    if len(names) != len(cuts) + 1:
        fail(where, "scale.band_names", "needs one more entry than scale.band_thresholds")
    _check_band_origin(where, scale.get("band_origin"), len(names))
    try:
        out = ScoreScale.from_dict(scale)
    except (ValueError, TypeError, KeyError) as exc:
        fail(where, "scale", f"not a score scale: {shown(str(exc))}")
    if not all(math.isfinite(c) for c in [out.offset, *out.band_points_cuts().tolist()]):
        fail(where, "scale", "derived offset / points cuts are not finite")
    return out


def _check_band_origin(where: str, origin: Any, bands: int) -> None:
    field = "scale.band_origin"
    if origin is None:
        return
    if not isinstance(origin, dict) or origin.get("rule") not in ("fixed", "quantiles"):
        fail(where, field, "must be an object with rule fixed or quantiles")
    if origin["rule"] == "fixed":
        why = origin.get("why")
        if why is not None and not (isinstance(why, str) and why.isprintable() and len(why) < 500):
            fail(where, f"{field}.why", "must be printable text")
        return
    window, rows = origin.get("window"), origin.get("rows")
    if not isinstance(window, str) or not BAND_NAME.fullmatch(window):
        fail(where, f"{field}.window", f"must be a name matching {BAND_NAME.pattern}")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        fail(where, f"{field}.rows", f"must be an integer >= 1, got {shown(rows)}")
    rate = origin.get("base_rate")
    if not _finite(rate) or not 0.0 <= rate <= 1.0:
        fail(where, f"{field}.base_rate", f"must be within [0, 1], got {shown(rate)}")
    for key in ("shares", "observed"):
        values = _numbers(where, f"{field}.{key}", origin.get(key))
        if len(values) != bands or any(not 0.0 <= v <= 1.0 for v in values):
            fail(where, f"{field}.{key}", f"must hold {bands} shares within [0, 1]")


def check_transforms(where: str, transforms: Any, names: tuple[str, ...]) -> None:
    """Refuse feature transforms of unknown kinds or features, or non-finite values."""
    if transforms is None:
        return
    if not isinstance(transforms, dict):
        fail(where, "feature_transforms", "must be an object or null")
    for kind, values in transforms.items():
        if kind not in KINDS:
            fail(
                where,
                f"feature_transforms.{shown(kind)}",
                f"unknown kind (known: {', '.join(KINDS)})",
            )
        if not isinstance(values, dict):
            fail(where, f"feature_transforms.{kind}", "must be an object")
        for name, value in values.items():
            if name not in names:
                fail(where, f"feature_transforms.{kind}", f"unknown feature {shown(name)}")
            if not _finite(value):
                fail(
                    where,
                    f"feature_transforms.{kind}.{name}",
                    f"must be finite, got {shown(value)}",
                )
