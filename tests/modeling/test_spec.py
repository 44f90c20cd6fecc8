"""spec.json provenance: code version, package versions, frame fingerprint, JSON cleaning."""

from __future__ import annotations

import importlib.metadata
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_model.modeling import spec
from risk_model.modeling.spec import _clean, code_version, frame_fingerprint, package_versions

INSTALLED = f"closure-risk=={importlib.metadata.version('closure-risk')}"


def _git(folder: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(folder), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git work tree laid out like the project: risk_model/ and a README, committed."""
    (tmp_path / "risk_model").mkdir()
    (tmp_path / "risk_model" / "__init__.py").write_text("")
    (tmp_path / "README.md").write_text("readme\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_a_clean_checkout_is_named_by_its_commit(checkout):
    assert code_version(checkout) == _git(checkout, "rev-parse", "HEAD")


def test_a_change_to_the_package_marks_the_commit_dirty(checkout):
    (checkout / "risk_model" / "__init__.py").write_text("x = 1\n")
    assert code_version(checkout) == _git(checkout, "rev-parse", "HEAD") + "-dirty"


def test_a_change_outside_the_code_keeps_the_commit_clean(checkout):
    (checkout / "README.md").write_text("edited\n")
    assert code_version(checkout) == _git(checkout, "rev-parse", "HEAD")


def test_an_installed_package_inside_someone_elses_repository_reports_its_version(checkout):
    # site-packages of a .venv kept in an unrelated repository: git answers for the folder,
    # but with that repository's commit, not the code that runs.
    site = checkout / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    assert code_version(site) == INSTALLED


def test_an_installed_package_outside_any_repository_reports_its_version(tmp_path):
    assert code_version(tmp_path) == INSTALLED


def test_this_checkout_is_named_by_a_commit():
    # The default folder is the one risk_model was imported from: here, the project.
    top = Path(spec.__file__).parents[2]
    if not (top / ".git").exists():
        pytest.skip("the project folder is not a git checkout")
    assert code_version() != INSTALLED
    assert code_version().removesuffix("-dirty") == _git(
        Path(spec.__file__).parents[2], "rev-parse", "HEAD"
    )


def test_package_versions_name_installed_and_missing_distributions(monkeypatch):
    monkeypatch.setattr(spec, "PACKAGES", ("closure-risk", "no-such-distribution-xyz"))
    assert package_versions() == {
        "closure-risk": INSTALLED.split("==")[1],
        "no-such-distribution-xyz": "not installed",
    }


def test_frame_fingerprint_follows_values_and_column_names():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    same = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert frame_fingerprint(frame) == frame_fingerprint(same)
    assert frame_fingerprint(frame) != frame_fingerprint(frame.assign(a=[1.0, 2.5]))
    assert frame_fingerprint(frame) != frame_fingerprint(frame.rename(columns={"b": "c"}))
    assert frame_fingerprint(frame) != frame_fingerprint(frame.iloc[::-1])


def test_clean_gives_json_values():
    raw = {1: [np.float32(0.5), np.int64(3), math.nan], "t": (math.inf, "s", None)}
    assert _clean(raw) == {"1": [0.5, 3, None], "t": [None, "s", None]}
    assert type(_clean(np.int64(3))) is int
    assert _clean(2.5) == 2.5  # finite floats pass unchanged
