"""Per-feature input transforms applied before the booster, stored as numbers in the spec.

Some features are *calendar clocks*: every account has the same value on a date (months
since or until a policy date). Unbounded, they let a tree model memorise calendar periods
of the training window and extrapolate them into later months; and a feature that is
never missing in training but missing later (``months_to_sweep`` once no sweep is
announced) is mapped by LightGBM to 0, which there means "sweep now". Capping them at a
horizon-sized value and filling "no such event" with the cap keeps their useful part
(a sweep or deadline is near) and removes the clock.

Order: ``fill_missing`` first, then clipping to ``[clip_min, clip_max]``. The same
function runs in training and inside :class:`~risk_model.modeling.artefact.ModelArtefact`,
so scoring always sees what training saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

KINDS = ("fill_missing", "clip_min", "clip_max")


def resolve_transforms(
    settings: dict[str, dict[str, float]], feature_names: Sequence[str]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Keep the transforms of features the model has; report the names it lacks.

    Parameters
    ----------
    settings : dict
        ``{"fill_missing": {name: value}, "clip_min": {...}, "clip_max": {...}}``.
    feature_names : sequence of str
        Model columns.

    Returns
    -------
    dict
        The applicable transforms (JSON-ready, stored in ``spec.json``).
    list of str
        Configured names that are not model features (ignored).
    """
    names = set(feature_names)
    unknown = sorted({n for kind in KINDS for n in settings.get(kind, {}) if n not in names})
    kept = {
        kind: {n: float(v) for n, v in sorted(settings.get(kind, {}).items()) if n in names}
        for kind in KINDS
    }
    return kept, unknown


def apply_transforms(
    x: np.ndarray, feature_names: Sequence[str], transforms: dict[str, Any] | None
) -> np.ndarray:
    """Return ``x`` with fills and clips applied (a copy when anything changes).

    Parameters
    ----------
    x : numpy.ndarray
        Rows by ``feature_names`` columns.
    feature_names : sequence of str
        Column order of ``x``.
    transforms : dict, optional
        Output of :func:`resolve_transforms`; ``None`` or empty does nothing.

    Returns
    -------
    numpy.ndarray
        Transformed matrix, same dtype.
    """
    if not transforms or not any(transforms.get(kind) for kind in KINDS):
        return x
    index = {n: i for i, n in enumerate(feature_names)}
    out = np.array(x, copy=True)
    for name, value in transforms.get("fill_missing", {}).items():
        column = out[:, index[name]]
        column[np.isnan(column)] = value
    for name, value in transforms.get("clip_min", {}).items():
        np.maximum(out[:, index[name]], value, out=out[:, index[name]])
    for name, value in transforms.get("clip_max", {}).items():
        np.minimum(out[:, index[name]], value, out=out[:, index[name]])
    return out
