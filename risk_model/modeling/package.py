"""Package a trained model: version label, in-memory artefacts, files on disk, ``latest``.

Two artefacts come out of one training. The *evaluation* artefact carries the merchant-risk
table fitted at the end of the train window and exists only in memory: the out-of-time
rows are scored through it by the predictor (the served path). The *production* artefact
is the same model and calibration with the table refitted at the end of the history; it
is written to disk and registered.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import hashlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa

from risk_model.modeling.artefact import ModelArtefact, save_artefact
from risk_model.modeling.reference import TrainingReference

_RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths in one step (Linux >= 3.15)
_AT_FDCWD = -100


def version_label(model_text: str, now: dt.datetime | None = None) -> str:
    """Return a unique, sortable version label: UTC time to the microsecond, model hash, random tag.

    Two trainings started in the same second (or with the same model) still get different
    labels; the label uses only ``[0-9A-Za-z-]``. The random tag has 32 bits: with 16, fifty
    labels of one model in one microsecond collided about once in fifty draws (birthday bound).
    """
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(model_text.encode()).hexdigest()[:8]
    return f"{stamp}-{digest}-{secrets.token_hex(4)}"


def in_memory_artefact(
    booster: Any, spec: dict[str, Any], merchant_risk: pa.Table | None
) -> ModelArtefact:
    """Wrap a model in an artefact that is never written (the evaluation artefact)."""
    return ModelArtefact(booster=booster, spec=spec, merchant_risk=merchant_risk, path=None)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries atomically; ``False`` where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def replace_directory(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source``; readers see the old or the new copy, never a mix.

    The copy is written beside ``target`` and swapped in with one atomic exchange (or, where
    the system has none, two renames: for a moment ``target`` is absent, never partial).
    Leftovers of an interrupted earlier call are removed first.
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{target.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    fresh = parent / f".{target.name}.new-{secrets.token_hex(4)}"
    try:
        shutil.copytree(source, fresh)
        if target.exists() and _exchange(fresh, target):
            shutil.rmtree(fresh)  # now holds the old copy
            return
        old = parent / f".{target.name}.old-{secrets.token_hex(4)}"
        if target.exists():
            os.rename(target, old)
        os.rename(fresh, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(fresh)


def write_production_artefact(
    out: Path,
    *,
    booster: Any,
    spec: dict[str, Any],
    merchant_risk: pa.Table | None,
    reference: TrainingReference | None = None,
) -> tuple[Path, Path]:
    """Write ``out/<version>/`` and make ``out/latest/`` a copy of it.

    ``reference`` (the training reference for monitoring) is written as ``reference.json``.

    Returns
    -------
    tuple of Path
        The versioned artefact directory and ``latest``.
    """
    artefact_dir = save_artefact(
        out / spec["version"],
        booster=booster,
        spec=spec,
        merchant_risk=merchant_risk,
        reference=reference,
    )
    latest = out / "latest"
    replace_directory(artefact_dir, latest)
    return artefact_dir, latest
