"""The scoring stack, imported by ``python -m pipelines.score`` before it loads the model.

LightGBM's package imports scikit-learn for its estimator wrappers: about 0.7 s, half of
the scoring command's start-up. Scoring needs only ``lightgbm.Booster``, so this module
imports lightgbm with scikit-learn hidden, but only when neither is imported yet: a
process that already has them (a test session, a notebook) keeps them as they are.
scikit-learn itself stays importable afterwards (training code imports it where used).
Importing this module is its whole effect; library code never does this.
"""

from __future__ import annotations

import importlib
import sys


def _import_lightgbm_without_sklearn() -> None:
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # "import sklearn" fails
    try:
        importlib.import_module("lightgbm")
    finally:
        del sys.modules["sklearn"]


_import_lightgbm_without_sklearn()

importlib.import_module("risk_model.predict")
importlib.import_module("risk_model.features")
