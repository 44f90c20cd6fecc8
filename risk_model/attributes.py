"""User attributes: the user's own per-account values, carried into the model as features.

A histories table may hold an optional ``attributes`` column (:data:`contract.ATTRIBUTES`):
a struct whose fields are attributes the user names (a JSON object in a record, e.g.
``{"education": "university", "income": 12000}``). Each field is *numeric* (integers,
floats and booleans, read as float64) or *categorical* (text). An attribute is a snapshot:
its value must already be known at the as-of date; the package cannot check when it was
taken, so a value recorded later (an income updated after a closure) leaks the future.

* **Validation** (:func:`risk_model.attribute_checks.conform_attributes`, called by
  :mod:`risk_model.validation`):
  the column must be a struct of numeric or text fields with names matching
  :data:`contract.ATTRIBUTE_NAME`, at most :data:`contract.MAX_ATTRIBUTES`, unique
  whatever their case (table-level problems). Values that cannot be right are problems
  of their accounts: an infinite number or one beyond :data:`contract.MAX_ATTRIBUTE_VALUE`,
  a category longer than :data:`contract.MAX_CATEGORY_CHARS` characters or holding a
  control character. NaN and empty text are read as "not known" (null).
* **Training** (:func:`infer_attributes`): the attributes of the training histories make
  the model's :class:`AttributeSpec`, stored in the artefact: per attribute its kind and,
  for a categorical one, its categories (the distinct values, most frequent first, at
  most :data:`contract.MAX_CATEGORIES`; more is refused: an identifier is no attribute).
* **Features** (:func:`attribute_rows`): feature ``attr_<name>`` per attribute, the same
  at every as-of date; a number as given, a category as its position among the
  categories (the trees split on ranges of it: the artefact's model text holds numeric
  splits only); NaN when not known. Where training had unknown values the trees learn
  where they go; where it had none, LightGBM reads an unknown value as 0: a category then
  counts as the most frequent one (position 0), a number as the number 0.
* **Scoring** with the model's spec: attributes the model does not use are ignored; an
  attribute the model uses but the input lacks, a category not seen in training and a
  value of the other kind that does not read as this one are NaN ("not known"), each
  announced once per call by an :class:`AttributeWarning`.
* **Reasons** (:func:`catalogue_entries`): ``"Your <name in words> (<value>) raises the
  assessed risk."``, cause ``other``, never for a value that is not known. Recourse leaves
  attributes alone: they are not the holder's to change.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.attribute_checks import CATEGORICAL, CONTROL, NUMERIC, kind_of
from risk_model.problems import ContractError, ContractWarning, Problem

PREFIX = "attr_"
KINDS = (NUMERIC, CATEGORICAL)
FAMILY = "attribute"


class AttributeWarning(ContractWarning):
    """Scoring input whose attributes the model reads as not known (lacking or unseen)."""


@dataclass(frozen=True)
class Attribute:
    """One user attribute as a model uses it.

    Parameters
    ----------
    name : str
        The user's name (:data:`contract.ATTRIBUTE_NAME`).
    kind : str
        ``"numeric"`` or ``"categorical"``.
    categories : tuple of str
        Categorical only: the categories seen in training, most frequent first (ties in
        text order); a value's feature is its position here.
    decimals : int
        Numeric only: decimals shown in the holder's sentence (0 when every training
        value was whole, else 2).
    """

    name: str
    kind: str
    categories: tuple[str, ...] = ()
    decimals: int = 0

    @property
    def feature(self) -> str:
        """The feature's name, ``attr_<name>``."""
        return PREFIX + self.name

    @property
    def words(self) -> str:
        """The name in words for the holder: ``monthly_income`` reads ``monthly income``."""
        return " ".join(self.name.split("_")).strip().lower()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the artefact's ``spec.json``)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == CATEGORICAL:
            out["categories"] = list(self.categories)
        else:
            out["decimals"] = self.decimals
        return out


