"""Column conversion to the contract's types (used by :mod:`risk_model.validation`).

A column that cannot be read as its contract type at all (text where numbers belong)
is a table-level problem. A numeric column that is merely wider than the contract's
type is converted value by value: values that fit are cast, and the few that do not
(a 40,000 in an int16 field, a 1990.5 birth year) become *slips*, problems of the
accounts that hold them, so one bad value does not refuse a whole file. Null items in
event lists are slips as well, and are taken out of the lists.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._masks import filled, one_chunk, valid_mask
from risk_model.problems import Problem

NULL_EVENT = "null_event"
NOT_WHOLE = "not_whole"
OUT_OF_TYPE_RANGE = "out_of_type_range"


class Slip(NamedTuple):
    """A per-account conversion problem: the accounts (rows) whose values did not convert."""

    field: str
    check: str
    message: str
    hint: str
    rows: np.ndarray  # boolean mask over the table's rows


@functools.lru_cache(maxsize=16)
def arrow_fields(parts: tuple[C.Field, ...]) -> tuple[pa.Field, ...]:
    """Return the Arrow fields of a tuple of contract fields (cached)."""
    return tuple(spec.arrow() for spec in parts)


@functools.lru_cache(maxsize=16)
def list_type(fields: tuple[C.Field, ...]) -> pa.ListType:
    """Return the Arrow ``list<struct>`` type of a tuple of contract fields (cached)."""
    return pa.list_(pa.struct(arrow_fields(fields)))


def missing(name: str) -> Problem:
    """Table-level problem: a required field is absent."""
    return Problem(
        name,
        "missing_field",
        "required field is missing",
        f"add the field '{name}' (see the data contract in docs/contract.md)",
    )


def cast_column(
    values: pa.ChunkedArray | pa.Array,
    target: pa.DataType,
    name: str,
    problems: list[Problem],
    slips: list[Slip],
) -> pa.Array | None:
    """Cast one column to ``target``; per-value failures go to ``slips`` (masks over values)."""
    values = one_chunk(values)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.type == target:
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), target)
    # Timestamps lose sub-second precision by design; everything else must cast exactly.
    safe = not (pa.types.is_timestamp(target) and pa.types.is_timestamp(values.type))
    try:
        if pa.types.is_timestamp(values.type) and values.type.tz is not None:
            values = values.cast(pa.timestamp(values.type.unit))
        return pc.cast(values, target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        narrowed = _narrow(values, target, name, slips)
        if narrowed is not None:
            return narrowed
        problems.append(
            Problem(
                name,
                "wrong_type",
                f"has type {values.type}, expected {target} ({short(error)})",
                f"store '{name}' as {target}",
            )
        )
        return None


def _narrow(values: pa.Array, target: pa.DataType, name: str, slips: list[Slip]) -> pa.Array | None:
    """Numbers to a narrower numeric type value by value; None if that is not the trouble."""
    source = values.type
    if not (pa.types.is_integer(source) or pa.types.is_floating(source)):
        return None
    if pa.types.is_floating(target) and pa.types.is_integer(source):
        # Only integers beyond 2**53 round, and those fail the amount checks anyway.
        return pc.cast(values, target, safe=False)
    if not pa.types.is_integer(target):
        return None
    info = np.iinfo(target.to_pandas_dtype())
    # float64 holds every bound of the contract's integer types exactly
    x = filled(values, 0).astype(np.float64)
    present = valid_mask(values)
    with np.errstate(invalid="ignore"):
        whole = np.floor(x) == x  # NaN is not whole; infinities are, and out of range
    fits = whole & np.isfinite(x) & (x >= info.min) & (x <= info.max)
    not_whole, too_big = present & ~whole, present & whole & ~fits
    if not (not_whole.any() or too_big.any()):
        return None
    leaf = name.rsplit(".", 1)[-1]
    if not_whole.any():
        message = f"value is not a whole number ({target} expected)"
        hint = f"give '{leaf}' as a whole number"
        slips.append(Slip(name, NOT_WHOLE, message, hint, not_whole))
    if too_big.any():
        message = f"value outside the range of {target} ({info.min}..{info.max})"
        hint = f"check the value and unit of '{leaf}'"
        slips.append(Slip(name, OUT_OF_TYPE_RANGE, message, hint, too_big))
    kept = pc.if_else(pa.array(not_whole | too_big), pa.scalar(None, source), values)
    try:
        return pc.cast(kept, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. uint64 beyond 2**63
        del slips[-int(not_whole.any()) - int(too_big.any()) :]
        return None


def conform_lists(
    column: pa.ChunkedArray,
    name: str,
    fields: tuple[C.Field, ...],
    problems: list[Problem],
    slips: list[Slip],
) -> pa.Array | None:
    """Cast a list<struct> column to the contract's event type (slips are over rows)."""
    lists = one_chunk(column)
    target = list_type(fields)
    if (
        lists.type == target
        and lists.null_count == 0
        and lists.offset == 0
        and lists.values.null_count == 0
    ):
        return lists  # already canonical: no copy
    if pa.types.is_null(lists.type):
        return pa.array([[]] * len(lists), target)
    if pa.types.is_large_list(lists.type):
        lists = lists.cast(pa.list_(lists.type.value_type))
    if not pa.types.is_list(lists.type):
        problems.append(_not_records(name, f"has type {lists.type}", fields))
        return None
    # Null lists mean "no events": make them empty so offsets are well defined.
    if lists.null_count:
        lists = pc.if_else(pc.is_null(lists), pa.scalar([], lists.type), lists)
    items = lists.flatten()
    if pa.types.is_null(items.type):
        items = pa.array([], pa.struct([]))
    if not pa.types.is_struct(items.type):
        problems.append(_not_records(name, f"items have type {items.type}", fields))
        return None
    start = lists.offsets[0].as_py()
    offsets = pc.subtract(lists.offsets, start) if start else lists.offsets
    if items.null_count:
        items, offsets = _drop_null_items(lists, items, name, slips)
    item_slips: list[Slip] = []
    children = _children(items, name, fields, problems, item_slips)
    if item_slips:
        bounds = offsets.to_numpy(zero_copy_only=False)
        owner = np.repeat(np.arange(len(lists)), np.diff(bounds))
        for slip in item_slips:
            hit = np.bincount(owner[slip.rows], minlength=len(lists)) > 0
            slips.append(slip._replace(rows=hit))
    if children is None:
        return None
    struct = pa.StructArray.from_arrays(children, fields=list(arrow_fields(fields)))
    return pa.ListArray.from_arrays(offsets, struct, type=target)


