"""Entry points: thin wiring around :mod:`risk_model` (argument parsing, I/O, logging).

Importing the package asks OpenMP threads to sleep, not spin, while they wait
(``OMP_WAIT_POLICY=passive``, unless the caller set it): training fits with two LightGBM
threads, and on a busy machine spinning threads make LightGBM several times slower. OpenMP
reads the variable once, when LightGBM loads it, so it is set here, before any entry point
imports LightGBM.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
