"""The contract's part of account records, shape-checked before Arrow infers types.

Arrow's type inference walks every nested value it is given, recursively: a
self-referencing dict, or one nested 20,000 deep, crashes the interpreter. So
:func:`risk_model.records.from_records` hands it only the contract's keys, and only
values of the contract's shape (a plain value per field; events as a list of records
of plain values; ``attributes`` as one record of plain values), which bounds the depth at
two containers. Anything else is reported
as a problem of its account, without looking inside it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from risk_model import contract as C
from risk_model.problems import Problem

NOT_A_VALUE = "not_a_value"
NOT_A_LIST = "not_a_list"
NOT_A_RECORD = "not_a_record"

_PROFILE = frozenset(f.name for f in C.PROFILE_FIELDS)
_ITEMS = {
    C.STATEMENTS: frozenset(f.name for f in C.STATEMENT_FIELDS),
    C.TRANSACTIONS: frozenset(f.name for f in C.TRANSACTION_FIELDS),
}
# Plain values Arrow reads without recursion (datetime is a date).
_PLAIN = (str, bytes, int, float, Decimal, dt.date, dt.time, dt.timedelta, np.generic)
_LISTS = (list, tuple, np.ndarray)
_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


class Shapes:
    """Collects the contract keys of records, the extra keys and the shape problems."""

    def __init__(self) -> None:
        self.extras: dict[str, set[str]] = {}
        self.bad: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def record(self, row: Mapping[str, Any], index: int) -> dict[str, Any]:
        """Return the contract's keys of one record (in the record's order)."""
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key in _PROFILE:
                out[key] = self._plain(value, "", key, row, index)
            elif key in _ITEMS:
                out[key] = self._events(value, key, row, index)
            elif key == C.ATTRIBUTES:
                out[key] = self._attributes(value, row, index)
            else:
                self.extras.setdefault("", set()).add(key)
        return out

    def _events(self, value: Any, key: str, row: Mapping[str, Any], index: int) -> Any:
        if value is None:
            return None
        if not isinstance(value, _LISTS):
            return self._refuse(key, NOT_A_LIST, row, index)
        names, items = _ITEMS[key], []
        for item in value:
            if item is None:  # a null event: validation names it
                items.append(None)
                continue
            if not isinstance(item, Mapping):
                return self._refuse(key, NOT_A_LIST, row, index)
            kept = {}
            for name, field in item.items():
                if name in names:
                    kept[name] = self._plain(field, key, name, row, index)
                else:
                    self.extras.setdefault(key, set()).add(name)
            items.append(kept)
        return items

    def _attributes(self, value: Any, row: Mapping[str, Any], index: int) -> Any:
        """Return the user's attributes, shape-checked: a record of plain values, one level deep."""
        if value is None:
            return None
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            return self._refuse(C.ATTRIBUTES, NOT_A_RECORD, row, index)
        return {k: self._plain(v, C.ATTRIBUTES, k, row, index) for k, v in value.items()}

    def _plain(self, value: Any, part: str, name: str, row: Mapping[str, Any], index: int) -> Any:
        """Return a plain value as Arrow should read it; refuse a container (``part.name``)."""
        if value is None or isinstance(value, bool):
            return value
        if not isinstance(value, _PLAIN):  # the path is spelled out only for a problem
            return self._refuse(f"{part}.{name}" if part else name, NOT_A_VALUE, row, index)
        if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
            # Arrow cannot hold it; as a float it is rejected as out of its type's range.
            return float(value) if abs(value) < 2**1023 else math.inf if value > 0 else -math.inf
        if type(value) is str and not value.isascii():
            return _SURROGATE.sub("\ufffd", value)  # lone surrogates are not UTF-8
        return value

    def _refuse(self, path: str, check: str, row: Mapping[str, Any], index: int) -> None:
        account = row.get(C.ACCOUNT_ID)
        shown = account if type(account) is str else f"<row {index}>"
        self.bad.setdefault((path, check), []).append((index, _SURROGATE.sub("\ufffd", shown)))
        return None

    def problems(self) -> list[Problem]:
        """Return the shape problems, one per field and kind."""
        out = []
        for (path, check), where in self.bad.items():
            shown = dict(where)  # row -> account id as shown
            rows = np.array(sorted(shown), dtype=np.int64)
            ids = tuple(shown[i] for i in rows.tolist())
            if check == NOT_A_LIST:
                message = "is not a list of records"
                hint = f"give '{path}' as a list of records (or null for none)"
            elif check == NOT_A_RECORD:
                message = "is not a record of named values"
                hint = f"give '{path}' as a record (JSON object) of name: value (or null)"
            else:
                message = "holds a container (record or list) where a plain value belongs"
                hint = f"give '{path}' as a number, text or date"
            out.append(Problem(path, check, message, hint, rows, ids))
        return out
