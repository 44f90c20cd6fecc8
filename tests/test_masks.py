"""Tests for risk_model._masks: Python answers for a few values match Arrow's kernels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model._masks import SMALL, blank


def _arrow_blank(values: pa.Array) -> np.ndarray:
    present = pc.fill_null(values, "x")
    return pc.equal(pc.utf8_trim_whitespace(present), "").to_numpy(zero_copy_only=False)


def test_blank_matches_arrow_for_every_ascii_character():
    texts = [chr(i) for i in range(128)] + ["", "  ", " a ", "\t\r\n", "\x1c\x1f", None]
    values = pa.array(texts)
    few = np.concatenate([blank(values.slice(i, SMALL)) for i in range(0, len(values), SMALL)])
    assert np.array_equal(few, _arrow_blank(values))
    assert few[ord(" ")] and not few[ord("a")]


def test_blank_non_ascii_whitespace_goes_to_arrow():
    values = pa.chunked_array([["\u3000", "\u00a0a", "a\u2003", None]])
    assert blank(values).tolist() == _arrow_blank(values.chunk(0)).tolist()
    assert blank(values).tolist() == [True, False, False, False]


def test_blank_many_values_match_few():
    texts = ["", " ", "id", None] * SMALL
    many = blank(pa.array(texts))
    assert len(texts) > SMALL
    assert many.tolist() == [bool(t is not None and not t.strip()) for t in texts]