def _not_records(name: str, what: str, fields: tuple[C.Field, ...]) -> Problem:
    names = ", ".join(f.name for f in fields)
    return Problem(
        name,
        "wrong_type",
        f"{what}, expected a list of records",
        f"store '{name}' as a list of records with fields {names}",
    )


def _drop_null_items(
    lists: pa.ListArray, items: pa.StructArray, name: str, slips: list[Slip]
) -> tuple[pa.StructArray, pa.Array]:
    """Take null items out of the lists; their accounts get a ``null_event`` slip.

    A null item has no fields, yet its children hold filler values (zeros) that would
    otherwise be read as an event, or be reported as unrelated missing fields.
    """
    owner = filled(pc.list_parent_indices(lists), 0).astype(np.int64)
    null = ~valid_mask(items)
    hint = f"drop the null items from '{name}', or give each event as a record"
    rows = np.bincount(owner[null], minlength=len(lists)) > 0
    slips.append(Slip(name, NULL_EVENT, "an event is null (not a record)", hint, rows))
    counts = np.bincount(owner[~null], minlength=len(lists))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    return items.filter(pa.array(~null)), offsets


def _children(
    items: pa.StructArray,
    name: str,
    fields: tuple[C.Field, ...],
    problems: list[Problem],
    slips: list[Slip],
) -> list[pa.Array] | None:
    present = {items.type.field(i).name for i in range(items.type.num_fields)}
    children = []
    for spec in fields:
        path = f"{name}.{spec.name}"
        if spec.name not in present:
            if len(items) == 0 or spec.nullable:
                children.append(pa.nulls(len(items), spec.type))
                continue
            problems.append(missing(path))
            continue
        child = cast_column(items.field(spec.name), spec.type, path, problems, slips)
        if child is not None:
            children.append(child)
    return children if len(children) == len(fields) else None


def short(error: Exception) -> str:
    """First line of an Arrow error, at most 120 characters."""
    return str(error).splitlines()[0][:120]
