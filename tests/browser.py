"""Headless Chromium for the page tests: find it, draw a page, read the pixels.

Needs the Debian package ``chromium``. Without it the page tests skip, unless
``CLOSURE_RISK_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``, which installs it), where a missing
browser fails them instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """Return the browser's path; skip the test (or fail it, where CI requires one) without."""
    found = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    if found is None:
        if os.environ.get("CLOSURE_RISK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("CLOSURE_RISK_REQUIRE_CHROMIUM=1 but no chromium on PATH")
        pytest.skip("no headless Chromium on PATH (apt-get install -y chromium)")
    return found


def browse(browser: str, page: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    """Open ``page`` in headless Chromium with ``flags`` (e.g. ``--dump-dom``).

    Headless commands combine: ``--screenshot=FILE`` with ``--dump-dom`` in one call writes
    the same PNG and returns the same DOM as two calls, for one browser start (~0.8 s of
    CPU) instead of two (measured on the monitoring report, Chromium 156).
    """
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *flags,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def png_pixels(path: Path) -> np.ndarray:
    """RGB pixels of a PNG file (``(height, width, 3)``)."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
