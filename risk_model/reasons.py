"""Reason codes: why an account's closure risk is high, from exact TreeSHAP contributions.

LightGBM's ``predict(..., pred_contrib=True)`` gives, per account, one contribution per
feature in raw log-odds plus the expected value (last column); they add up to the raw
score. From them:

* only factors that *raise* risk (positive contribution) are reported;
* the reasons are the features with the largest positive contributions (up to four,
  largest first, ties in catalogue order), each in two registers: ``text``, one plain
  sentence for the account holder (the catalogue's template, or its zero / negative /
  missing variant, filled with the account's own value:
  :func:`risk_model.features.feature.reason_template`), and ``detail`` for an analyst
  (``<feature code> = <value> <unit>; contribution <+x.xxx> log-odds``);
* ``top_cause`` is the closure cause (``contract.CAUSES``) whose risk-raising factors
  (positive contributions) add up to the most; ``None`` when nothing raises the risk.
* A feature that speaks to its cause through a sweep rule (age, student, identity check,
  other lines, being targeted: catalogue ``rule``) speaks to it only on rows whose label
  horizon holds an announced sweep: the rule closes accounts during sweeps. On other rows
  (*idle* rows, :func:`idle_rule_rows`) its contribution counts for no cause and its
  reason's cause is ``other``. Outside a sweep, being a student does not make a closure
  regulatory; counting it so named "regulatory" for dormant and overdue accounts that
  happened to be targeted.
* *Date-context* features (:data:`DATE_CONTEXT_FEATURES`: distances to policy dates,
  identical for every account on a given date) are left out of both: they say *when* the
  account is scored, not what about the account raises its risk, and their contribution
  is the date's shift from the training average (part of the baseline). Leaving them in
  attributes every account's closure to "regulatory" in periods the model finds riskier.

Missing or non-finite values without a missing-value sentence, and features without a
template (a model trained by an older version), get a generic text built from the
feature's definition, so a text never prints "nan" or "inf".

Everything works on whole arrays; reasons come back as one Arrow ``list<struct>`` column
(:data:`REASON_TYPE`) built from flat arrays and list offsets.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from risk_model import contract as C
from risk_model.attributes import category_of
from risk_model.features.feature import ANY_SWEEP_RULE, OTHER, default_detail, reason_template
from risk_model.features.registry import date_features
from risk_model.modeling.templates import TemplateError, render
from risk_model.policy import SWEEP_RULES, PolicyCalendar

MAX_REASONS = 4
# Features whose value depends only on the as-of date (catalogue scope "date").
DATE_CONTEXT_FEATURES = date_features()
CODE, CAUSE, TEXT, CONTRIBUTION, DETAIL = "code", "cause", "text", "contribution", "detail"
REASON_TYPE = pa.struct(
    [
        pa.field(CODE, pa.string()),
        pa.field(CAUSE, pa.string()),
        pa.field(TEXT, pa.string()),
        pa.field(CONTRIBUTION, pa.float64()),
        pa.field(DETAIL, pa.string()),
    ]
)
REASONS_TYPE = pa.list_(REASON_TYPE)
_NO_REASONS = pa.array([], REASON_TYPE)
_NAN_CLAUSE = re.compile(r"[;,]?\s*(else\s+)?NaN\b[^.;]*", flags=re.IGNORECASE)
_NAN_MEANING = re.compile(r"NaN if ([^.;]+)", flags=re.IGNORECASE)
_PARENS = re.compile(r"(?<=\S)\s+\([^)]*\)")  # asides, not a leading formula


def _number(value: float, unit: str) -> str:
    value = float(value)
    if unit in ("share", "ratio") and abs(value) <= 1.0:
        return f"{value:.0%}"
    if abs(value) >= 1000 or value == round(value):
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def generic_text(entry: Mapping[str, Any], value: float) -> str:
    """Return a plain text for a feature without a usable template or value.

    Parameters
    ----------
    entry : mapping
        Catalogue entry with at least ``name``; ``definition``, ``unit`` optional.
    value : float
        The account's value (may be NaN).

    Returns
    -------
    str
        ``"<definition>: <value> <unit>"``; for a missing or non-finite value
        ``"<definition>: not available"`` followed by what missing means when the
        definition says so (``"NaN if none in 36 months"`` gives ``"(none in 36
        months)"``). Never contains "nan" or "inf".
    """
    label, missing = _generic_parts(entry)
    if value is None or not np.isfinite(value):
        return missing
    return f"{label}: {_number(value, str(entry.get('unit') or ''))}"


def _generic_parts(entry: Mapping[str, Any]) -> tuple[str, str]:
    """Return the label of a feature's generic texts and its missing-value text."""
    definition = str(entry.get("definition") or entry["name"].replace("_", " "))
    meaning = _NAN_MEANING.search(definition)
    label = _PARENS.sub("", _NAN_CLAUSE.sub("", definition)).strip().rstrip(".").strip()
    why = f" ({meaning.group(1).strip()})" if meaning else ""
    return label, f"{label}: not available{why}"


