"""The feature registry: every family's declared features, in column order, and their compute.

Each family module (:mod:`~risk_model.features.overdue`, :mod:`~risk_model.features.cashout`,
:mod:`~risk_model.features.activity`, :mod:`~risk_model.features.profile`,
:mod:`~risk_model.features.statement_lags`) declares its
features once, in ``FEATURES`` (name, cause, window, direction, unit, definition, the two
reason registers, rule, point-in-time rule: :class:`~risk_model.features.feature.FeatureSpec`),
beside ``compute(ctx)`` that fills them. The column order of the feature frame is the
families' order here, then each family's declaration order.

Merchant-risk features are computed over the merchants' last 36 months. In training
(``merchant_risk=None``) the statistics come from the population being featurised, point
in time per as-of date, with each account's own payments removed (leave-one-account-out).
In scoring they come from a table fitted once by ``fit_merchant_risk`` at a recorded
as-of date and frozen in the model artefact; that table *includes* every training account's
payments and does not move with the scoring date, so the two modes are close but not equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from risk_model.features import activity, cashout, overdue, profile, statement_lags
from risk_model.features.feature import ANY_SWEEP_RULE, OTHER, Context, FeatureSpec
from risk_model.policy import SWEEP_RULES, PolicyCalendar

FAMILY_MODULES = (overdue, cashout, activity, profile, statement_lags)  # column order
FEATURES: tuple[FeatureSpec, ...] = tuple(f for m in FAMILY_MODULES for f in m.FEATURES)
_NAMES = tuple(f.name for f in FEATURES)
_RULES = {f.name: f.rule for f in FEATURES}
_DECLARED = {module: frozenset(f.name for f in module.FEATURES) for module in FAMILY_MODULES}
if len(set(_NAMES)) != len(_NAMES):  # pragma: no cover - guards edits of the declarations
    raise RuntimeError("duplicate feature names in the registry")


def feature_names() -> list[str]:
    """Return the feature names in column order.

    Returns
    -------
    list of str
        Names, in the column order of :func:`build_features` output.
    """
    return list(_NAMES)


def date_features() -> tuple[str, ...]:
    """Return the names of features that depend only on the as-of date (``scope == "date"``).

    Returns
    -------
    tuple of str
        Names in column order (distances to policy dates: identical for every account
        scored on the same date).
    """
    return tuple(f.name for f in FEATURES if f.scope == "date")


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return every family's features as ``{name: array}``.

    Each array broadcasts to (n_asof, n_acc). A family whose input column is absent returns
    nothing (its features stay missing).

    Raises
    ------
    RuntimeError
        When a family fills other names than those it declares.
    """
    out: dict[str, np.ndarray] = {}
    for module in FAMILY_MODULES:
        values = module.compute(ctx)
        declared = _DECLARED[module]
        if values and values.keys() != declared:
            odd = sorted(values.keys() ^ declared)
            raise RuntimeError(f"{module.__name__}: computed and declared names differ: {odd}")
        out.update(values)
    return out


def causes_under(
    entries: Sequence[Mapping[str, Any]], policy: PolicyCalendar | None
) -> list[dict[str, Any]]:
    """Return copies of catalogue entries with each cause as the policy calendar has it.

    A feature with a ``rule`` speaks to its cause only where the calendar has that rule
    (:meth:`PolicyCalendar.rules`): age is a regulatory factor under an age rule, a
    profile factor (:data:`OTHER`) otherwise. Entries of models trained before the field
    existed take the rule of this package's feature of the same name.

    Parameters
    ----------
    entries : sequence of mapping
        Catalogue entries (a model's ``spec.json`` catalogue).
    policy : PolicyCalendar or None
        The model's calendar (None: no policy known).

    Returns
    -------
    list of dict
        The entries with ``cause`` as the calendar has it and ``rule`` filled in.
    """
    rules = (policy or PolicyCalendar()).rules()
    out = []
    for entry in entries:
        rule = entry.get("rule", _RULES.get(entry["name"], "")) or ""
        in_force = rule in rules or (rule == ANY_SWEEP_RULE and bool(rules & set(SWEEP_RULES)))
        cause = entry["cause"] if not rule or in_force else OTHER
        out.append({**entry, "cause": cause, "rule": rule})
    return out


def catalogue_frame() -> pd.DataFrame:
    """Return the registry as a DataFrame (one row per feature), e.g. for logging.

    Returns
    -------
    pandas.DataFrame
        Columns: the fields of :class:`~risk_model.features.feature.FeatureSpec`.
    """
    return pd.DataFrame([asdict(f) for f in FEATURES])
