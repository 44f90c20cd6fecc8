"""Optional HMAC signing of an artefact's ``checksums.json``.

Checksums prove a file is the one ``checksums.json`` lists, not who wrote that list:
anyone able to replace ``model.txt`` can rewrite ``checksums.json`` too. With a shared
secret in the environment variable :data:`ENV_VAR` (``CLOSURE_RISK_SIGNING_KEY``):

* :func:`~risk_model.modeling.artefact.save_artefact` also writes :data:`SIGNATURE_FILE`
  (``signature.json``): ``{"algorithm": "hmac-sha256", "signed_file":
  "checksums.json", "hmac": "<hex>"}``, the HMAC-SHA256 under the key (its UTF-8
  bytes) of the exact bytes of ``checksums.json``;
* loading verifies it before reading any other file: a missing, malformed or wrong
  signature refuses the artefact (:class:`~risk_model.modeling.errors.ModelLoadError`);
  digests are compared with :func:`hmac.compare_digest`.

Without the variable nothing is signed, and an existing ``signature.json`` is ignored
without error (artefacts signed elsewhere still load where no key is configured, and
the file never counts as an unexpected extra file). A variable that is set but empty is
an error rather than "no key": a secret that failed to reach the environment must not
switch verification off silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from risk_model.modeling.errors import ArtefactError, fail

ENV_VAR = "CLOSURE_RISK_SIGNING_KEY"
SIGNATURE_FILE = "signature.json"
ALGORITHM = "hmac-sha256"
SIGNED_FILE = "checksums.json"
MAX_SIGNATURE_BYTES = 4096


def signing_key() -> bytes | None:
    """Return the key from :data:`ENV_VAR`, or ``None`` when the variable is unset.

    Raises
    ------
    ArtefactError
        When the variable is set but empty.
    """
    key = os.environ.get(ENV_VAR)
    if key is None:
        return None
    if not key:
        raise ArtefactError(f"{ENV_VAR} is set but empty: unset it or give the key")
    return key.encode("utf-8")


def digest(checksums: bytes, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of the exact ``checksums.json`` bytes under ``key``."""
    return hmac.new(key, checksums, hashlib.sha256).hexdigest()


def signature_bytes(checksums: bytes, key: bytes) -> bytes:
    """Return the content of ``signature.json`` for ``checksums.json`` bytes."""
    body = {"algorithm": ALGORITHM, "signed_file": SIGNED_FILE, "hmac": digest(checksums, key)}
    return (json.dumps(body, indent=2) + "\n").encode("utf-8")


def verify_signature(signature: bytes | None, checksums: bytes, key: bytes, *, where: str) -> None:
    """Refuse unless ``signature`` is a valid signature of ``checksums`` under ``key``.

    Parameters
    ----------
    signature : bytes or None
        Content of ``signature.json``; ``None`` when the file is missing.
    checksums : bytes
        Exact content of ``checksums.json``.
    key : bytes
        The signing key.
    where : str
        The signature file's name for error messages.

    Raises
    ------
    ModelLoadError
        When the signature is missing, malformed or does not match.
    """
    if signature is None:
        fail(where, "(file)", f"missing: {ENV_VAR} is set, so artefacts must be signed")
    if len(signature) > MAX_SIGNATURE_BYTES:
        fail(where, "(file)", "too large")
    try:
        body = json.loads(signature.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        fail(where, "(file)", "not JSON")
    if not isinstance(body, dict) or body.get("algorithm") != ALGORITHM:
        fail(where, "algorithm", f"must be {ALGORITHM}")
    if body.get("signed_file") != SIGNED_FILE:
        fail(where, "signed_file", f"must be {SIGNED_FILE}")
    found = body.get("hmac")
    if not isinstance(found, str) or not hmac.compare_digest(
        found.encode("ascii", "replace"), digest(checksums, key).encode("ascii")
    ):
        fail(where, "hmac", "signature does not match checksums.json (wrong key or altered)")
