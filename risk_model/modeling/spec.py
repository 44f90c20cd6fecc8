"""Assemble the artefact's ``spec.json`` from a training result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import risk_model
from risk_model.modeling.artefact import FORMAT_VERSION
from risk_model.modeling.config import TrainConfig
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.train import TrainResult, monotone_directions
from risk_model.policy import PolicyCalendar

DISTRIBUTION = "closure-risk"
PACKAGES = (DISTRIBUTION, "lightgbm", "numpy", "pandas", "pyarrow", "scikit-learn", "mlflow")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the model depends on."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version(top: Path | None = None) -> str:
    """Version of the running code: a git commit in a checkout, else the installed version.

    Parameters
    ----------
    top : pathlib.Path, optional
        Folder holding the ``risk_model`` package (default: where it was imported from).

    Returns
    -------
    str
        When ``top`` is the top of a git work tree (a checkout, editable install or not),
        its ``HEAD`` commit, with ``-dirty`` when ``risk_model/`` or ``pipelines/`` has
        changes; otherwise (an installed wheel: ``top`` is ``site-packages``, which may sit
        inside somebody's unrelated repository) ``closure-risk==VERSION`` from the package
        metadata; ``unknown`` when neither is known.
    """
    top = (top or Path(risk_model.__file__).parents[1]).resolve()
    try:
        found = _git(top, "rev-parse", "--show-toplevel")
        if Path(found).resolve() == top:
            dirty = _git(top, "status", "--porcelain", "--", "risk_model", "pipelines")
            return _git(top, "rev-parse", "HEAD") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass  # no git, or not a work tree: an installed package
    try:
        return f"{DISTRIBUTION}=={importlib.metadata.version(DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a frame's values (row hashes in order) and column names."""
    digest = hashlib.sha256()
    digest.update("|".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_spec(
    *,
    result: TrainResult,
    feature_names: Sequence[str],
    catalogue: list[dict[str, Any]],
    config: TrainConfig,
    policy: PolicyCalendar,
    merchant_risk_as_of: dt.date | None,
    version: str,
    data_fingerprint: str,
    code: str,
    evaluation: dict[str, Any] | None = None,
    scale: ScoreScale | None = None,
    attributes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the ``spec.json`` content for a trained model (see ``artefact`` docs).

    ``evaluation`` is the OOT report (:func:`~risk_model.modeling.evaluation.oot_evaluation`
    plus the evaluation table's date); ``None`` for the in-memory artefact that produces it.
    ``scale`` carries the band edges training chose
    (:func:`~risk_model.modeling.bands.training_scale`); ``None`` stores the configuration's
    fixed edges.
    ``attributes`` are the user attributes the model reads
    (:meth:`risk_model.attributes.AttributeSpec.to_list`; ``None``: none).
    """
    names = list(feature_names)
    if names != result.feature_names:
        raise ValueError("feature_names differ from the ones the model was trained on")
    by_name = {c["name"]: c for c in catalogue}
    return _clean(
        {
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "horizon_months": config.horizon_months,
            "feature_names": names,
            "feature_dtypes": {n: "float32" for n in names},
            "monotone_constraints": monotone_directions(names, catalogue)
            if config.model.monotone
            else [0] * len(names),
            "catalogue": [by_name.get(n, {"name": n}) for n in names],
            "attributes": list(attributes or []),
            "feature_transforms": result.transforms,
            "calibration": result.calibrator.to_dict(),
            "scale": (scale or ScoreScale.from_config(config.scale)).to_dict(),
            "policy": policy.to_dict(),
            "merchant_risk_as_of": None
            if merchant_risk_as_of is None
            else merchant_risk_as_of.isoformat(),
            "data_fingerprint": data_fingerprint,
            "metrics": {
                "oot": (evaluation or {}).get("oot", {}).get("metrics"),
                "oot_training_mode": (evaluation or {}).get("oot_training_mode"),
                "truth": (evaluation or {}).get("truth", {}).get("metrics"),
                "gini_ratio": (evaluation or {}).get("gini_ratio"),
                "evaluated_with_merchant_risk_as_of": (evaluation or {}).get("table_as_of"),
                "selection": result.report["selection"],
                "best_iteration": result.report["best_iteration"],
                "capacity": result.report["capacity"],
            },
            "split": result.report["split"],
            "config": config.to_dict() | {"model": dataclasses.asdict(result.model_config)},
            "package_versions": package_versions(),
            "code_version": code,
        }
    )
