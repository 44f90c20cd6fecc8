"""Reading an artefact directory's files once: bounded reads, sha256, optional signature.

Each file is read into memory once; its sha256 is checked on those bytes and the loader
parses the same bytes, so a file swapped between the check and the parse (a
time-of-check / time-of-use race) is never used. ``checksums.json`` may list only the
known artefact files (:data:`KNOWN_FILES`), so a crafted list cannot name a path outside
the directory. Every refusal is a :class:`~risk_model.modeling.errors.ModelLoadError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from risk_model.modeling.errors import fail, shown
from risk_model.modeling.signing import SIGNATURE_FILE, signing_key, verify_signature

MODEL_FILE = "model.txt"
SPEC_FILE = "spec.json"
MERCHANT_RISK_FILE = "merchant_risk.parquet"
REFERENCE_FILE = "reference.json"
CHECKSUMS_FILE = "checksums.json"
KNOWN_FILES = frozenset({MODEL_FILE, SPEC_FILE, MERCHANT_RISK_FILE, REFERENCE_FILE})
REQUIRED_FILES = (MODEL_FILE, SPEC_FILE)
MAX_FILE_BYTES = 1 << 30  # also stops a link to an endless device such as /dev/zero
MAX_CHECKSUMS_BYTES = 1 << 16
_HEX = re.compile(r"[0-9a-f]{64}")


def read_bounded(path: Path, limit: int) -> bytes | None:
    """Return a regular file's bytes (``None`` when missing); refuse more than ``limit``."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        fail(str(path), "(file)", f"unreadable: {exc.strerror or type(exc).__name__}")
    if len(data) > limit:
        fail(str(path), "(file)", f"larger than {limit} bytes")
    return data


def _expected(path: Path, data: bytes) -> dict[str, str]:
    where = str(path / CHECKSUMS_FILE)
    try:
        sums = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        fail(where, "(file)", f"{CHECKSUMS_FILE} is unreadable: {type(exc).__name__}")
    if not isinstance(sums, dict) or not isinstance(sums.get("files"), dict):
        fail(where, "files", f"{CHECKSUMS_FILE} is unreadable: no files object")
    if sums.get("algorithm") != "sha256":
        fail(where, "algorithm", "unsupported checksum algorithm (sha256 expected)")
    expected = sums["files"]
    for name, digest in expected.items():
        if name not in KNOWN_FILES:
            fail(where, "files", f"unexpected file(s) in artefact listing: {shown(name)}")
        if not isinstance(digest, str) or not _HEX.fullmatch(digest):
            fail(where, f"files.{name}", "not a sha256 hex digest")
    missing = [n for n in REQUIRED_FILES if n not in expected]
    if missing:
        fail(where, "files", f"artefact file(s) missing: {', '.join(missing)}")
    return expected


def read_verified(path: str | Path) -> dict[str, bytes]:
    """Read every file of an artefact once and verify it against ``checksums.json``.

    Parameters
    ----------
    path : str or Path
        The artefact directory.

    Returns
    -------
    dict of str to bytes
        The verified bytes of every listed file, by name.

    Raises
    ------
    ModelLoadError
        When the directory or ``checksums.json`` is missing or malformed, the signature
        (with :data:`~risk_model.modeling.signing.ENV_VAR` set) is missing or wrong, or
        a file is missing, extra, too large or altered.
    """
    path = Path(path)
    if not path.is_dir():
        fail(str(path), "(directory)", "artefact directory not found")
    sums = read_bounded(path / CHECKSUMS_FILE, MAX_CHECKSUMS_BYTES)
    if sums is None:
        fail(str(path), CHECKSUMS_FILE, f"{CHECKSUMS_FILE} missing in {path}")
    expected = _expected(path, sums)
    key = signing_key()
    if key is not None:  # without a key an existing signature.json is ignored
        signature = read_bounded(path / SIGNATURE_FILE, MAX_CHECKSUMS_BYTES)
        verify_signature(signature, sums, key, where=str(path / SIGNATURE_FILE))
    present = {p.name for p in path.iterdir()} - {CHECKSUMS_FILE, SIGNATURE_FILE}
    missing, extra = sorted(set(expected) - present), sorted(present - set(expected))
    if missing:
        fail(str(path), "(files)", f"artefact file(s) missing: {', '.join(missing)}")
    if extra:
        fail(
            str(path),
            "(files)",
            f"unexpected file(s) in artefact: {', '.join(map(shown, extra[:5]))}",
        )
    files = {}
    for name, digest in sorted(expected.items()):
        data = read_bounded(path / name, MAX_FILE_BYTES)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            fail(
                str(path / name),
                "sha256",
                f"checksum mismatch for {name}: the artefact was altered",
            )
        files[name] = data
    return files


def checksums_bytes(files: dict[str, bytes]) -> bytes:
    """Return the ``checksums.json`` content for files given by name and bytes."""
    digests = {name: hashlib.sha256(files[name]).hexdigest() for name in sorted(files)}
    return (json.dumps({"algorithm": "sha256", "files": digests}, indent=2) + "\n").encode()
