"""Validation of an artefact's ``spec.json`` into typed values, before anything uses it.

Scoring reads the spec on every call; a value of the wrong type or out of range would
surface there as a ``KeyError``, a ``ValueError`` or, worse, as silently wrong scores
(``base_odds: NaN`` puts every account in the lowest-risk band). :func:`check_spec`
checks every field scoring reads and fails closed with
:class:`~risk_model.modeling.errors.ModelLoadError` as ``"<file>: <field>: <problem>"``:

* ``format_version`` equal to the package's; ``version`` matching :data:`VERSION`
  (no newline or escape that could forge a log line);
* ``feature_names``: unique names matching :data:`FEATURE_NAME`, each with a catalogue
  entry; ``monotone_constraints``: one of -1, 0, +1 per feature;
* ``catalogue``: entries with string ``name``, a known ``cause``
  (``contract.CAUSES`` or ``other``), templates (``reason``, its ``reason_zero`` /
  ``reason_negative`` / ``reason_missing`` variants, ``detail``) in the safe grammar
  (:mod:`risk_model.modeling.templates`) and string texts;
* ``calibration``, ``scale``, ``feature_transforms``: see :mod:`spec_values
  <risk_model.modeling.spec_values>`;
* ``horizon_months``: an integer in 1..24; ``policy``: a parseable calendar;
  ``merchant_risk_as_of``: an ISO date or null;
* ``attributes`` (optional): user attributes as
  :meth:`risk_model.attributes.AttributeSpec.from_list` reads them, each ``attr_<name>``
  feature with its attribute and every attribute a feature.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from risk_model import contract as C
from risk_model.modeling.errors import fail, shown
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.spec_values import check_calibration, check_scale, check_transforms
from risk_model.modeling.templates import TemplateError, check_template
from risk_model.policy import PolicyCalendar

VERSION = re.compile(r"[A-Za-z0-9._-]{1,64}")
FEATURE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_HORIZON_MONTHS = 24
REQUIRED_KEYS = (
    "format_version",
    "version",
    "feature_names",
    "monotone_constraints",
    "catalogue",
    "calibration",
    "scale",
    "policy",
    "horizon_months",
    "merchant_risk_as_of",
)
_TEXT_KEYS = ("family", "definition", "window", "unit", "scope")
_TEMPLATE_KEYS = ("reason", "reason_zero", "reason_negative", "reason_missing", "detail")


@dataclass(frozen=True)
class CheckedSpec:
    """The spec values scoring reads, checked and typed."""

    version: str
    feature_names: tuple[str, ...]
    horizon_months: int
    scale: ScoreScale
    policy: PolicyCalendar
    merchant_risk_as_of: dt.date | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_features(where: str, spec: dict[str, Any]) -> tuple[str, ...]:
    names = spec["feature_names"]
    if not isinstance(names, list) or not names:
        fail(where, "feature_names", "must be a non-empty list")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
            fail(where, f"feature_names[{i}]", f"not a feature name: {shown(name)}")
    if len(set(names)) != len(names):
        fail(where, "feature_names", "names must be unique")
    signs = spec["monotone_constraints"]
    if not isinstance(signs, list) or len(signs) != len(names):
        fail(where, "monotone_constraints", "must align with feature_names (one per feature)")
    if not all(_is_int(s) and s in (-1, 0, 1) for s in signs):
        fail(where, "monotone_constraints", "values must be -1, 0 or 1")
    return tuple(names)


def _check_entry(where: str, i: int, entry: Any) -> str:
    field = f"catalogue[{i}]"
    if not isinstance(entry, dict):
        fail(where, field, "must be an object")
    name = entry.get("name")
    if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
        fail(where, f"{field}.name", f"not a feature name: {shown(name)}")
    causes = (*C.CAUSES, C.CAUSE_OTHER)
    if entry.get("cause") not in causes:
        fail(where, f"{field}.cause", f"must be one of {', '.join(causes)}")
    for key in _TEXT_KEYS:
        if entry.get(key) is not None and not isinstance(entry[key], str):
            fail(where, f"{field}.{key}", "must be a string")
    for key in _TEMPLATE_KEYS:
        template = entry.get(key)
        if template is not None:
            try:
                check_template(template)
            except TemplateError as exc:
                fail(where, f"{field}.{key}", f"unsafe template {shown(template)}: {exc}")
    return name


def _check_catalogue(where: str, spec: dict[str, Any], names: tuple[str, ...]) -> None:
    catalogue = spec["catalogue"]
    if not isinstance(catalogue, list):
        fail(where, "catalogue", "must be a list")
    seen = [_check_entry(where, i, entry) for i, entry in enumerate(catalogue)]
    if len(set(seen)) != len(seen):
        fail(where, "catalogue", "entry names must be unique")
    missing = [n for n in names if n not in set(seen)]
    if missing:
        fail(where, "catalogue", f"no entry for feature(s) {shown(missing)}")


def _check_dates(where: str, spec: dict[str, Any]) -> tuple[PolicyCalendar, dt.date | None]:
    policy = spec["policy"]
    if policy is not None and not isinstance(policy, dict):
        fail(where, "policy", "must be an object or null")
    try:
        calendar = PolicyCalendar.from_dict(policy)
    except (ValueError, TypeError, AttributeError) as exc:
        fail(where, "policy", f"not a policy calendar: {shown(str(exc))}")
    as_of = spec["merchant_risk_as_of"]
    if as_of is None:
        return calendar, None
    try:
        return calendar, dt.date.fromisoformat(as_of)
    except (ValueError, TypeError):
        fail(where, "merchant_risk_as_of", f"not an ISO date: {shown(as_of)}")


def check_spec(spec: Any, *, where: str, format_version: int) -> CheckedSpec:
    """Check a parsed ``spec.json`` and return the typed values scoring reads.

    Parameters
    ----------
    spec : Any
        The parsed JSON.
    where : str
        The file name used in error messages.
    format_version : int
        The artefact format this package reads.

    Returns
    -------
    CheckedSpec
        Version, feature names, horizon, score scale, policy calendar and the
        merchant-risk date.

    Raises
    ------
    ModelLoadError
        ``"<where>: <field>: <problem>"`` on the first problem found.
    """
    if not isinstance(spec, dict):
        fail(where, "(top level)", "must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in spec]
    if missing:
        fail(where, ", ".join(missing), "spec is missing key(s)")
    found = spec["format_version"]
    if not _is_int(found) or found != format_version:
        fail(where, "format_version", f"unsupported artefact format {shown(found)}")
    version = spec["version"]
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        fail(where, "version", f"must match {VERSION.pattern}, got {shown(version)}")
    names = _check_features(where, spec)
    _check_catalogue(where, spec, names)
    check_calibration(where, spec["calibration"])
    scale = check_scale(where, spec["scale"])
    check_transforms(where, spec.get("feature_transforms"), names)
    horizon = spec["horizon_months"]
    if not _is_int(horizon) or not 1 <= horizon <= MAX_HORIZON_MONTHS:
        fail(where, "horizon_months", f"must be an integer in 1..{MAX_HORIZON_MONTHS}")
    policy, as_of = _check_dates(where, spec)
    _check_attributes(where, spec, names)
    return CheckedSpec(version, names, horizon, scale, policy, as_of)


def _check_attributes(where: str, spec: dict[str, Any], names: tuple[str, ...]) -> None:
    from risk_model.attributes import PREFIX, AttributeSpec

    try:
        attributes = AttributeSpec.from_list(spec.get("attributes"))
    except ValueError as exc:
        fail(where, "attributes", str(exc))
    used = tuple(n for n in names if n.startswith(PREFIX))
    if used != attributes.feature_names:
        fail(where, "attributes", f"do not match the attribute features {shown(list(used))}")
