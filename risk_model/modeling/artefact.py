"""The model artefact: a directory that scores identically wherever it is loaded.

Layout (nothing pickled)::

    <dir>/model.txt              LightGBM text model (Booster.model_to_string)
    <dir>/spec.json              everything else, as JSON numbers and strings
    <dir>/merchant_risk.parquet  merchant-risk table used by the features (optional)
    <dir>/reference.json         training reference for monitoring (optional; older
                                 artefacts have none, see risk_model.modeling.reference)
    <dir>/checksums.json         {"algorithm": "sha256", "files": {name: hexdigest}}

``checksums.json`` covers every other file (but ``signature.json``, see below).
:func:`load_artefact` reads each file once, verifies its sha256 on those bytes and parses
the same bytes (:mod:`~risk_model.modeling.artefact_files`), so nothing can be swapped
between the check and the parse; it refuses a directory with a missing, extra or altered
file. It then checks, before anything uses them, every ``spec.json`` field scoring reads
(:mod:`~risk_model.modeling.spec_check`), the structure of ``model.txt`` before LightGBM's
C parser sees it (:mod:`~risk_model.modeling.model_text`: a crafted model text can abort
the process) and that ``merchant_risk.parquet`` is present and readable when the spec
dates one. Every refusal on load is a :class:`ModelLoadError` (a subclass of
:class:`ArtefactError`) reading ``"<file>: <field>: <problem>"``.

Signing (optional, :mod:`~risk_model.modeling.signing`): with the environment variable
``CLOSURE_RISK_SIGNING_KEY`` set, :func:`save_artefact` also writes ``signature.json``
(HMAC-SHA256 of the exact ``checksums.json`` bytes) and :func:`load_artefact` refuses an
artefact whose signature is missing or wrong. Without the variable, an existing
``signature.json`` is ignored without error.

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

from risk_model.attributes import AttributeSpec
from risk_model.modeling.artefact_files import (
    CHECKSUMS_FILE,
    MERCHANT_RISK_FILE,
    MODEL_FILE,
    REFERENCE_FILE,
    SPEC_FILE,
    checksums_bytes,
    read_verified,
)
from risk_model.modeling.calibration import apply_calibration
from risk_model.modeling.errors import ArtefactError, ModelLoadError, fail, shown
from risk_model.modeling.model_text import check_model_text
from risk_model.modeling.reference import TrainingReference, parse_reference
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.signing import SIGNATURE_FILE, signature_bytes, signing_key
from risk_model.modeling.spec_check import REQUIRED_KEYS, CheckedSpec, check_spec
from risk_model.modeling.transforms import apply_transforms
from risk_model.modeling.treeshap import TreeTables, tree_tables
from risk_model.policy import PolicyCalendar

FORMAT_VERSION = 1
REQUIRED_SPEC_KEYS = REQUIRED_KEYS
__all__ = [
    "CHECKSUMS_FILE",
    "FORMAT_VERSION",
    "MERCHANT_RISK_FILE",
    "MODEL_FILE",
    "REFERENCE_FILE",
    "REQUIRED_SPEC_KEYS",
    "SIGNATURE_FILE",
    "SPEC_FILE",
    "ArtefactError",
    "ModelArtefact",
    "ModelLoadError",
    "load_artefact",
    "save_artefact",
    "verify_checksums",
]


def _spec_bytes(spec: dict[str, Any], booster_features: list[str]) -> bytes:
    """Return the ``spec.json`` bytes to write, checked as the loader will check them."""
    if "feature_names" in spec and list(booster_features) != list(spec["feature_names"]):
        raise ArtefactError("model.txt features differ from spec feature_names")
    text = json.dumps(spec, indent=2, sort_keys=True, allow_nan=True, default=str) + "\n"
    try:  # check what will be read back, not the Python objects
        check_spec(json.loads(text), where=SPEC_FILE, format_version=FORMAT_VERSION)
    except ModelLoadError as exc:
        raise ArtefactError(f"refusing to save an invalid spec: {exc}") from exc
    return text.encode("utf-8")


def save_artefact(
    path: str | Path,
    *,
    booster: lgb.Booster,
    spec: dict[str, Any],
    merchant_risk: pa.Table | None,
    reference: TrainingReference | None = None,
) -> Path:
    """Write an artefact directory.

    Parameters
    ----------
    path : str or Path
        Target directory; must not exist or be empty.
    booster : lightgbm.Booster
        Trained model (saved as text, best iteration only).
    spec : dict
        JSON-serialisable specification (see module docstring for the required keys);
        checked as :func:`load_artefact` will check it.
    merchant_risk : pyarrow.Table, optional
        Merchant-risk table to score with; ``None`` when the model does not use one.
    reference : TrainingReference, optional
        Training reference for monitoring, written as ``reference.json``.

    Returns
    -------
    Path
        The artefact directory.

    Raises
    ------
    ArtefactError
        When the directory is not empty, the spec is invalid or does not match the
        booster, or ``CLOSURE_RISK_SIGNING_KEY`` is set but empty.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise ArtefactError(f"artefact directory is not empty: {path}")
    key = signing_key()  # before writing: a set-but-empty key fails with nothing written
    files = {SPEC_FILE: _spec_bytes(spec, booster.feature_name())}
    files[MODEL_FILE] = booster.model_to_string(num_iteration=-1).encode("utf-8")
    if merchant_risk is not None:
        sink = pa.BufferOutputStream()
        pq.write_table(merchant_risk, sink)
        files[MERCHANT_RISK_FILE] = sink.getvalue().to_pybytes()
    elif spec.get("merchant_risk_as_of") is not None:
        raise ArtefactError("spec dates a merchant-risk table (merchant_risk_as_of) but none given")
    if reference is not None:
        files[REFERENCE_FILE] = reference.to_bytes()
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():  # checksums are of these bytes, not re-read files
        (path / name).write_bytes(data)
    sums = checksums_bytes(files)
    (path / CHECKSUMS_FILE).write_bytes(sums)
    if key is not None:
        (path / SIGNATURE_FILE).write_bytes(signature_bytes(sums, key))
    return path


