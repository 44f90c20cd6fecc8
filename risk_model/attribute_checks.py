"""Checks of the optional ``attributes`` record (the user's own attributes) for validation.

:func:`conform_attributes` is :mod:`risk_model.validation`'s step for the column: what the
contract allows is described in :mod:`risk_model.attributes` (and ``docs/contract.md``).
Table-level problems (not a record, names, kinds, too many) stop the table; values that
cannot be right are problems of their accounts only.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.problems import Problem

NUMERIC, CATEGORICAL = "numeric", "categorical"
CONTROL = "[\\x00-\\x1f\\x7f]"  # control characters: no line breaks or escapes in texts


def kind_of(dtype: pa.DataType) -> str | None:
    """Return ``"numeric"`` or ``"categorical"`` for an attribute's Arrow type (None: neither)."""
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype):
        return NUMERIC
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_null(dtype):
        return CATEGORICAL
    return None


def _problem(check: str, message: str, hint: str) -> Problem:
    return Problem(C.ATTRIBUTES, check, message, hint)


def _table_problems(column: pa.Array) -> list[Problem]:
    """Problems no account can be read past: not a struct, bad names or kinds."""
    if not pa.types.is_struct(column.type):
        return [
            _problem(
                "wrong_type",
                f"has type {column.type}, expected a record of named attributes",
                "give 'attributes' as a record (JSON object / struct) of name: value",
            )
        ]
    fields = list(column.type)
    out = []
    if len(fields) > C.MAX_ATTRIBUTES:
        out.append(
            _problem(
                "too_many_attributes",
                f"holds {len(fields)} attributes",
                f"keep at most {C.MAX_ATTRIBUTES} attributes",
            )
        )
    bad = [f.name for f in fields if not C.ATTRIBUTE_NAME.fullmatch(f.name)]
    if bad:
        out.append(
            _problem(
                "attribute_name",
                f"names {bad[:5]} are not attribute names",
                "name attributes with a letter, then letters, digits or '_' (<= 48)",
            )
        )
    lowered = [f.name.lower() for f in fields]
    twins = sorted({n for n in lowered if lowered.count(n) > 1})
    if twins:
        out.append(
            _problem(
                "duplicate_attribute",
                f"names {twins[:5]} appear more than once (ignoring case)",
                "give each attribute one name",
            )
        )
    odd = [f"{f.name} ({f.type})" for f in fields if kind_of(f.type) is None]
    if odd:
        out.append(
            _problem(
                "attribute_type",
                f"attributes {odd[:5]} are neither numbers nor text",
                "give an attribute as a number or a text (dates as a number, e.g. months)",
            )
        )
    return out


def conform_attributes(
    column: pa.ChunkedArray | pa.Array, problems: list[Problem], slips: list
) -> pa.StructArray | None:
    """Return the ``attributes`` column in canonical form (float64 or string fields).

    Table-level problems go to ``problems`` (and ``None`` is returned); values that cannot
    be right become slips of their accounts (:class:`risk_model._conform.Slip`) and are
    null in the output. NaN and empty text are null (not known).
    """
    from risk_model._conform import Slip

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_null(column.type):  # "attributes": null in every record: none given
        return None
    found = _table_problems(column)
    if found:
        problems.extend(found)
        return None
    names = [f.name for f in column.type]
    children = column.flatten()  # parent nulls (a null record) become null values
    out = []
    for name, child in zip(names, children, strict=True):
        if pa.types.is_dictionary(child.type):
            child = child.dictionary_decode()
        if kind_of(child.type) == NUMERIC:
            values, bad = _numbers(child)
            what = f"an infinite number or one beyond {C.MAX_ATTRIBUTE_VALUE:.0e} in absolute value"
            hint = f"give '{name}' as a finite number (null when not known)"
        else:
            values, bad = _texts(child)
            what = f"a text longer than {C.MAX_CATEGORY_CHARS} characters or a control character"
            hint = f"give '{name}' as a short text on one line (null when not known)"
        if bad.any():
            slips.append(
                Slip(f"{C.ATTRIBUTES}.{name}", "attribute_value", f"holds {what}", hint, bad)
            )
            values = pc.if_else(pa.array(bad), pa.nulls(len(values), values.type), values)
        out.append(values)
    return pa.StructArray.from_arrays(out, names=names) if names else _no_fields(len(column))


def _no_fields(n: int) -> pa.StructArray:
    return pa.array([{}] * n, pa.struct([]))


def _numbers(child: pa.Array) -> tuple[pa.Array, np.ndarray]:
    values = pc.cast(child, pa.float64())
    x = values.to_numpy(zero_copy_only=False)  # nulls read as NaN: NaN is "not known"
    with np.errstate(invalid="ignore"):
        bad = np.isinf(x) | (np.abs(x) > C.MAX_ATTRIBUTE_VALUE)
    return pa.array(x, pa.float64(), mask=np.isnan(x)), bad


def _texts(child: pa.Array) -> tuple[pa.Array, np.ndarray]:
    values = pc.cast(child, pa.string())
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), False)
    values = pc.if_else(blank, pa.nulls(len(values), pa.string()), values)
    long = pc.greater(pc.utf8_length(values), C.MAX_CATEGORY_CHARS)
    control = pc.match_substring_regex(values, CONTROL)
    bad = pc.fill_null(pc.or_(long, control), False).to_numpy(zero_copy_only=False)
    return values, np.asarray(bad, dtype=bool)