def reason_text(entry: Mapping[str, Any], value: float) -> str:
    """Return the customer-facing text for one feature and value.

    Parameters
    ----------
    entry : mapping
        Catalogue entry (``name``, ``reason`` template filled with ``value`` by the
        restricted formatter :func:`risk_model.modeling.templates.render`, ...).
    value : float
        The account's value of the feature.

    Returns
    -------
    str
        The sentence for the value (:func:`~risk_model.features.feature.reason_template`),
        or :func:`generic_text` when the feature has none for it.
    """
    template, number = reason_template(entry, math.nan if value is None else float(value))
    if not template:
        return generic_text(entry, value)
    try:
        return render(template, _filling(entry, number))
    except TemplateError:  # unsafe or broken template (or no category): never str.format-ed
        return generic_text(entry, value)


def _filling(entry: Mapping[str, Any], number: float) -> dict[str, float | str]:
    """Return the values a template is filled with: the number, and any attribute category."""
    category = category_of(entry, number)
    return {"value": number} if category is None else {"value": number, "category": category}


def feature_texts(entry: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """Return :func:`reason_text` of every value of one feature, formatting each once.

    Parameters
    ----------
    entry : mapping
        Catalogue entry of the feature.
    values : numpy.ndarray
        ``(m,)`` float values of that feature.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` object array of texts, equal to ``reason_text(entry, v)`` for each ``v``.
    """
    values = np.asarray(values, dtype=np.float64)
    return _each_distinct(values, lambda v: reason_text(entry, v))


def _each_distinct(values: np.ndarray, text) -> np.ndarray:
    """``text(v)`` of every value, calling it once per distinct value.

    Every missing or non-finite value reads as ``text(nan)``; values are told apart by their
    bits (``float.hex``), so that -0.0 and 0.0 keep their own texts.
    """
    texts: dict[str, str] = {}
    out = np.empty(values.size, dtype=object)
    for i, v in enumerate(values.tolist()):
        key = v.hex() if math.isfinite(v) else "missing"
        if key not in texts:
            texts[key] = text(v if math.isfinite(v) else math.nan)
        out[i] = texts[key]
    return out


def detail_value(entry: Mapping[str, Any], value: float) -> str:
    """Return the analyst's text of a value: ``"35 days"``, ``"0.250 share"``, ``"missing"``.

    Parameters
    ----------
    entry : mapping
        Catalogue entry (``detail`` value template; default from ``unit``).
    value : float
        The value.
    """
    if value is None or not math.isfinite(value):
        return "missing"
    template = entry.get("detail") or default_detail(str(entry.get("unit") or ""))
    try:
        return render(template, _filling(entry, float(value)))
    except TemplateError:
        return f"{float(value):.6g} {entry.get('unit') or ''}".strip()


def detail_texts(
    entry: Mapping[str, Any], values: np.ndarray, contributions: np.ndarray
) -> list[str]:
    """Return the analyst register of one feature's reasons.

    Parameters
    ----------
    entry : mapping
        Catalogue entry of the feature.
    values, contributions : numpy.ndarray
        ``(m,)`` values of the feature and their contributions (log-odds).

    Returns
    -------
    list of str
        ``"<name> = <value> <unit>; contribution <+x.xxx> log-odds"`` per value.
    """
    values = np.asarray(values, dtype=np.float64)
    shown = _each_distinct(values, lambda v: detail_value(entry, v))
    name = entry["name"]
    return [
        f"{name} = {v}; contribution {c:+.3f} log-odds"
        for v, c in zip(shown.tolist(), np.asarray(contributions).tolist(), strict=True)
    ]


def account_attribution(
    contrib: np.ndarray,
    names: Sequence[str],
    *,
    values: np.ndarray | None = None,
    catalogue: Sequence[Mapping[str, Any]] | None = None,
) -> np.ndarray:
    """Return the ``(n, k)`` feature contributions that may be reported as reasons.

    Date-context features (the same for every account on a date) are set to 0. With
    ``values`` and ``catalogue``, so is a feature whose value is missing unless its
    definition says what missing means ("NaN if none in 36 months" is a fact about the
    account; a ratio that is missing for want of data is not, and must not become, say,
    a cash-out reason for an account that simply stopped buying).

    Parameters
    ----------
    contrib : numpy.ndarray
        ``(n, k)`` or ``(n, k + 1)`` contributions (a trailing expected-value column is
        dropped).
    names : sequence of str
        The ``k`` feature names.
    values : numpy.ndarray, optional
        ``(n, k)`` feature values the contributions were computed from.
    catalogue : sequence of mapping, optional
        Catalogue entries in the same order (``definition`` is read).

    Returns
    -------
    numpy.ndarray
        A copy with the excluded entries set to 0.
    """
    out = np.array(np.asarray(contrib, dtype=np.float64)[:, : len(names)])
    out[:, _context_columns(tuple(names))] = 0.0
    if values is not None and catalogue is not None:
        meaningful = _prepared(catalogue).missing_is_fact
        unexplained = ~np.isfinite(np.asarray(values, dtype=np.float64)) & ~meaningful
        out[unexplained] = 0.0
    return out


@functools.lru_cache(maxsize=8)
def _context_columns(names: tuple[str, ...]) -> list[int]:
    return [i for i, name in enumerate(names) if name in DATE_CONTEXT_FEATURES]


class _Prepared:
    """What the reason functions read from a catalogue, computed once per catalogue."""

    def __init__(self, catalogue: Sequence[Mapping[str, Any]]) -> None:
        self.catalogue = catalogue  # held: the cache is keyed by its id

    @functools.cached_property
    def names(self) -> np.ndarray:
        return np.asarray([e["name"] for e in self.catalogue], dtype=object)

    @functools.cached_property
    def causes(self) -> np.ndarray:
        return np.asarray([e["cause"] for e in self.catalogue], dtype=object)

    @functools.cached_property
    def sweep_rule(self) -> np.ndarray:
        rules = (*SWEEP_RULES, ANY_SWEEP_RULE)
        return np.array([e.get("rule", "") in rules for e in self.catalogue], dtype=bool)

    @functools.cached_property
    def missing_is_fact(self) -> np.ndarray:
        definitions = [str(e.get("definition") or "") for e in self.catalogue]
        return np.array([bool(_NAN_MEANING.search(d)) for d in definitions], dtype=bool)


_PREPARED: dict[int, _Prepared] = {}


def _prepared(catalogue: Sequence[Mapping[str, Any]]) -> _Prepared:
    # Once per catalogue object, not once per scored batch or account (predict_one is a
    # hot path). Keyed by identity; the entry holds the catalogue, so the id stays its.
    # Catalogues are not edited after they are built.
    entry = _PREPARED.get(id(catalogue))
    if entry is None or entry.catalogue is not catalogue:
        if len(_PREPARED) >= 16:
            _PREPARED.clear()
        entry = _PREPARED[id(catalogue)] = _Prepared(catalogue)
    return entry


def idle_rule_rows(
    as_of: np.ndarray, policy: PolicyCalendar | None, horizon_months: int
) -> np.ndarray:
    """Return which rows' label horizon holds no announced sweep (sweep rules idle).

    Parameters
    ----------
    as_of : numpy.ndarray
        ``(n,)`` as-of dates (``datetime64[D]``).
    policy : PolicyCalendar or None
        The model's calendar.
    horizon_months : int
        The model's label horizon.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` bool: True where no sweep falls in ``(as_of, as_of + horizon]``, so the
        features of a sweep rule speak to no closure cause on that row.
    """
    from risk_model.features.profile import sweep_months_ahead

    days = np.asarray(as_of, dtype="datetime64[D]").astype(np.int64)
    if not len(days):
        return np.zeros(0, dtype=bool)
    distinct, where = np.unique(days, return_inverse=True)  # a few dates, many rows
    ahead = sweep_months_ahead(distinct, policy or PolicyCalendar(), horizon_months) > 0
    return ~ahead[where.reshape(-1)]


def cause_contributions(
    contrib: np.ndarray, catalogue: Sequence[Mapping[str, Any]], idle: np.ndarray | None
) -> np.ndarray:
    """Return the contributions that count towards a cause: sweep rules' zeroed on idle rows.

    Parameters
    ----------
    contrib : numpy.ndarray
        ``(n, k)`` contributions (e.g. :func:`account_attribution` output).
    catalogue : sequence of mapping
        The ``k`` catalogue entries (``rule`` is read).
    idle : numpy.ndarray or None
        ``(n,)`` :func:`idle_rule_rows`; None: no row is idle.

    Returns
    -------
    numpy.ndarray
        ``contrib`` itself when nothing is idle, else a copy with the entries of sweep-rule
        features on idle rows set to 0.
    """
    columns = _prepared(catalogue).sweep_rule
    if idle is None or not idle.any() or not columns.any():
        return contrib
    out = np.array(contrib, dtype=np.float64)
    out[np.ix_(np.flatnonzero(idle), np.flatnonzero(columns))] = 0.0
    return out


def cause_totals(contrib: np.ndarray, causes: Sequence[str]) -> np.ndarray:
    """Sum the risk-raising (positive) feature contributions by closure cause.

    Parameters
    ----------
    contrib : numpy.ndarray
        ``(n, k)`` or ``(n, k + 1)`` contributions (a trailing expected-value column is
        ignored).
    causes : sequence of str
        Cause of each of the ``k`` features (values in ``contract.CAUSES``).

    Returns
    -------
    numpy.ndarray
        ``(n, len(contract.CAUSES))`` sum of positive contributions per cause, columns
        in ``contract.CAUSES`` order.
    """
    k = len(causes)
    positive = np.clip(np.asarray(contrib, dtype=np.float64)[:, :k], 0.0, None)
    out = np.zeros((positive.shape[0], len(C.CAUSES)), dtype=np.float64)
    # Column sums per cause, not a product with a one-hot matrix: BLAS would start its
    # own spinning threads (and may sum in an order that depends on the row count).
    columns: dict[str, list[int]] = {}
    for i, cause in enumerate(causes):
        columns.setdefault(cause, []).append(i)
    for j, cause in enumerate(C.CAUSES):
        if cause in columns:
            out[:, j] = positive[:, columns[cause]].sum(axis=1)
    return out


def top_causes(contrib: np.ndarray, causes: Sequence[str]) -> np.ndarray:
    """Return the cause whose positive contributions add up to the most, per row.

    Parameters
    ----------
    contrib : numpy.ndarray
        ``(n, k)`` or ``(n, k + 1)`` contributions.
    causes : sequence of str
        Cause of each feature.

    Returns
    -------
    numpy.ndarray
        Object array of cause names; ``None`` where no cause raises the risk.
    """
    totals = cause_totals(contrib, causes)
    out = np.asarray(C.CAUSES, dtype=object)[np.argmax(totals, axis=1)]
    out[~(totals.max(axis=1, initial=0.0) > 0.0)] = None
    return out


def top_reasons(
    contrib: np.ndarray,
    values: np.ndarray,
    catalogue: Sequence[Mapping[str, Any]],
    *,
    max_reasons: int = MAX_REASONS,
    idle: np.ndarray | None = None,
) -> pa.ListArray:
    """Build the reasons of each row from its contributions and feature values.

    Parameters
    ----------
    contrib : numpy.ndarray
        ``(n, k)`` or ``(n, k + 1)`` contributions (log-odds).
    values : numpy.ndarray
        ``(n, k)`` feature values the contributions were computed from.
    catalogue : sequence of mapping
        One entry per feature, in the same order (``name``, ``cause``, ``reason``,
        ``definition``, ``unit``).
    max_reasons : int
        Most reasons per row.
    idle : numpy.ndarray, optional
        ``(n,)`` :func:`idle_rule_rows`: on these rows a sweep-rule feature's reason has
        the cause ``other``.

    Returns
    -------
    pyarrow.ListArray
        Type :data:`REASONS_TYPE`: per row up to ``max_reasons`` structs (code, cause,
        text, contribution, detail), largest contribution first; only positive
        contributions.
    """
    k = len(catalogue)
    feats = np.asarray(contrib, dtype=np.float64)[:, :k]
    values = np.asarray(values, dtype=np.float64)
    n = feats.shape[0]
    take = min(max_reasons, k)
    order, picked = _largest(feats, take)
    keep = picked > 0.0
    rows = np.broadcast_to(np.arange(n)[:, None], order.shape)[keep]
    cols = order[keep]
    amounts = picked[keep]
    counts = keep.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    texts = np.empty(cols.size, dtype=object)
    details = np.empty(cols.size, dtype=object)
    chosen = values[rows, cols]
    # Format per feature (a short loop over the catalogue), not per account.
    for feature in np.unique(cols).tolist():
        at = np.flatnonzero(cols == feature)
        texts[at] = feature_texts(catalogue[feature], chosen[at])
        details[at] = detail_texts(catalogue[feature], chosen[at], amounts[at])
    prepared = _prepared(catalogue)
    causes = prepared.causes[cols]
    if idle is not None and idle.any():
        causes[idle[rows] & prepared.sweep_rule[cols]] = OTHER
    items = pa.StructArray.from_arrays(
        [
            pa.array(prepared.names[cols], pa.string()),
            pa.array(causes, pa.string()),
            pa.array(texts, pa.string()),
            pa.array(amounts, pa.float64()),
            pa.array(details, pa.string()),
        ],
        fields=list(REASON_TYPE),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=REASONS_TYPE)


def _largest(feats: np.ndarray, take: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of each row's ``take`` largest entries, largest first.

    Ties keep catalogue (column) order, as a stable sort would: ``argmax`` returns the
    first maximum. NaN counts as -inf; a taken entry becomes -inf, so a row with fewer
    usable entries gets -inf values (never positive) for the rest.
    """
    work = np.where(np.isnan(feats), -np.inf, feats)
    rows = np.arange(feats.shape[0])
    order = np.empty((feats.shape[0], take), dtype=np.intp)
    picked = np.empty((feats.shape[0], take), dtype=np.float64)
    for rank in range(take):  # a few passes over the matrix beat sorting every row
        order[:, rank] = np.argmax(work, axis=1) if feats.shape[0] else 0
        picked[:, rank] = work[rows, order[:, rank]]
        work[rows, order[:, rank]] = -np.inf
    return order, picked


def empty_reasons(n: int) -> pa.ListArray:
    """Return ``n`` empty reason lists."""
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, _NO_REASONS, type=REASONS_TYPE)
