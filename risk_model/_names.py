"""Checks on names and id text: near-miss field names, invisible characters, NFC twins.

* An extra column or event field is dropped like any extra name, but one whose name
  nearly matches a contract name (``kycDate``, ``Transactions``, ``merchantId``) was
  almost certainly meant as that field, which then reads as missing: warn, naming both.
* An account id holding an invisible, format or line-separator character (U+0085 NEL,
  U+200D ZWJ, U+202E RTL override, lone surrogates replaced on the way in) is a problem
  of that account: two ids that print alike would be different accounts.
* Two ids equal after NFC normalisation are distinct byte strings, so both are scored;
  a warning lists them (they probably name one account written by two systems).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._masks import filled, one_chunk
from risk_model.problems import IdTwinWarning, NearMissNameWarning

INVISIBLE_ID = "invisible_id"
_MIN_FUZZY = 5  # shorter names match only after normalising case and separators
_MAX_EDITS = 2
_ITEM_NAMES = {
    C.STATEMENTS: tuple(f.name for f in C.STATEMENT_FIELDS),
    C.TRANSACTIONS: tuple(f.name for f in C.TRANSACTION_FIELDS),
}
# Unicode categories that print as nothing, or break a line: Cc control, Cf format
# (ZWJ, RTL override, soft hyphen), Zl / Zp separators, Cs surrogates. U+FFFD marks a
# byte that was not text (or a lone surrogate replaced by records.from_records).
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class NearMiss:
    """An ignored name that nearly matches a contract name.

    Parameters
    ----------
    found : str
        The name in the input, e.g. ``"kycDate"``.
    expected : str
        The contract name it resembles, e.g. ``"kyc_date"``.
    part : str
        ``""`` for a column, else the event list holding the field (``"transactions"``).
    """

    found: str
    expected: str
    part: str = ""

    def describe(self) -> str:
        """Return one line naming both names and the fix."""
        where = f"{self.part}." if self.part else ""
        return (
            f"'{where}{self.found}' is not in the contract and is ignored, did you mean "
            f"'{where}{self.expected}'? Rename it to '{self.expected}' (or drop it)"
        )


def _normal(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()  # kycDate, KYC_DATE, kyc-date: kycdate


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (names are short: the plain dynamic programme)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def near_misses(names: Iterable[str], expected: Iterable[str], part: str = "") -> list[NearMiss]:
    """Return the names, among ``names`` not in ``expected``, that nearly match one.

    A name nearly matches when it equals a contract name once case, underscores and
    camelCase are set aside, or (for names of 5 or more characters) is within 2 edits of
    it after that.

    Parameters
    ----------
    names : iterable of str
        Names found in the input.
    expected : iterable of str
        Contract names at the same level.
    part : str
        Where the names are (``""`` for columns, or the event list name).

    Returns
    -------
    list of NearMiss
    """
    expected = list(expected)
    exact = set(expected)
    extra = [name for name in names if isinstance(name, str) and name not in exact]
    if not extra:  # every name is a contract name: nothing to compare
        return []
    wanted = {_normal(e): e for e in expected}
    out = []
    for name in extra:
        key = _normal(name)
        match = wanted.get(key)
        if match is None and len(key) >= _MIN_FUZZY:
            edits = {e: _edits(key, k) for k, e in wanted.items() if len(k) >= _MIN_FUZZY}
            close = [e for e, d in sorted(edits.items(), key=lambda kv: kv[1]) if d <= _MAX_EDITS]
            match = close[0] if close else None
        if match is not None:
            out.append(NearMiss(name, match, part))
    return out


def schema_near_misses(
    schema: pa.Schema, parts: tuple[C.Field, ...] = C.PROFILE_FIELDS
) -> list[NearMiss]:
    """Return the columns and event fields of ``schema`` that nearly match contract names.

    Parameters
    ----------
    schema : pyarrow.Schema
        Schema of the input (e.g. ``pyarrow.parquet.ParquetFile(path).schema_arrow``).
    parts : tuple of Field
        Contract fields of the table (default: the histories' profile fields, with the
        ``statements`` and ``transactions`` lists).

    Returns
    -------
    list of NearMiss
        Empty when every extra name is unrelated to the contract.
    """
    expected = [f.name for f in parts]
    if parts is C.PROFILE_FIELDS:
        expected += list(C.OPTIONAL_COLUMNS)
    extra = set(schema.names).difference(expected)
    found = near_misses([n for n in schema.names if n in extra], expected) if extra else []
    for column, item_names in _ITEM_NAMES.items():
        if parts is not C.PROFILE_FIELDS or column not in schema.names:
            continue
        kind = schema.field(column).type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            items = kind.value_type
            if pa.types.is_struct(items):
                names = [items.field(i).name for i in range(items.num_fields)]
                found += near_misses(names, item_names, column)
    return found


def record_near_misses(extras: Mapping[str, Iterable[str]]) -> list[NearMiss]:
    """Near misses among the extra keys of records, by part (``""`` for the profile)."""
    top = [f.name for f in C.PROFILE_FIELDS] + list(C.OPTIONAL_COLUMNS)
    found = []
    for part, names in extras.items():
        found += near_misses(sorted(names, key=str), _ITEM_NAMES.get(part, top), part)
    return found


def warn_near_misses(found: list[NearMiss], stacklevel: int = 3) -> None:
    """Warn with :class:`~risk_model.problems.NearMissNameWarning` when ``found`` is not empty."""
    if found:
        warnings.warn(NearMissNameWarning(found), stacklevel=stacklevel)


def _non_ascii(ids: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Positions and texts of the ids that are not plain ASCII (no nulls in ``ids``)."""
    rows = np.flatnonzero(~filled(pc.string_is_ascii(ids), True).astype(bool))
    return rows, ids.take(pa.array(rows)).to_pylist() if rows.size else []


