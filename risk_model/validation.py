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

import dataclasses
import datetime as dt
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._checks import Collector, account_checks, closure_checks
from risk_model._conform import Slip, arrow_fields, cast_column, conform_lists, missing
from risk_model._names import (
    NearMiss,
    id_text_checks,
    near_misses,
    schema_near_misses,
    warn_near_misses,
)
from risk_model.attribute_checks import conform_attributes
from risk_model.problems import (
    MAX_IDS_SHOWN,
    ContractError,
    NearMissNameWarning,
    Problem,
    UnknownClosureWarning,
)

__all__ = [
    "ContractError",
    "NearMiss",
    "NearMissNameWarning",
    "Problem",
    "conform",
    "find_problems",
    "near_misses",
    "schema_near_misses",
    "split_valid",
    "validate_closures",
    "validate_histories",
    "warn_unknown_closures",
]


def conform(table: pa.Table, parts: tuple[C.Field, ...] = C.PROFILE_FIELDS) -> pa.Table:
    """Cast a histories table to the contract's canonical types.

    Extra columns and extra event fields are dropped (``attributes``, the user's own, are
    kept: :func:`risk_model.attributes.conform_attributes`); missing optional event columns
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
        Listing every missing required column, every column of the wrong type, and
        every account with a value that does not fit its type or a null event.
    """
    canonical, slipped = _conform(table, parts)
    if slipped:
        raise ContractError(slipped)
    return canonical


def _conform(table: pa.Table, parts: tuple[C.Field, ...]) -> tuple[pa.Table, list[Problem]]:
    """Return the canonical table and its account-level conversion problems.

    Raises on table-level problems; values that do not fit their type, and null events,
    are problems of the accounts holding them (those values are null in the table).
    """
    warn_near_misses(schema_near_misses(table.schema, parts), stacklevel=5)
    problems: list[Problem] = []
    slips: list[Slip] = []
    arrays, fields = [], []
    present = set(table.schema.names)
    for spec, arrow_field in zip(parts, arrow_fields(parts), strict=True):
        if spec.name not in present:
            if spec.nullable:
                arrays.append(pa.nulls(table.num_rows, spec.type))
                fields.append(arrow_field)
                continue
            problems.append(missing(spec.name))
            continue
        cast = cast_column(table[spec.name], spec.type, spec.name, problems, slips)
        if cast is not None:
            arrays.append(cast)
            fields.append(arrow_field)
    for column, item_fields in (
        (C.STATEMENTS, C.STATEMENT_FIELDS),
        (C.TRANSACTIONS, C.TRANSACTION_FIELDS),
    ):
        if column in present:
            lists = conform_lists(table[column], column, item_fields, problems, slips)
            if lists is not None:
                arrays.append(lists)
                fields.append(pa.field(column, lists.type))
    if C.ATTRIBUTES in present:  # the user's own attributes (optional)
        attributes = conform_attributes(table[C.ATTRIBUTES], problems, slips)
        if attributes is not None:
            arrays.append(attributes)
            fields.append(pa.field(C.ATTRIBUTES, attributes.type))
    if problems:
        raise ContractError(problems)
    canonical = pa.Table.from_arrays(
        arrays, schema=pa.schema(fields, metadata=C.HISTORY_SCHEMA.metadata)
    )
    if not slips:
        return canonical, []
    out = Collector(canonical)
    for slip in slips:
        out.accounts(*slip)
    return canonical, out.problems


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


def warn_unknown_closures(closures: pa.Table, account_ids: pa.ChunkedArray | pa.Array) -> int:
    """Warn about closures of accounts that are not in the histories.

    Such closures label nothing, so a mismatch of id formats (leading zeros, prefixes)
    would otherwise train a model on no positives without a word.

    Parameters
    ----------
    closures : pyarrow.Table
        Closures with an ``account_id`` column.
    account_ids : pyarrow.Array or ChunkedArray
        Account ids of the histories.

    Returns
    -------
    int
        Number of closures whose account is unknown (0: no warning).
    """
    ids = closures[C.ACCOUNT_ID]
    unknown = ids.filter(pc.invert(pc.fill_null(pc.is_in(ids, value_set=account_ids), False)))
    if len(unknown):
        examples = pc.unique(unknown)[:MAX_IDS_SHOWN].to_pylist()
        warnings.warn(
            UnknownClosureWarning(
                f"{len(unknown)} of {len(ids)} closure(s) name accounts not in the histories, "
                f"e.g. {examples}; they label nothing and are ignored. Fix: check that the "
                "closures' account ids are written as in the histories"
            ),
            stacklevel=2,
        )
    return len(unknown)


def _checked(table: pa.Table, as_of: dt.date | None) -> tuple[pa.Table, list[Problem]]:
    """Conform ``table`` (raising on table-level problems) and list its account problems."""
    canonical, slipped = _conform(table, C.PROFILE_FIELDS)
    checked = account_checks(canonical, as_of)
    ids = Collector(canonical)
    id_text_checks(canonical, ids.accounts)
    checked += ids.problems
    return canonical, slipped + _without_echoes(checked, slipped)


def _without_echoes(problems: list[Problem], slipped: list[Problem]) -> list[Problem]:
    """Drop the "missing value" reports of values that did not convert (already reported)."""
    if not slipped:
        return problems
    unconverted: dict[str, set[int]] = {}
    for problem in slipped:
        unconverted.setdefault(problem.field, set()).update(problem.rows.tolist())
    out = []
    for problem in problems:
        echoed = unconverted.get(problem.field) if problem.check == "missing_value" else None
        if not echoed:
            out.append(problem)
            continue
        keep = np.array([row not in echoed for row in problem.rows.tolist()], dtype=bool)
        if keep.any():
            ids = tuple(np.array(problem.account_ids, dtype=object)[keep])
            out.append(dataclasses.replace(problem, rows=problem.rows[keep], account_ids=ids))
    return out
