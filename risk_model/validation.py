"""Validation of account histories and labels against the data contract.

Validation never stops at the first problem: it collects every problem (missing or
mistyped fields, impossible values, events out of order, duplicate ids, ...) and
either raises one :class:`ContractError` listing them all, or, for scoring, splits the
input into valid accounts and rejected accounts with their reasons.

Two levels of problem:

* *table-level* (a required column missing, a column of the wrong type): no account
  can be read, :func:`split_valid` raises;
* *account-level* (an impossible value in one account's events): that account is
  rejected, the others go on.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._checks import account_checks, closure_checks
from risk_model._masks import one_chunk
from risk_model.problems import ContractError, Problem

__all__ = [
    "ContractError",
    "Problem",
    "conform",
    "find_problems",
    "split_valid",
    "validate_closures",
    "validate_histories",
]


def conform(table: pa.Table, parts: tuple[C.Field, ...] = C.PROFILE_FIELDS) -> pa.Table:
    """Cast a histories table to the contract's canonical types.

    Extra columns and extra event fields are dropped; missing optional event columns
    (``statements``, ``transactions``) are kept absent, so features can tell "no data"
    from "no events".

    Parameters
    ----------
    table : pyarrow.Table
        Histories as read from parquet or built by :func:`risk_model.records.from_records`.
    parts : tuple of Field
        Profile fields to conform (default: the contract's).

    Returns
    -------
    pyarrow.Table
        The canonical table.

    Raises
    ------
    ContractError
        Listing every missing required column and every column of the wrong type.
    """
    problems: list[Problem] = []
    arrays, fields = [], []
    present = set(table.schema.names)
    for spec, arrow_field in zip(parts, _arrow_fields(parts), strict=True):
        if spec.name not in present:
            if spec.nullable:
                arrays.append(pa.nulls(table.num_rows, spec.type))
                fields.append(arrow_field)
                continue
            problems.append(_missing(spec.name))
            continue
        cast = _cast(table[spec.name], spec.type, spec.name, problems)
        if cast is not None:
            arrays.append(cast)
            fields.append(arrow_field)
    for column, item_fields in (
        (C.STATEMENTS, C.STATEMENT_FIELDS),
        (C.TRANSACTIONS, C.TRANSACTION_FIELDS),
    ):
        if column in present:
            lists = _conform_lists(table[column], column, item_fields, problems)
            if lists is not None:
                arrays.append(lists)
                fields.append(pa.field(column, lists.type))
    if problems:
        raise ContractError(problems)
    return pa.Table.from_arrays(
        arrays, schema=pa.schema(fields, metadata=C.HISTORY_SCHEMA.metadata)
    )


# Arrow fields and list types of the contract's field tuples, by identity: hashing a
# tuple of fields costs as much as building them, and conform runs once per scored record.
_ARROW: dict[int, tuple[tuple[C.Field, ...], tuple[pa.Field, ...], pa.ListType]] = {}


def _arrow_of(parts: tuple[C.Field, ...]) -> tuple[tuple[pa.Field, ...], pa.ListType]:
    hit = _ARROW.get(id(parts))
    if hit is None or hit[0] is not parts:
        if len(_ARROW) > 32:  # callers passing fresh tuples each time: stay small
            _ARROW.clear()
        fields = tuple(spec.arrow() for spec in parts)
        hit = _ARROW[id(parts)] = (parts, fields, pa.list_(pa.struct(fields)))
    return hit[1], hit[2]


def _arrow_fields(parts: tuple[C.Field, ...]) -> tuple[pa.Field, ...]:
    return _arrow_of(parts)[0]


def _list_type(fields: tuple[C.Field, ...]) -> pa.ListType:
    return _arrow_of(fields)[1]


def find_problems(table: pa.Table, *, as_of: dt.date | None = None) -> list[Problem]:
    """Return every contract problem in ``table`` (empty list when valid).

    Parameters
    ----------
    table : pyarrow.Table
        Account histories (nested form).
    as_of : datetime.date, optional
        When given, accounts opened after it and events dated after it are problems.

    Returns
    -------
    list of Problem
    """
    try:
        return _checked(table, as_of)[1]
    except ContractError as error:
        return error.problems


def validate_histories(table: pa.Table, *, as_of: dt.date | None = None) -> pa.Table:
    """Return the canonical histories, or raise one error listing every problem.

    Parameters
    ----------
    table : pyarrow.Table
        Account histories (nested form).
    as_of : datetime.date, optional
        When given, events after it are problems.

    Returns
    -------
    pyarrow.Table
        The conformed table.

    Raises
    ------
    ContractError
        If anything violates the contract.
    """
    canonical, problems = _checked(table, as_of)
    if problems:
        raise ContractError(problems)
    return canonical


def split_valid(table: pa.Table, *, as_of: dt.date | None = None) -> tuple[pa.Table, pa.Table]:
    """Split histories into valid accounts and rejected accounts with reasons.

    Parameters
    ----------
    table : pyarrow.Table
        Account histories (nested form).
    as_of : datetime.date, optional
        When given, events after it are problems.

    Returns
    -------
    valid : pyarrow.Table
        Canonical histories of the accounts without problems, in input order.
    rejects : pyarrow.Table
        ``account_id``, ``row`` (position in the input) and ``reason`` (all problems
        of that account, joined by "; ") for every rejected account.

    Raises
    ------
    ContractError
        For table-level problems (missing or mistyped columns): no account can be read.
    """
    canonical, problems = _checked(table, as_of)
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        text = f"{problem.field}: {problem.message} [{problem.check}]; fix: {problem.hint}"
        for row in problem.rows.tolist():
            reasons.setdefault(row, []).append(text)
    bad_rows = np.array(sorted(reasons), dtype=np.int64)
    keep = np.ones(canonical.num_rows, dtype=bool)
    keep[bad_rows] = False
    ids = (
        canonical[C.ACCOUNT_ID].take(pa.array(bad_rows))
        if bad_rows.size
        else pa.array([], pa.string())
    )
    rejects = pa.table(
        {
            C.ACCOUNT_ID: ids.cast(pa.string()),
            "row": pa.array(bad_rows, pa.int64()),
            "reason": pa.array(["; ".join(reasons[r]) for r in bad_rows.tolist()], pa.string()),
        }
    )
    valid = canonical if keep.all() else canonical.filter(pa.array(keep))
    return valid, rejects


def validate_closures(table: pa.Table) -> pa.Table:
    """Return the closures table in canonical types, or raise listing every problem.

    Parameters
    ----------
    table : pyarrow.Table
        Labels: ``account_id``, ``closure_date``, ``cause`` (nullable; may be absent).

    Returns
    -------
    pyarrow.Table
        Canonical closures with :data:`risk_model.contract.CLOSURES_SCHEMA`.

    Raises
    ------
    ContractError
        If a column is missing or mistyped, an id repeats, or a cause is unknown.
    """
    canonical = conform(table, C.CLOSURE_FIELDS)
    problems = closure_checks(canonical)
    if problems:
        raise ContractError(problems, what="closures")
    return canonical.cast(C.CLOSURES_SCHEMA)


def _checked(table: pa.Table, as_of: dt.date | None) -> tuple[pa.Table, list[Problem]]:
    """Conform ``table`` (raising on table-level problems) and list its account problems."""
    canonical = conform(table)
    return canonical, account_checks(canonical, as_of)


def _missing(name: str) -> Problem:
    return Problem(
        name,
        "missing_field",
        "required field is missing",
        f"add the field '{name}' (see the data contract in the README)",
    )


def _cast(
    values: pa.ChunkedArray | pa.Array, target: pa.DataType, name: str, problems: list[Problem]
) -> pa.Array | None:
    if isinstance(values, pa.ChunkedArray):  # combine_chunks copies even a single chunk
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
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
        problems.append(
            Problem(
                name,
                "wrong_type",
                f"has type {values.type}, expected {target} ({_short(error)})",
                f"store '{name}' as {target}",
            )
        )
        return None


def _conform_lists(
    column: pa.ChunkedArray,
    name: str,
    fields: tuple[C.Field, ...],
    problems: list[Problem],
) -> pa.Array | None:
    lists = one_chunk(column)
    list_type = _list_type(fields)
    if lists.type == list_type and lists.null_count == 0 and lists.offset == 0:
        return lists  # already canonical: no copy
    if pa.types.is_null(lists.type):
        return pa.array([[]] * len(lists), list_type)
    quick = _cast_whole(lists, list_type, fields)
    if quick is not None:
        return quick
    if pa.types.is_large_list(lists.type):
        lists = lists.cast(pa.list_(lists.type.value_type))
    if not pa.types.is_list(lists.type):
        problems.append(
            Problem(
                name,
                "wrong_type",
                f"has type {lists.type}, expected a list of records",
                f"store '{name}' as a list of structs with fields "
                + ", ".join(f.name for f in fields),
            )
        )
        return None
    # Null lists mean "no events": make them empty so offsets are well defined.
    if lists.null_count:
        lists = pc.if_else(pc.is_null(lists), pa.scalar([], lists.type), lists)
    items = lists.flatten()
    if pa.types.is_null(items.type):
        items = pa.array([], pa.struct([]))
    if not pa.types.is_struct(items.type):
        problems.append(
            Problem(
                name,
                "wrong_type",
                f"items have type {items.type}, expected records",
                f"make each item of '{name}' a record with fields "
                + ", ".join(f.name for f in fields),
            )
        )
        return None
    present = {items.type.field(i).name for i in range(items.type.num_fields)}
    children = []
    for spec in fields:
        path = f"{name}.{spec.name}"
        if spec.name not in present:
            if len(items) == 0 or spec.nullable:
                children.append(pa.nulls(len(items), spec.type))
                continue
            problems.append(_missing(path))
            continue
        child = _cast(items.field(spec.name), spec.type, path, problems)
        if child is not None:
            children.append(child)
    if len(children) != len(fields):
        return None
    struct = pa.StructArray.from_arrays(children, fields=list(_arrow_fields(fields)))
    start = lists.offsets[0].as_py()
    offsets = pc.subtract(lists.offsets, start) if start else lists.offsets
    return pa.ListArray.from_arrays(offsets, struct, type=list_type)


_FEW_LISTS = 64  # a few accounts (one scored record): one cast beats a per-field rebuild


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether ``_cast`` would convert ``source`` by a plain ``pc.cast`` to ``target``."""
    if source == target or pa.types.is_null(source):
        return True
    if pa.types.is_integer(source):
        return pa.types.is_integer(target) or pa.types.is_floating(target)
    if pa.types.is_floating(source):
        return pa.types.is_floating(target)
    return pa.types.is_timestamp(source) and source.tz is None and pa.types.is_timestamp(target)


def _cast_whole(lists: pa.Array, list_type: pa.ListType, fields: tuple[C.Field, ...]):
    """Return the field-by-field conversion below as one safe cast, or None to take it.

    Only for a few lists without nulls whose items are records with exactly the contract's
    fields, in order, each of a type ``_cast`` converts with a plain cast: then a safe cast
    that succeeds gives the same values (a timestamp cast that would drop sub-seconds fails
    here and goes the long way, which truncates them on purpose).
    """
    if (
        len(lists) > _FEW_LISTS
        or not pa.types.is_list(lists.type)
        or lists.null_count
        or lists.offset
        or not pa.types.is_struct(lists.type.value_type)
    ):
        return None
    offsets = lists.offsets
    if offsets[0].as_py() != 0 or offsets[-1].as_py() != len(lists.values):
        return None
    items = lists.type.value_type
    if items.num_fields != len(fields) or lists.values.null_count:
        return None
    for i, spec in enumerate(fields):
        child = items.field(i)
        if child.name != spec.name or not _castable(child.type, spec.type):
            return None
    try:
        return pc.cast(lists, list_type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:120]
