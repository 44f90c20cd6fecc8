"""Reading the scoring command's input: one parquet file, streamed in batches of accounts.

Batches are cut from each row group separately and joined across row-group boundaries
here, so every batch holds exactly ``batch_rows`` accounts (the last one fewer) whatever
the file's row-group layout: Arrow cannot read a nested dictionary column in one batch
that spans two row groups (each row group has its own dictionary), and a small row group
must not make small batches. Account ids stored as dictionaries or large strings are read
as plain strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from risk_model import contract as C

_BUFFER = 8 << 20  # buffered column reads: memory follows the batch, not the row group


class InputError(Exception):
    """A usage, input or output problem reported in one line (exit code 2)."""


def open_input(path: Path) -> pq.ParquetFile:
    """Open the histories file, repeated strings read as dictionaries.

    Raises
    ------
    InputError
        When the file is missing, not a regular file or not readable as parquet.
    """
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a file: {path}")
    try:
        source = pq.ParquetFile(path, buffer_size=_BUFFER, pre_buffer=False)
        repeated = repeated_string_columns(source)
        if not repeated:
            return source
        # Reading them as dictionaries skips decoding one string per event: about 40% of
        # the read time on the default world; validation turns them back into strings.
        # The footer already parsed is handed over, not read again.
        return pq.ParquetFile(
            path,
            metadata=source.metadata,
            buffer_size=_BUFFER,
            pre_buffer=False,
            read_dictionary=repeated,
        )
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"cannot read {path} as parquet (not parquet or truncated): {exc}"
        ) from exc


def repeated_string_columns(source: pq.ParquetFile) -> list[str]:
    """Parquet paths of the string columns whose values repeat across rows.

    The string fields of statements and transactions (kind, channel, merchant id and
    category) and the categorical profile strings (product version), as stored in this
    file; not the account id, which is unique.
    """
    nested = {f.name for f in (*C.STATEMENT_FIELDS, *C.TRANSACTION_FIELDS) if f.type == pa.string()}
    profile = {f.name for f in C.PROFILE_FIELDS if f.type == pa.string() and f.allowed}
    schema = source.metadata.schema
    paths = []
    for i in range(len(schema)):
        column = schema.column(i)
        parts = column.path.split(".")
        if column.physical_type != "BYTE_ARRAY":
            continue
        if (parts[0] in C.OPTIONAL_COLUMNS and parts[-1] in nested) or (
            len(parts) == 1 and parts[0] in profile
        ):
            paths.append(column.path)
    return paths


def check_columns(source: pq.ParquetFile) -> list[str]:
    """Return the contract columns to read; raise naming the fields that do not conform."""
    from risk_model.validation import ContractError, conform

    schema = source.schema_arrow
    try:
        conform(schema.empty_table())
    except ContractError as exc:
        raise InputError(one_line(exc)) from exc
    wanted = [f.name for f in C.PROFILE_FIELDS] + list(C.OPTIONAL_COLUMNS)
    return [name for name in wanted if name in schema.names]


def ignored_columns(source: pq.ParquetFile, limit: int = 20) -> str:
    """Name the input's top-level columns the contract does not know ("" when none).

    The scoring command reads only the contract's columns (:func:`check_columns`), so
    these are ignored. A near miss of a contract name (``kycDate``) is left out: it has its
    own warning with the fix.
    """
    from risk_model.validation import schema_near_misses

    schema = source.schema_arrow
    known = {f.name for f in C.PROFILE_FIELDS} | set(C.OPTIONAL_COLUMNS)
    known |= {miss.found for miss in schema_near_misses(schema)}
    extra = [name for name in schema.names if name not in known]
    more = f" and {len(extra) - limit} more" if len(extra) > limit else ""
    return ", ".join(repr(name[:60]) for name in extra[:limit]) + more


def one_line(error: Exception) -> str:
    """Return the error's message on one line (its list items joined by " | ")."""
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines)


def duplicated_ids(source: pq.ParquetFile, path: Path) -> pa.Array:
    """Account ids that occur more than once in the whole file (one cheap column pass)."""
    try:
        ids = plain_ids(source.read(columns=[C.ACCOUNT_ID])[C.ACCOUNT_ID])
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    counts = pa.table({"id": ids}).group_by("id").aggregate([([], "count_all")])
    return counts.filter(pc.greater(counts["count_all"], 1))["id"].combine_chunks()


def plain_ids(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """Ids stored as dictionaries or large strings, as strings (others unchanged)."""
    kind = ids.type
    if pa.types.is_dictionary(kind) or pa.types.is_large_string(kind):
        return ids.cast(pa.string())
    return ids


def numbered_batches(
    source: pq.ParquetFile, batch_rows: int, columns: list[str], path: Path | None = None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(file row of the first account, table)`` per batch, in file order.

    Every batch but the last holds ``batch_rows`` accounts, whatever the row groups.

    Raises
    ------
    InputError
        When the file cannot be read (naming ``path``).
    """
    start = 0
    for table in _exact_batches(_row_group_pieces(source, batch_rows, columns, path), batch_rows):
        if C.ACCOUNT_ID in table.schema.names:
            index = table.schema.get_field_index(C.ACCOUNT_ID)
            table = table.set_column(index, C.ACCOUNT_ID, plain_ids(table[C.ACCOUNT_ID]))
        yield start, table
        start += table.num_rows


def _row_group_pieces(
    source: pq.ParquetFile, batch_rows: int, columns: list[str], path: Path | None
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_rows`` accounts, none spanning two row groups."""
    for group in range(source.metadata.num_row_groups):
        pieces = source.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns)
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"cannot read {path or 'input'}: {exc}") from exc
            yield piece


def _exact_batches(pieces: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``batch_rows`` rows (last: the rest)."""
    held: list[pa.RecordBatch] = []
    rows = 0
    for piece in pieces:
        while piece.num_rows:
            take = min(batch_rows - rows, piece.num_rows)
            held.append(piece.slice(0, take))
            rows += take
            piece = piece.slice(take)
            if rows == batch_rows:
                yield pa.Table.from_batches(held)
                held, rows = [], 0
    if held:
        yield pa.Table.from_batches(held)


def event_date_paths(source: pq.ParquetFile) -> list[str]:
    """Parquet paths of the statement months and transaction times in this file."""
    wanted = {C.STATEMENTS: C.STATEMENT_MONTH, C.TRANSACTIONS: C.TS}
    schema = source.metadata.schema
    paths = []
    for i in range(len(schema)):
        parts = schema.column(i).path.split(".")
        if len(parts) > 1 and wanted.get(parts[0]) == parts[-1]:
            paths.append(schema.column(i).path)
    return paths


def file_last_events(source: pq.ParquetFile, batch_rows: int) -> np.ndarray:
    """Each account's last event date (``risk_model.guards.last_event_days``), whole file.

    Only the statement-month and transaction-time columns are read, batch by batch, so
    memory holds one date per account. A file whose dates cannot be read gives ``NaT``
    (the batches report the problem).
    """
    from risk_model.guards import last_event_days

    paths = event_date_paths(source)
    empty = np.full(source.metadata.num_rows, np.datetime64("NaT"), dtype="datetime64[D]")
    if not paths:
        return empty
    parts = []
    try:
        for batch in source.iter_batches(batch_size=batch_rows, columns=paths):
            parts.append(last_event_days(pa.Table.from_batches([batch])))
    except (OSError, pa.ArrowException):
        return empty
    return np.concatenate(parts) if parts else empty
