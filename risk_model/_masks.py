"""Arrow columns as numpy values and masks for the contract checks."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DIRECT_TIMES = (pa.date32(), pa.timestamp("s"))  # to_numpy gives datetime64[D] / [s]


def one_chunk(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return a column as one array (its only chunk as it is: ``combine_chunks`` copies it)."""
    if not isinstance(values, pa.ChunkedArray):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def filled(values: pa.Array | pa.ChunkedArray, fill: object) -> np.ndarray:
    """Return ``values`` as numpy with nulls replaced by ``fill``."""
    values = one_chunk(values)
    if not values.null_count and values.type in _DIRECT_TIMES:
        return values.to_numpy(zero_copy_only=False)  # datetime64[D] / [s] without a cast
    if values.null_count and values.null_count == len(values):  # e.g. an absent optional field
        typ = values.type
        if pa.types.is_date32(typ) or pa.types.is_timestamp(typ):
            ints = np.full(
                len(values), fill, dtype=np.int32 if pa.types.is_date32(typ) else np.int64
            )
            return ints.astype("datetime64[D]" if pa.types.is_date32(typ) else "datetime64[s]")
        if pa.types.is_integer(typ) or pa.types.is_floating(typ):
            return np.full(len(values), fill, dtype=typ.to_pandas_dtype())
    if pa.types.is_date32(values.type):
        days = values.cast(pa.int32())
        days = pc.fill_null(days, fill) if values.null_count else days
        return days.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    if pa.types.is_timestamp(values.type):
        secs = values.cast(pa.int64())
        secs = pc.fill_null(secs, fill) if values.null_count else secs
        return secs.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    if values.null_count:
        values = pc.fill_null(values, fill)
    return values.to_numpy(zero_copy_only=False)


def valid_mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return a boolean mask of the non-null values."""
    if not values.null_count:
        return np.ones(len(values), dtype=bool)
    if values.null_count == len(values):
        return np.zeros(len(values), dtype=bool)
    return filled(pc.is_valid(values), False).astype(bool)


@functools.lru_cache(maxsize=32)
def _value_set(allowed: tuple[str, ...]) -> pa.Array:
    return pa.array(allowed, pa.string())


def is_in(values: pa.Array | pa.ChunkedArray, allowed: tuple[str, ...]) -> np.ndarray:
    """Return whether each string is one of ``allowed`` (False for nulls)."""
    # is_in is False (never null) for nulls, as no allowed value is null
    return filled(pc.is_in(values, _value_set(allowed)), False).astype(bool)


def blank(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return which strings are empty once whitespace is trimmed (False for nulls)."""
    present = pc.fill_null(values, "x") if values.null_count else values
    return filled(pc.equal(pc.utf8_trim_whitespace(present), ""), False).astype(bool)


_CONTROL = r"[\x00-\x1f\x7f]"


def odd_ids(ids: pa.ChunkedArray) -> np.ndarray:
    """Return which ids hold a control character or exceed 128 characters (no nulls)."""
    control = filled(pc.match_substring_regex(ids, _CONTROL), False).astype(bool)
    return control | filled(pc.greater(pc.utf8_length(ids), 128), False).astype(bool)
