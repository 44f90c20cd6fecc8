"""Point-in-time feature pipeline: account histories -> one feature row per (account, as-of).

See :mod:`risk_model.features.catalogue` for every feature's definition and
:func:`build_features` for the point-in-time rules.
"""

from risk_model.features.build import build_features, fit_merchant_risk
from risk_model.features.catalogue import FEATURES, FeatureSpec, catalogue_frame, feature_names

__all__ = [
    "FEATURES",
    "FeatureSpec",
    "build_features",
    "catalogue_frame",
    "feature_names",
    "fit_merchant_risk",
]
