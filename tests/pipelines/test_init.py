"""``import pipelines`` asks idle OpenMP and OpenBLAS threads to sleep, unless the caller chose.

Each check runs in a fresh interpreter whose environment lacks (or sets) the variables: the
test process imported ``pipelines`` long ago, and the libraries read the variables only when
they are loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys

VARIABLES = ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")
PROBE = (
    "import os, sys\n"
    "import pipelines\n"
    "print(os.environ['OMP_WAIT_POLICY'], os.environ['OPENBLAS_THREAD_TIMEOUT'])\n"
    "print(sorted({'numpy', 'lightgbm', 'scipy'} & set(sys.modules)))\n"
)


def _probe(**preset: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES} | preset
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.splitlines()


def test_importing_pipelines_sets_both_before_any_library_that_reads_them():
    # numpy (OpenBLAS) and LightGBM (OpenMP) read them when loaded: not yet loaded here.
    assert _probe() == ["passive 4", "[]"]


def test_the_callers_choice_is_kept():
    assert _probe(OMP_WAIT_POLICY="active", OPENBLAS_THREAD_TIMEOUT="28")[0] == "active 28"