def verify_checksums(path: str | Path) -> None:
    """Check every file of an artefact against ``checksums.json``.

    Raises
    ------
    ModelLoadError
        When the directory or checksums file is missing, the signature (with
        ``CLOSURE_RISK_SIGNING_KEY`` set) is missing or wrong, or a file is missing,
        extra or altered.
    """
    read_verified(path)


@functools.lru_cache(maxsize=32)
def _column_positions(columns: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    # The frame layout repeats from call to call: the positions are computed once.
    index = {column: i for i, column in enumerate(columns)}
    missing = [n for n in names if n not in index]
    if missing:
        raise KeyError(f"feature column(s) missing: {', '.join(missing)}")
    positions = np.array([index[n] for n in names], dtype=np.intp)
    positions.flags.writeable = False
    return positions


@functools.lru_cache(maxsize=4)
def _shared_tree_tables(model_text: str, n_features: int) -> TreeTables | None:
    """:func:`~risk_model.modeling.treeshap.tree_tables`, built once per model text.

    Why: a training loads its model three times (plots, MLflow's input-example check, the
    champion comparison) and a build walks every tree. The tables are read-only, so the
    artefacts of one model text share them.
    """
    return tree_tables(model_text, n_features)


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
    reference : TrainingReference, optional
        Training reference for monitoring; ``None`` for artefacts written without one.
    """

    booster: lgb.Booster
    spec: dict[str, Any]
    merchant_risk: pa.Table | None = None
    path: Path | None = None
    reference: TrainingReference | None = None

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
    def attributes(self) -> AttributeSpec:
        """User attributes the model reads (empty for a model trained without)."""
        return AttributeSpec.from_list(self.spec.get("attributes"))

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
            # where a list of positions copies every column.
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
        return _shared_tree_tables(self.booster.model_to_string(), len(self.feature_names))

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
    ModelLoadError
        ``"<file>: <field>: <problem>"`` when verification fails, a file is malformed
        or the spec is invalid or inconsistent (see the module docstring).
    """
    path = Path(path)
    files = read_verified(path)  # each file read once; everything below parses these bytes
    spec = _parse_json(files[SPEC_FILE], str(path / SPEC_FILE))
    checked = check_spec(spec, where=str(path / SPEC_FILE), format_version=FORMAT_VERSION)
    booster = _load_booster(files[MODEL_FILE], checked, str(path / MODEL_FILE))
    merchant_risk = _load_merchant_risk(files.get(MERCHANT_RISK_FILE), checked, path)
    reference = None
    if REFERENCE_FILE in files:
        reference = parse_reference(
            files[REFERENCE_FILE],
            where=str(path / REFERENCE_FILE),
            feature_names=checked.feature_names,
            band_names=checked.scale.band_names,
        )
    return ModelArtefact(
        booster=booster, spec=spec, merchant_risk=merchant_risk, path=path, reference=reference
    )


def _parse_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        fail(where, "(file)", f"{SPEC_FILE} is unreadable: {shown(str(exc))}")


def _load_booster(data: bytes, checked: CheckedSpec, where: str) -> lgb.Booster:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        fail(where, "text", f"non-ASCII byte at offset {exc.start}")
    check_model_text(text, checked.feature_names, where=where)  # before the C parser
    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        fail(where, "(file)", f"LightGBM refused the model: {shown(str(exc))}")
    if booster.feature_name() != list(checked.feature_names):
        fail(where, "feature_names", "model.txt features differ from spec feature_names")
    return booster


def _load_merchant_risk(data: bytes | None, checked: CheckedSpec, path: Path) -> pa.Table | None:
    where = str(path / MERCHANT_RISK_FILE)
    if data is None:
        if checked.merchant_risk_as_of is not None:  # else scores would depend on the batch
            fail(where, "(file)", "missing, but spec.json dates one (merchant_risk_as_of)")
        return None
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        fail(where, "(file)", f"unreadable parquet: {shown(str(exc))}")
    if checked.merchant_risk_as_of is not None:
        from risk_model.features.merchant_table import MERCHANT_RISK_SCHEMA

        if not table.schema.remove_metadata().equals(MERCHANT_RISK_SCHEMA.remove_metadata()):
            fail(where, "schema", "columns differ from the merchant-risk table schema")
    return table
