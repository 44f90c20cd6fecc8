"""Entry points: thin wiring around :mod:`risk_model` (argument parsing, I/O, logging).

Importing the package asks idle threads to sleep, not spin, unless the caller set otherwise:

- OpenMP (``OMP_WAIT_POLICY=passive``): training fits with two LightGBM threads, and on a busy
  machine spinning threads make LightGBM several times slower.
- OpenBLAS, numpy's and scipy's (``OPENBLAS_THREAD_TIMEOUT=4``): after each call its idle
  threads spin 2**28 cycles before they sleep, taking a core from LightGBM and the rest of
  the command (``python -m pipelines.train`` on a 1,500-account world, idle 2-core machine,
  three runs each: 8.6 s of CPU and 7.5 s of wall with the default, 7.0 s and 6.3 s with 4).
  The thread count, and so every result, stays the same.

Both libraries read their variable once, when they are loaded, so it is set here, before any
entry point imports numpy or LightGBM (this module imports neither).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
