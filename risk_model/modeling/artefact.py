"""The model artefact: a directory that scores identically wherever it is loaded.

Layout (nothing pickled)::

    <dir>/model.txt              LightGBM text model (Booster.model_to_string)
    <dir>/spec.json              everything else, as JSON numbers and strings
    <dir>/merchant_risk.parquet  merchant-risk table used by the features (optional)
    <dir>/checksums.json         {"algorithm": "sha256", "files": {name: hexdigest}}

``checksums.json`` covers every other file. :func:`load_artefact` verifies it before
parsing anything and refuses a directory with a missing, extra or altered file
(:class:`ArtefactError`).

``spec.json`` holds at least the keys in :data:`REQUIRED_SPEC_KEYS`:

* ``format_version`` (int), ``version`` (str: model version label),
* ``feature_names`` (list, model column order), ``feature_dtypes`` (float32 on input),
* ``monotone_constraints`` (list of -1/0/+1 aligned with ``feature_names``),
* ``catalogue`` (list of dicts: name, family, cause, definition, window, direction,
  unit, reason template),
* ``calibration`` (see :mod:`risk_model.modeling.calibration`),
* ``scale`` (see :class:`risk_model.modeling.scale.ScoreScale`, includes the bands),
* ``policy`` (``PolicyCalendar.to_dict()``), ``horizon_months`` (int),
* ``merchant_risk_as_of`` (ISO date or null),
* ``feature_transforms`` (optional: fill/clip per feature, applied to every input matrix
  before the booster; see :mod:`risk_model.modeling.transforms`),

and, written by training, ``metrics``, ``data_fingerprint``, ``package_versions``,
``code_version``, ``config``, ``split``, ``created_at``.

Public API used by the predictor::

    art = load_artefact(path)
    X = art.matrix(frame)                  # raw feature columns in model order, float64
    prob = art.predict_proba(X)            # = art.calibrate(art.predict_raw(X))
    pts = art.points(prob); band = art.bands(prob)
    contrib = art.contributions(X)         # TreeSHAP log-odds, last column = bias

``predict_raw``, ``predict_proba`` and ``contributions`` apply the spec's
``feature_transforms`` to ``X`` themselves, so callers always pass raw feature values
(as ``build_features`` returns them) and may quote those values in reasons.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from risk_model.files import sha256_file
from risk_model.modeling.calibration import apply_calibration
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.transforms import apply_transforms
from risk_model.modeling.treeshap import TreeTables, tree_tables
from risk_model.policy import PolicyCalendar

FORMAT_VERSION = 1
MODEL_FILE = "model.txt"
SPEC_FILE = "spec.json"
MERCHANT_RISK_FILE = "merchant_risk.parquet"
CHECKSUMS_FILE = "checksums.json"
REQUIRED_SPEC_KEYS = (
    "format_version",
    "version",
    "feature_names",
    "monotone_constraints",
    "catalogue",
    "calibration",
    "scale",
    "policy",
    "horizon_months",
    "merchant_risk_as_of",
)


class ArtefactError(ValueError):
    """The artefact directory is incomplete, altered or inconsistent."""


def _check_spec(spec: dict[str, Any], booster_features: list[str] | None = None) -> None:
    missing = [k for k in REQUIRED_SPEC_KEYS if k not in spec]
    if missing:
        raise ArtefactError(f"spec is missing key(s): {', '.join(missing)}")
    names = spec["feature_names"]
    if len(spec["monotone_constraints"]) != len(names):
        raise ArtefactError("monotone_constraints must align with feature_names")
    if booster_features is not None and list(booster_features) != list(names):
        raise ArtefactError("model.txt features differ from spec feature_names")


def save_artefact(
    path: str | Path,
    *,
    booster: lgb.Booster,
    spec: dict[str, Any],
    merchant_risk: pa.Table | None,
) -> Path:
    """Write an artefact directory.

    Parameters
    ----------
    path : str or Path
        Target directory; must not exist or be empty.
    booster : lightgbm.Booster
        Trained model (saved as text, best iteration only).
    spec : dict
        JSON-serialisable specification (see module docstring for the required keys).
    merchant_risk : pyarrow.Table, optional
        Merchant-risk table to score with; ``None`` when the model does not use one.

    Returns
    -------
    Path
        The artefact directory.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise ArtefactError(f"artefact directory is not empty: {path}")
    _check_spec(spec, booster.feature_name())
    path.mkdir(parents=True, exist_ok=True)
    (path / MODEL_FILE).write_text(booster.model_to_string(num_iteration=-1), encoding="utf-8")
    text = json.dumps(spec, indent=2, sort_keys=True, allow_nan=True, default=str)
    (path / SPEC_FILE).write_text(text + "\n", encoding="utf-8")
    if merchant_risk is not None:
        pq.write_table(merchant_risk, path / MERCHANT_RISK_FILE)
    files = sorted(p.name for p in path.iterdir() if p.name != CHECKSUMS_FILE)
    checksums = {"algorithm": "sha256", "files": {n: sha256_file(path / n) for n in files}}
    (path / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n", encoding="utf-8")
    return path


def verify_checksums(path: str | Path) -> None:
    """Check every file of an artefact against ``checksums.json``.

    Raises
    ------
    ArtefactError
        When the directory or checksums file is missing, or a file is missing, extra or
        altered.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtefactError(f"artefact directory not found: {path}")
    sums_path = path / CHECKSUMS_FILE
    if not sums_path.is_file():
        raise ArtefactError(f"{CHECKSUMS_FILE} missing in {path}")
    try:
        sums = json.loads(sums_path.read_text(encoding="utf-8"))
        expected = dict(sums["files"])
        if sums.get("algorithm") != "sha256":
            raise ArtefactError(f"unsupported checksum algorithm {sums.get('algorithm')!r}")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArtefactError(f"{CHECKSUMS_FILE} is unreadable: {exc}") from exc
    present = {p.name for p in path.iterdir() if p.name != CHECKSUMS_FILE}
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if missing:
        raise ArtefactError(f"artefact file(s) missing: {', '.join(missing)}")
    if extra:
        raise ArtefactError(f"unexpected file(s) in artefact: {', '.join(extra)}")
    for name, digest in sorted(expected.items()):
        if not (path / name).is_file() or sha256_file(path / name) != digest:
            raise ArtefactError(f"checksum mismatch for {name}: the artefact was altered")


@functools.lru_cache(maxsize=32)
def _column_positions(columns: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    # Label lookup of ~70 names costs ~0.2 ms per call, most of a one-row matrix; the
    # frame layout repeats from call to call, so the positions are computed once.
    index = {column: i for i, column in enumerate(columns)}
    missing = [n for n in names if n not in index]
    if missing:
        raise KeyError(f"feature column(s) missing: {', '.join(missing)}")
    positions = np.array([index[n] for n in names], dtype=np.intp)
    positions.flags.writeable = False
    return positions


@dataclass(frozen=True)
class ModelArtefact:
    """A loaded artefact: booster, spec and merchant-risk table.

    Parameters
    ----------
    booster : lightgbm.Booster
        Model loaded from the text file.
    spec : dict
        Parsed ``spec.json``.
    merchant_risk : pyarrow.Table, optional
        Merchant-risk table, ``None`` if the artefact has none.
    path : Path, optional
        Directory it was loaded from.
    """

    booster: lgb.Booster
    spec: dict[str, Any]
    merchant_risk: pa.Table | None = None
    path: Path | None = None

    @property
    def feature_names(self) -> list[str]:
        """Model input columns, in order."""
        return list(self.spec["feature_names"])

    @property
    def version(self) -> str:
        """Model version label."""
        return str(self.spec["version"])

    @property
    def horizon_months(self) -> int:
        """Label horizon in months."""
        return int(self.spec["horizon_months"])

    @functools.cached_property  # parsed once: scoring reads these on every call
    def policy(self) -> PolicyCalendar:
        """Policy calendar the features were built with."""
        return PolicyCalendar.from_dict(self.spec["policy"])

    @functools.cached_property
    def scale(self) -> ScoreScale:
        """Score scale and bands."""
        return ScoreScale.from_dict(self.spec["scale"])

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature columns of ``frame`` in model order as a float64 matrix.

        Raises
        ------
        KeyError
            When a feature column is missing.
        """
        # columns.tolist(): iterating an Arrow-backed index yields one scalar at a time.
        columns = tuple(frame.columns.tolist())
        positions = _column_positions(columns, tuple(self.spec["feature_names"]))
        first, last = int(positions[0]), int(positions[-1])
        if last - first + 1 == len(positions) and np.all(np.diff(positions) == 1):
            # The usual layout (features in model order after the keys): a slice is a view,
            # where a list of positions copies every column (~0.1 ms of a one-row score).
            return frame.iloc[:, first : last + 1].to_numpy(dtype=np.float64, na_value=np.nan)
        return frame.iloc[:, positions].to_numpy(dtype=np.float64, na_value=np.nan)

    def _check_matrix(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"X must have shape (n, {len(self.feature_names)}), got {x.shape}")
        return apply_transforms(x, self.feature_names, self.spec.get("feature_transforms"))

    def predict_raw(self, X: np.ndarray, *, num_threads: int = 1) -> np.ndarray:  # noqa: N803
        """Raw log-odds of closure."""
        x = self._check_matrix(X)
        return np.asarray(self.booster.predict(x, raw_score=True, num_threads=num_threads))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability from raw log-odds."""
        return apply_calibration(self.spec["calibration"], raw)

    def predict_proba(self, X: np.ndarray, *, num_threads: int = 1) -> np.ndarray:  # noqa: N803
        """Calibrated probability of closure within the horizon."""
        return self.calibrate(self.predict_raw(X, num_threads=num_threads))

    def points(self, prob: np.ndarray) -> np.ndarray:
        """Score points (higher = safer)."""
        return self.scale.points(prob)

    def bands(self, prob: np.ndarray) -> np.ndarray:
        """Risk band names from calibrated probabilities (``ScoreScale.band_of_prob``)."""
        return self.scale.band_of_prob(prob)

    @functools.cached_property
    def shap_tables(self) -> TreeTables | None:
        """Lookup tables for exact TreeSHAP (``None``: the model needs ``pred_contrib``)."""
        return tree_tables(self.booster.model_to_string(), len(self.feature_names))

    def contributions(self, X: np.ndarray, *, num_threads: int = 1) -> np.ndarray:  # noqa: N803
        """TreeSHAP contributions in raw log-odds; last column is the expected value.

        The same values as LightGBM's ``pred_contrib`` (to ~1e-14), from per-model lookup
        tables (:mod:`risk_model.modeling.treeshap`) when the trees fit them, else from
        ``pred_contrib`` itself. A row's values never depend on the other rows.
        """
        x = self._check_matrix(X)
        if self.shap_tables is not None:
            return self.shap_tables.contributions(x)
        out = self.booster.predict(x, pred_contrib=True, num_threads=num_threads)
        return np.asarray(out)


def load_artefact(path: str | Path) -> ModelArtefact:
    """Verify checksums, then load an artefact directory.

    Parameters
    ----------
    path : str or Path
        Directory written by :func:`save_artefact`.

    Returns
    -------
    ModelArtefact
        The loaded artefact.

    Raises
    ------
    ArtefactError
        When verification fails or the spec is inconsistent.
    """
    path = Path(path)
    verify_checksums(path)
    try:
        spec = json.loads((path / SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtefactError(f"{SPEC_FILE} is unreadable: {exc}") from exc
    if spec.get("format_version") != FORMAT_VERSION:
        raise ArtefactError(f"unsupported artefact format {spec.get('format_version')!r}")
    booster = lgb.Booster(model_str=(path / MODEL_FILE).read_text(encoding="utf-8"))
    _check_spec(spec, booster.feature_name())
    merchant_risk = None
    if (path / MERCHANT_RISK_FILE).is_file():
        merchant_risk = pq.read_table(path / MERCHANT_RISK_FILE)
    return ModelArtefact(booster=booster, spec=spec, merchant_risk=merchant_risk, path=path)