def _invisible(text: str) -> bool:
    return any(
        not ch.isascii() and (ch == _REPLACEMENT or unicodedata.category(ch) in _INVISIBLE)
        for ch in text
    )


def id_text_checks(table: pa.Table, report) -> None:
    """Report ids with invisible characters; warn about NFC twins.

    ``report(field, check, message, hint, mask)`` records an account problem
    (:meth:`risk_model._checks.Collector.accounts`).
    """
    ids = one_chunk(table[C.ACCOUNT_ID])
    if ids.null_count:
        ids = pc.fill_null(ids, "")
    rows, texts = _non_ascii(ids)
    if not rows.size:  # ASCII control characters are the older bad_id check's
        return
    mask = np.zeros(len(ids), dtype=bool)
    mask[rows[np.array([_invisible(t) for t in texts], dtype=bool)]] = True
    report(
        C.ACCOUNT_ID,
        INVISIBLE_ID,
        "account id holds an invisible, control or line-separator character "
        "(Unicode Cc/Cf/Zl/Zp, a surrogate or U+FFFD)",
        "use printable ids; remove zero-width, direction and control characters",
        mask,
    )
    _warn_twins(ids, texts)


def _warn_twins(ids: pa.Array, texts: list[str]) -> None:
    forms: dict[str, set[str]] = {}
    for text in texts:
        forms.setdefault(unicodedata.normalize("NFC", text), set()).add(text)
    # An id already in NFC form (often plain ASCII: U+212A KELVIN SIGN becomes K) is a twin too.
    keys = list(forms)
    present = filled(pc.is_in(pa.array(keys, pa.string()), ids), False).astype(bool)
    for key, there in zip(keys, present, strict=True):
        if there:
            forms[key].add(key)
    groups = [tuple(sorted(group)) for group in forms.values() if len(group) > 1]
    if groups:
        warnings.warn(IdTwinWarning(groups), stacklevel=5)
