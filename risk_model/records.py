"""Conversions between the nested record form and flat tables, vectorised with pyarrow.

Nested form: one row per account, ``statements`` and ``transactions`` as list<struct>
columns (:data:`risk_model.contract.HISTORY_SCHEMA`). Flat form: three tables
(accounts, statements, transactions) joined by ``account_id``. Both directions work on
whole columns (list offsets and parent indices), never per account in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._names import record_near_misses, warn_near_misses
from risk_model._shapes import Shapes
from risk_model.problems import ContractError

_EVENT_PARTS = (
    (C.STATEMENTS, C.STATEMENT_FIELDS, C.STATEMENTS_SCHEMA, C.STATEMENT_MONTH),
    (C.TRANSACTIONS, C.TRANSACTION_FIELDS, C.TRANSACTIONS_SCHEMA, C.TS),
)


class FlatTables(NamedTuple):
    """Account histories as three flat tables joined by ``account_id``."""

    accounts: pa.Table
    statements: pa.Table
    transactions: pa.Table


def to_flat(histories: pa.Table) -> FlatTables:
    """Split nested account histories into flat accounts, statements and transactions.

    Parameters
    ----------
    histories : pyarrow.Table
        Histories in the contract's nested form. A missing event column gives an
        empty flat table for that part.

    Returns
    -------
    FlatTables
        Event rows keep the accounts' order and their order within each account.
    """
    accounts = histories.select([f.name for f in C.PROFILE_FIELDS])
    flats = []
    for column, fields, schema, _ in _EVENT_PARTS:
        if column not in histories.schema.names:
            flats.append(schema.empty_table())
            continue
        lists = histories[column].combine_chunks()
        parents = pc.list_parent_indices(lists)
        items = pc.list_flatten(lists)
        ids = histories[C.ACCOUNT_ID].combine_chunks().take(parents)
        arrays = [ids] + [items.field(f.name) for f in fields]
        flats.append(pa.Table.from_arrays(arrays, schema=schema))
    return FlatTables(accounts, flats[0], flats[1])


def to_nested(
    accounts: pa.Table,
    statements: pa.Table | None = None,
    transactions: pa.Table | None = None,
) -> pa.Table:
    """Assemble nested account histories from flat tables.

    Parameters
    ----------
    accounts : pyarrow.Table
        One row per account with the profile columns; the output keeps this order.
    statements, transactions : pyarrow.Table, optional
        Flat events with an ``account_id`` column. ``None`` gives empty lists. Events
        are sorted by account, then by month / timestamp (stable).

    Returns
    -------
    pyarrow.Table
        Histories with :data:`risk_model.contract.HISTORY_SCHEMA`.

    Raises
    ------
    ValueError
        If an event refers to an account that is not in ``accounts``.
    """
    n_accounts = accounts.num_rows
    columns = [accounts[f.name].cast(f.type) for f in C.PROFILE_FIELDS]
    for (column, fields, _, order_by), events in zip(
        _EVENT_PARTS, (statements, transactions), strict=True
    ):
        item_type = pa.struct([f.arrow() for f in fields])
        if events is None or events.num_rows == 0:
            offsets = pa.array(np.zeros(n_accounts + 1, dtype=np.int32))
            items = pa.array([], type=item_type)
        else:
            owner = pc.index_in(events[C.ACCOUNT_ID], value_set=accounts[C.ACCOUNT_ID])
            if owner.null_count:
                orphan = events[C.ACCOUNT_ID].filter(pc.is_null(owner)).unique()[:5]
                raise ValueError(
                    f"{column}: {owner.null_count} rows refer to accounts not in the accounts "
                    f"table, e.g. {orphan.to_pylist()}; add those accounts or drop the rows"
                )
            owner_np = owner.to_numpy()
            when = _sort_key(events[order_by])
            order = np.lexsort((when, owner_np))
            counts = np.bincount(owner_np, minlength=n_accounts)
            offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
            taken = events.take(pa.array(order))
            items = pa.StructArray.from_arrays(
                [taken[f.name].combine_chunks().cast(f.type) for f in fields],
                fields=[f.arrow() for f in fields],
            )
        columns.append(pa.ListArray.from_arrays(offsets, items, type=pa.list_(item_type)))
    return pa.Table.from_arrays(columns, schema=C.HISTORY_SCHEMA)


def from_records(records: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> pa.Table:
    """Build a histories table from account records (dicts, e.g. parsed JSON).

    Dates may be ``datetime.date`` objects or ISO strings; types are inferred here and
    made canonical by :func:`risk_model.validation.conform`. Only the contract's keys are
    read: other keys are dropped before any type inference (whatever they hold), with a
    :class:`~risk_model.problems.NearMissNameWarning` for those that nearly match a
    contract name. Values are not validated yet, except their shape: a record, list or
    other container where a plain value belongs is refused. Integers too large for
    64 bits become floats (then rejected by validation as out of their type's range),
    and lone surrogates in text become U+FFFD.

    Parameters
    ----------
    records : mapping or iterable of mappings
        One account record, or several.

    Returns
    -------
    pyarrow.Table
        One row per record, with the contract columns the records carry.

    Raises
    ------
    ContractError
        If a contract field holds a container where a value belongs (or events are not
        a list of records), naming the field and the account.
    ValueError
        If the records cannot form a table (e.g. a field mixes numbers and text),
        naming the offending field and account.
    """
    rows = [records] if isinstance(records, Mapping) else list(records)
    if not all(isinstance(row, Mapping) for row in rows):
        raise ValueError("each account record must be a mapping (a dict / JSON object)")
    clean = _contract_rows(rows)
    if len(clean) == 1 and clean[0]:
        one = _one_record(clean[0])
        if one is not None:
            return one
    try:
        return pa.Table.from_pylist(clean)
    except _INFERENCE_ERRORS as error:
        for row, kept in zip(rows, clean, strict=True):
            try:
                pa.Table.from_pylist([kept])
            except _INFERENCE_ERRORS as row_error:
                account = row.get(C.ACCOUNT_ID)
                raise ValueError(
                    f"account record {account!r} cannot be read: {row_error}; check that each "
                    "field has one type (numbers as numbers, dates as ISO strings)"
                ) from error
        raise ValueError(
            f"account records disagree on field types: {error}; give each field one type "
            "across records"
        ) from error


_INFERENCE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


def _contract_rows(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the records' contract keys, shape-checked; warn about near-miss extra keys."""
    shapes = Shapes()
    clean = [shapes.record(row, i) for i, row in enumerate(rows)]
    if shapes.bad:
        raise ContractError(shapes.problems(), what="account records")
    warn_near_misses(record_near_misses(shapes.extras), stacklevel=4)
    return clean


def _one_record(row: dict[str, Any]) -> pa.Table | None:
    """One record through a single struct inference (the table ``from_pylist`` gives).

    For one non-empty record the struct's fields are its keys in order, each typed as
    ``from_pylist`` types that column; ``None`` on any failure, so the usual path reports it.
    """
    try:
        return pa.Table.from_struct_array(pa.array([row]))
    except Exception:  # anything unusual takes the usual path, which reports it
        return None


def to_records(histories: pa.Table) -> list[dict[str, Any]]:
    """Return histories as a list of plain dicts (dates as ``datetime.date``)."""
    return histories.to_pylist()


def _sort_key(values: pa.ChunkedArray) -> np.ndarray:
    # date32 and timestamps both map to integers that order like the dates.
    as_int = pa.int32() if pa.types.is_date32(values.type) else pa.int64()
    return pc.fill_null(values.cast(as_int), 0).to_numpy()
