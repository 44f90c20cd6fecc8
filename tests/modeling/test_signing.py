import hashlib
import hmac
import json

import pytest

from risk_model.modeling.errors import ArtefactError, ModelLoadError
from risk_model.modeling.signing import (
    ENV_VAR,
    MAX_SIGNATURE_BYTES,
    signature_bytes,
    signing_key,
    verify_signature,
)

CHECKSUMS = b'{"model.txt": "ab"}\n'
KEY = b"secret"


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert signing_key() is None
    monkeypatch.setenv(ENV_VAR, "s\u00e9cret")
    assert signing_key() == "s\u00e9cret".encode()
    monkeypatch.setenv(ENV_VAR, "")  # set but empty: an error, not "no key"
    with pytest.raises(ArtefactError, match="set but empty"):
        signing_key()


def test_a_signature_is_the_hmac_of_the_exact_checksums_bytes():
    body = json.loads(signature_bytes(CHECKSUMS, KEY))
    assert body == {
        "algorithm": "hmac-sha256",
        "signed_file": "checksums.json",
        "hmac": hmac.new(KEY, CHECKSUMS, hashlib.sha256).hexdigest(),
    }
    verify_signature(signature_bytes(CHECKSUMS, KEY), CHECKSUMS, KEY, where="signature.json")


@pytest.mark.parametrize(
    ("signature", "checksums", "key", "field"),
    [
        (None, CHECKSUMS, KEY, r"\(file\): missing"),
        (signature_bytes(CHECKSUMS, b"other"), CHECKSUMS, KEY, "hmac: signature does not match"),
        (signature_bytes(CHECKSUMS, KEY), CHECKSUMS + b" ", KEY, "hmac"),  # checksums altered
        (b"\xff\xfe", CHECKSUMS, KEY, r"\(file\): not JSON"),
        (b" " * (MAX_SIGNATURE_BYTES + 1), CHECKSUMS, KEY, r"\(file\): too large"),
        (b'{"algorithm": "md5"}', CHECKSUMS, KEY, "algorithm: must be hmac-sha256"),
        (
            b'{"algorithm": "hmac-sha256", "signed_file": "spec.json"}',
            CHECKSUMS,
            KEY,
            "signed_file",
        ),
        (
            b'{"algorithm": "hmac-sha256", "signed_file": "checksums.json", "hmac": 5}',
            CHECKSUMS,
            KEY,
            "hmac",
        ),
    ],
)
def test_a_missing_malformed_or_wrong_signature_is_refused(signature, checksums, key, field):
    with pytest.raises(ModelLoadError, match=f"^signature.json: {field}"):
        verify_signature(signature, checksums, key, where="signature.json")