@dataclass(frozen=True)
class AttributeSpec:
    """The attributes a model was trained with, in feature order (empty: none)."""

    attributes: tuple[Attribute, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.attributes)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The attributes' feature names, in order."""
        return tuple(a.feature for a in self.attributes)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready form (the artefact's ``spec.json`` ``attributes``)."""
        return [a.to_dict() for a in self.attributes]

    @classmethod
    def from_list(cls, items: Sequence[Any] | None) -> AttributeSpec:
        """Read and check the artefact's form; ``ValueError`` names what is wrong."""
        if items is None:
            return cls()
        if not isinstance(items, list) or len(items) > C.MAX_ATTRIBUTES:
            raise ValueError(f"must be a list of at most {C.MAX_ATTRIBUTES} attributes")
        out = [_attribute_of(i, item) for i, item in enumerate(items)]
        if len({a.name.lower() for a in out}) != len(out):
            raise ValueError("attribute names must be unique")
        return cls(tuple(out))


def _attribute_of(i: int, item: Any) -> Attribute:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ValueError(f"[{i}] must be an object with a name")
    name, kind = item["name"], item.get("kind")
    if not C.ATTRIBUTE_NAME.fullmatch(name) or kind not in KINDS:
        raise ValueError(f"[{i}] needs a name matching {C.ATTRIBUTE_NAME.pattern} and a kind")
    if kind == NUMERIC:
        decimals = item.get("decimals", 0)
        if type(decimals) is not int or not 0 <= decimals <= 6:
            raise ValueError(f"[{i}] decimals must be an integer in 0..6")
        return Attribute(name, kind, decimals=decimals)
    categories = item.get("categories")
    good = isinstance(categories, list) and 0 < len(categories) <= C.MAX_CATEGORIES
    if not good or not all(_good_label(c) for c in categories):
        raise ValueError(f"[{i}] categories must be 1..{C.MAX_CATEGORIES} short texts")
    if len(set(categories)) != len(categories):
        raise ValueError(f"[{i}] categories must be unique")
    return Attribute(name, kind, tuple(categories))


def _good_label(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= C.MAX_CATEGORY_CHARS
        and not re.search(CONTROL, value)
    )


# --- training -----------------------------------------------------------------------


def infer_attributes(histories: pa.Table) -> AttributeSpec:
    """Return the attribute spec of training histories (canonical, validated).

    Numeric fields become numeric attributes (2 decimals in texts unless every value is
    whole), text fields categorical ones with their distinct values, most frequent first
    (ties in text order). Attributes with no known value are left out (nothing to learn).

    Raises
    ------
    ContractError
        When a categorical attribute has more than :data:`contract.MAX_CATEGORIES`
        distinct values (an identifier or free text, not a category).
    """
    if C.ATTRIBUTES not in histories.column_names:
        return AttributeSpec()
    column = histories[C.ATTRIBUTES]
    out, problems = [], []
    for field in column.type:
        values = pc.struct_field(column, field.name)
        known = pc.drop_null(values)
        if len(known) == 0:
            continue
        if kind_of(field.type) == NUMERIC:
            x = known.to_numpy(zero_copy_only=False).astype(np.float64)
            decimals = 0 if np.all(x == np.round(x)) else 2
            out.append(Attribute(field.name, NUMERIC, decimals=decimals))
            continue
        counts = pc.value_counts(known).to_pylist()
        categories = [
            c["values"] for c in sorted(counts, key=lambda c: (-c["counts"], c["values"]))
        ]
        if len(categories) > C.MAX_CATEGORIES:
            problems.append(
                Problem(
                    f"{C.ATTRIBUTES}.{field.name}",
                    "too_many_categories",
                    f"has {len(categories)} distinct values (at most {C.MAX_CATEGORIES})",
                    "group the values into fewer categories, or leave the attribute out",
                )
            )
            continue
        out.append(Attribute(field.name, CATEGORICAL, tuple(categories)))
    if problems:
        raise ContractError(problems)
    return AttributeSpec(tuple(out))


# --- features -----------------------------------------------------------------------


def attribute_rows(histories: pa.Table, spec: AttributeSpec) -> np.ndarray:
    """Feature values of the spec's attributes, ``(len(spec), accounts)`` float32, input order.

    Warns (:class:`AttributeWarning`) once per call about attributes the input lacks,
    categories the model has not seen and values of the wrong kind: all read as NaN.
    """
    n = histories.num_rows
    out = np.full((len(spec.attributes), n), np.nan, dtype=np.float32)
    if not spec:
        return out
    given = histories[C.ATTRIBUTES] if C.ATTRIBUTES in histories.column_names else None
    names = {f.name for f in given.type} if given is not None else set()
    lacking, unseen = [], []
    for j, attribute in enumerate(spec.attributes):
        if attribute.name not in names:
            lacking.append(attribute.name)
            continue
        values = pc.struct_field(given, attribute.name)
        out[j], lost = _encode(values, attribute)
        if lost:
            unseen.append(f"{attribute.name} ({lost} account{'s' if lost != 1 else ''})")
    _warn(lacking, unseen, n)
    return out


def _encode(values: pa.ChunkedArray | pa.Array, attribute: Attribute) -> tuple[np.ndarray, int]:
    """Feature values of one attribute and how many known values the model cannot read."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    known = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if attribute.kind == NUMERIC:
        x = pc.cast(values, pa.float64(), safe=False) if kind_of(values.type) == NUMERIC else None
        if x is None:  # text where the model has a number: the numbers in it
            x = _text_numbers(values)
        x = x.to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        text = values if kind_of(values.type) == CATEGORICAL else _number_texts(values)
        position = pc.index_in(pc.cast(text, pa.string()), pa.array(attribute.categories))
        x = position.to_numpy(zero_copy_only=False).astype(np.float64)
    x = np.where(known, x, np.nan)
    return x.astype(np.float32), int((known & np.isnan(x)).sum())


def _text_numbers(values: pa.Array) -> pa.Array:
    text = pc.cast(values, pa.string())
    number = pc.match_substring_regex(text, r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
    kept = pc.if_else(pc.fill_null(number, False), text, pa.nulls(len(text), pa.string()))
    return pc.cast(pc.utf8_trim_whitespace(kept), pa.float64())


def _number_texts(values: pa.Array) -> pa.Array:
    """Numbers given for a categorical attribute, as text (``2`` and ``2.0`` read ``"2"``)."""
    x = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    texts = [None if np.isnan(v) else (f"{v:.0f}" if v == round(v) else repr(v)) for v in x]
    return pa.array(texts, pa.string())


def _warn(lacking: list[str], unseen: list[str], n: int) -> None:
    if lacking:
        warnings.warn(
            AttributeWarning(
                f"the model uses attribute(s) {lacking} that the input does not carry: "
                f"read as not known for all {n} account(s); add them to 'attributes'"
            ),
            stacklevel=4,
        )
    if unseen:
        warnings.warn(
            AttributeWarning(
                f"attribute values the model has not seen in training (new categories, or "
                f"text where it has numbers) are read as not known: {', '.join(unseen)}"
            ),
            stacklevel=4,
        )


# --- catalogue ----------------------------------------------------------------------


def catalogue_entries(spec: AttributeSpec) -> list[dict[str, Any]]:
    """Catalogue entries of the spec's attributes (both reason registers).

    Returns
    -------
    list of dict
        One entry per attribute: family ``attribute``, cause ``other``, no monotone
        constraint; the holder's sentence ``"Your <name in words> (<value>) raises the
        assessed risk."`` and the analyst's value (the category itself for a categorical
        one). A value that is not known is never reported (its definition says no
        ``NaN if``).
    """
    out = []
    for a in spec.attributes:
        if a.kind == CATEGORICAL:
            value, detail, unit = "{category}", "{category}", "category"
            definition = (
                f"User attribute '{a.name}' (categorical): the position of the account's "
                f"value among the {len(a.categories)} categories seen in training, most "
                "frequent first."
            )
        else:
            value = f"{{value:z,.{a.decimals}f}}"
            detail, unit = f"{{value:,.{max(a.decimals, 2)}f}}", "as given"
            definition = f"User attribute '{a.name}' (numeric), as given."
        out.append(
            {
                "name": a.feature,
                "family": FAMILY,
                "cause": C.CAUSE_OTHER,
                "definition": definition,
                "window": "at as-of",
                "direction": 0,
                "unit": unit,
                "reason": f"Your {a.words} ({value}) raises the assessed risk.",
                "scope": "account",
                "detail": detail,
            }
        )
    return out


def category_of(entry: dict[str, Any] | Any, value: float) -> str | None:
    """Return the category a categorical feature value stands for (None: not one)."""
    categories = entry.get("categories") if hasattr(entry, "get") else None
    if not categories or value is None or not np.isfinite(value):
        return None
    k = int(value)
    return categories[k] if k == value and 0 <= k < len(categories) else None


def with_categories(entries: Sequence[dict[str, Any]], spec: AttributeSpec) -> list[dict[str, Any]]:
    """Return catalogue entries with each categorical attribute's ``categories`` added.

    The reason functions read a categorical attribute's category from its entry
    (:func:`category_of`); the artefact keeps the categories once, in its attribute spec.
    """
    categories = {a.feature: list(a.categories) for a in spec.attributes if a.categories}
    return [
        {**e, "categories": categories[e["name"]]} if e["name"] in categories else dict(e)
        for e in entries
    ]
