"""Point-in-time feature pipeline: account histories -> one feature row per (account, as-of).

See :mod:`risk_model.features.registry` for every feature's declaration and
:func:`build_features` for the point-in-time rules.
"""

from risk_model.features.build import build_features, fit_merchant_risk
from risk_model.features.feature import FeatureSpec
from risk_model.features.registry import FEATURES, catalogue_frame, feature_names

__all__ = [
    "FEATURES",
    "FeatureSpec",
    "build_features",
    "catalogue_frame",
    "feature_names",
    "fit_merchant_risk",
]
