"""Small array helpers shared by the feature families: safe division, runs, exact window sums.

Every helper keeps float sums in a fixed (sequential) order, so a value does not depend on
the batch size or layout (see :func:`rowsum`).
"""

from __future__ import annotations

import numpy as np


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Return ``num / den`` where ``den > 0``, else NaN (without warnings).

    The denominators that are not positive become NaN before dividing: a division by NaN
    is quiet, so there is no warning to silence.
    """
    return np.asarray(num / np.where(den > 0, den, np.nan))


def starts_of_runs(values: np.ndarray) -> np.ndarray:
    """Return the positions where a run of equal values starts (``values`` 1-D)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))


def window(cube: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return ``cube[cols]``, the rows of a window of months: a view when they are consecutive.

    With month-end as-of dates a window's months are consecutive rows, and reading them as a
    view instead of a copy saves about a tenth of a 100,000-account training build
    (``python -m pipelines.benchmark features``: 36-month windows of every cube).
    """
    if len(cols) and cols[-1] - cols[0] + 1 == len(cols):
        return cube[cols[0] : cols[-1] + 1]
    return cube[cols]


def nan_block(names: tuple[str, ...] | list[str], n_asof: int, n_acc: int) -> dict[str, np.ndarray]:
    """NaN-filled float32 (n_asof, n_acc) arrays for ``names``: views of one allocation."""
    block = np.full((len(names), n_asof, n_acc), np.nan, dtype=np.float32)
    return dict(zip(names, block, strict=True))


def rowsum(x: np.ndarray) -> np.ndarray:
    """Sum over axis 0, strictly in row order.

    ``ndarray.sum(0)`` switches to pairwise summation when there is one account, so a
    float total would differ in the last bit between single-account and batch calls;
    adding the rows one by one is always sequential. Counts (whole numbers) add up
    exactly in any order: the families sum them with ``.sum(0)``.
    """
    total = np.zeros(x.shape[1:], dtype=np.float64)
    for row in x:  # row by row into one total: no (rows x accounts) running sums kept
        total += row
    return total


def rowsums(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`rowsum` of each of several arrays of one shape, in one pass over their rows."""
    return tuple(rowsum(np.stack(arrays, axis=1)))


def last_index(present: np.ndarray) -> np.ndarray:
    """Row index of the last True along axis 0 of a (time x account) array; -1 if none."""
    if not present.shape[0]:
        return np.full(present.shape[1], -1)
    last = present.shape[0] - 1 - present[::-1].argmax(axis=0)  # the first True from the end
    return np.where(present.any(axis=0), last, -1)


def take_last(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Value at the last present row of each column (NaN if none)."""
    return take_at(values, last_index(present))


def take_at(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Value at row ``rows[j]`` of each column ``j`` of a 2-D array (NaN where it is -1)."""
    out = values[np.maximum(rows, 0), np.arange(values.shape[1])]
    return np.where(rows >= 0, out, np.nan)
