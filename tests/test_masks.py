"""Tests for risk_model._masks: Arrow columns as numpy values and masks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from risk_model._masks import blank, filled, is_in, odd_ids, one_chunk, valid_mask


def test_blank_is_true_for_whitespace_only_strings_and_false_for_nulls():
    texts = [chr(i) for i in range(128)] + ["", "  ", " a ", "\t\r\n", None]
    got = blank(pa.array(texts))
    assert got.tolist() == [t is not None and not t.strip() for t in texts]
    values = pa.chunked_array([["\u3000", "\u00a0a", "a\u2003", None]])
    assert blank(values).tolist() == [True, False, False, False]


def test_is_in_is_false_for_other_values_and_nulls():
    got = is_in(pa.chunked_array([["a", "b", None, "A"]]), ("a", "c"))
    assert got.tolist() == [True, False, False, False]


def test_odd_ids_flags_control_characters_and_long_ids():
    ids = pa.chunked_array([["A1", "A\x07", "x" * 128, "x" * 129, "\u00e9" * 100]])
    assert odd_ids(ids).tolist() == [False, True, False, True, False]


def test_filled_and_valid_mask():
    values = pa.chunked_array([[1.5, None], [2.0]])
    assert filled(values, 0.0).tolist() == [1.5, 0.0, 2.0]
    assert valid_mask(values).tolist() == [True, False, True]
    dates = pa.array([None, 3], pa.date32())
    assert filled(dates, 0).astype(np.int64).tolist() == [0, 3]


def test_one_chunk_keeps_a_single_chunk_and_combines_several():
    single = pa.chunked_array([pa.array([1, 2])])
    same = one_chunk(single).buffers()[1].address == single.chunk(0).buffers()[1].address
    assert same  # no copy
    assert one_chunk(pa.chunked_array([[1], [2]])).to_pylist() == [1, 2]
    plain = pa.array([3])
    assert one_chunk(plain) is plain
