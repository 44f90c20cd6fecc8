"""Row-level contract checks on canonical tables (used by :mod:`risk_model.validation`).

Each check is one vectorised mask over accounts or over flattened events; an event
problem is reported against the account that owns the event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model._masks import blank, filled, is_in, odd_ids, one_chunk, valid_mask
from risk_model.problems import Problem

_DAY = np.timedelta64(1, "D")


def _display_ids(table: pa.Table) -> np.ndarray:
    ids = one_chunk(table[C.ACCOUNT_ID])
    shown = ids.to_numpy(zero_copy_only=False).astype(object)
    if ids.null_count:
        missing = np.flatnonzero(pc.is_null(ids).to_numpy(zero_copy_only=False))
        shown[missing] = [f"<row {i}>" for i in missing]
    return shown


class Collector:
    """Turns masks into :class:`~risk_model.problems.Problem` objects."""

    def __init__(self, table: pa.Table) -> None:
        self.ids = _display_ids(table)
        self.problems: list[Problem] = []

    def accounts(self, field: str, check: str, message: str, hint: str, mask: np.ndarray) -> None:
        rows = mask.nonzero()[0]  # a 1-D mask: np.flatnonzero without its wrappers
        if rows.size:
            ids = tuple(str(i) for i in self.ids[rows])
            self.problems.append(Problem(field, check, message, hint, rows, ids))

    def events(
        self, owner: np.ndarray, field: str, check: str, message: str, hint: str, mask: np.ndarray
    ) -> None:
        if mask.any():
            rows = np.unique(owner[mask])
            ids = tuple(str(i) for i in self.ids[rows])
            self.problems.append(Problem(field, check, message, hint, rows, ids))


def account_checks(table: pa.Table, as_of: dt.date | None) -> list[Problem]:
    """Check a conformed histories table; return the list of problems found."""
    out = Collector(table)
    _profile_checks(table, as_of, out)
    if C.STATEMENTS in table.schema.names:
        _statement_checks(table, as_of, out)
    if C.TRANSACTIONS in table.schema.names:
        _transaction_checks(table, as_of, out)
    return out.problems


def closure_checks(table: pa.Table) -> list[Problem]:
    """Check a conformed closures table; return the list of problems found."""
    out = Collector(table)
    _null_checks(table, C.CLOSURE_FIELDS, "", out.accounts)
    out.accounts(
        C.ACCOUNT_ID,
        "duplicate_id",
        "account closed more than once",
        "keep one closure per account (the first)",
        _duplicated(table[C.ACCOUNT_ID]),
    )
    cause = table[C.CAUSE]
    bad = pc.and_(
        pc.is_valid(cause), pc.invert(pc.is_in(cause, pa.array([*C.CAUSES, C.CAUSE_UNKNOWN])))
    )
    out.accounts(
        C.CAUSE,
        "unknown_value",
        "cause is not a known closure cause",
        f"use one of {[*C.CAUSES, C.CAUSE_UNKNOWN]} or null",
        filled(bad, False),
    )
    return out.problems


def _duplicated(ids: pa.ChunkedArray) -> np.ndarray:
    if len(ids) < 2:
        return np.zeros(len(ids), dtype=bool)
    counts = pa.table({"id": ids}).group_by("id").aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))["id"]
    return filled(pc.is_in(ids, repeated), False).astype(bool)


def _null_checks(
    table: pa.Table | dict[str, pa.Array],
    fields: tuple[C.Field, ...],
    prefix: str,
    report: Callable,
) -> None:
    for spec in fields:
        if spec.nullable or table[spec.name].null_count == 0:
            continue
        mask = filled(pc.is_null(table[spec.name], nan_is_null=False), False).astype(bool)
        report(
            prefix + spec.name,
            "missing_value",
            "value is missing (null)",
            f"give every row a '{spec.name}'",
            mask,
        )


def _allowed_check(values: pa.ChunkedArray, spec: C.Field, name: str, report: Callable) -> None:
    known = is_in(values, spec.allowed)
    report(
        name,
        "unknown_value",
        f"value is not one of {list(spec.allowed)}",
        f"map '{spec.name}' to one of {list(spec.allowed)}",
        valid_mask(values) & ~known,
    )


def _profile_checks(table: pa.Table, as_of: dt.date | None, out: Collector) -> None:
    _null_checks(table, C.PROFILE_FIELDS, "", out.accounts)
    ids = table[C.ACCOUNT_ID]
    id_or = (lambda fill: pc.fill_null(ids, fill)) if ids.null_count else (lambda fill: ids)
    out.accounts(
        C.ACCOUNT_ID,
        "empty_id",
        "account id is empty",
        "give every account a non-empty id",
        blank(ids),
    )
    out.accounts(
        C.ACCOUNT_ID,
        "bad_id",
        "account id has control characters or > 128 characters",
        "use printable ids of at most 128 characters",
        odd_ids(id_or("")),
    )
    out.accounts(
        C.ACCOUNT_ID,
        "duplicate_id",
        "account id appears more than once",
        "give each account one row (merge its events)",
        _duplicated(ids),
    )
    spec = {f.name: f for f in C.PROFILE_FIELDS}
    _allowed_check(
        table[C.PRODUCT_VERSION], spec[C.PRODUCT_VERSION], C.PRODUCT_VERSION, out.accounts
    )

    opened = filled(table[C.OPEN_DATE], 0)
    open_year = opened.astype("datetime64[Y]").astype(int) + 1970
    birth = filled(table[C.BIRTH_YEAR], 2000).astype(np.int64)
    out.accounts(
        C.BIRTH_YEAR,
        "out_of_range",
        f"birth year before {C.MIN_BIRTH_YEAR} or after the open date",
        "give a four-digit birth year before the account opened, or null",
        (birth < C.MIN_BIRTH_YEAR) | (birth > open_year),
    )
    tier = filled(table[C.CITY_TIER], 1).astype(np.int64)
    out.accounts(
        C.CITY_TIER,
        "out_of_range",
        f"city tier outside 1-{C.MAX_CITY_TIER}",
        f"use 1 (largest cities) to {C.MAX_CITY_TIER}, or null",
        (tier < 1) | (tier > C.MAX_CITY_TIER),
    )
    lines = filled(table[C.OTHER_CREDIT_LINES], 0).astype(np.int64)
    out.accounts(
        C.OTHER_CREDIT_LINES,
        "out_of_range",
        f"other credit lines negative or above {C.MAX_OTHER_CREDIT_LINES}",
        "give a count >= 0, or null when unknown",
        (lines < 0) | (lines > C.MAX_OTHER_CREDIT_LINES),
    )
    migrated = filled(table[C.MIGRATED_DATE], 0)
    has_migrated = valid_mask(table[C.MIGRATED_DATE])
    current = is_in(table[C.PRODUCT_VERSION], ("current",))
    out.accounts(
        C.MIGRATED_DATE,
        "inconsistent",
        "migration date on an account opened on 'current'",
        "set migrated_date only for accounts opened on 'legacy'",
        has_migrated & current,
    )
    out.accounts(
        C.MIGRATED_DATE,
        "before_open",
        "migrated before the account opened",
        "check migrated_date and open_date",
        has_migrated & (migrated < opened),
    )
    if as_of is not None:
        valid_open = valid_mask(table[C.OPEN_DATE])
        out.accounts(
            C.OPEN_DATE,
            "after_as_of",
            f"account opened after the as-of date {as_of}",
            "score it at a later as-of date, or drop it",
            valid_open & (opened > np.datetime64(as_of, "D")),
        )


def _flatten(table: pa.Table, column: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Event fields by name (flattened arrays) and the owning row of each event."""
    lists = one_chunk(table[column])
    owner = filled(pc.list_parent_indices(lists), 0).astype(np.int64)
    items = pc.list_flatten(lists)
    names = [items.type.field(i).name for i in range(items.type.num_fields)]
    return {n: items.field(n) for n in names}, owner


def _amount_checks(
    events: dict[str, pa.Array],
    owner: np.ndarray,
    names: tuple[str, ...],
    prefix: str,
    out: Collector,
) -> dict[str, np.ndarray]:
    values = {}
    for name in names:
        raw = filled(events[name], 0.0).astype(np.float64)
        finite = np.isfinite(raw)
        out.events(
            owner,
            prefix + name,
            "not_finite",
            "amount is NaN or infinite",
            "give a finite amount in CNY",
            ~finite,
        )
        out.events(
            owner,
            prefix + name,
            "too_large",
            f"amount above {C.MAX_AMOUNT:,.0f} CNY",
            "check the unit (CNY, not cents) and the value",
            np.abs(raw) > C.MAX_AMOUNT,
        )
        values[name] = np.where(finite, raw, 0.0)  # nan_to_num(nan=posinf=neginf=0), cheaper
    return values


def _out_of_order(owner: np.ndarray, when: np.ndarray, strict: bool) -> np.ndarray:
    same = owner[1:] == owner[:-1]
    step = when[1:] <= when[:-1] if strict else when[1:] < when[:-1]
    return np.concatenate([[False], same & step])


def _statement_checks(table: pa.Table, as_of: dt.date | None, out: Collector) -> None:
    p = C.STATEMENTS + "."
    events, owner = _flatten(table, C.STATEMENTS)
    _null_checks(events, C.STATEMENT_FIELDS, p, lambda *a: out.events(owner, *a))
    amounts = _amount_checks(
        events, owner, (C.CREDIT_LIMIT, C.BILLED_AMOUNT, C.MINIMUM_DUE, C.AMOUNT_PAID), p, out
    )
    out.events(
        owner,
        p + C.CREDIT_LIMIT,
        "not_positive",
        "credit limit is zero or negative",
        "give the limit in force at the statement date (> 0)",
        amounts[C.CREDIT_LIMIT] <= 0,
    )
    for name in (C.BILLED_AMOUNT, C.MINIMUM_DUE, C.AMOUNT_PAID):
        out.events(
            owner,
            p + name,
            "negative",
            "amount is negative",
            "amounts are >= 0; record refunds as transactions",
            amounts[name] < 0,
        )
    out.events(
        owner,
        p + C.MINIMUM_DUE,
        "minimum_above_billed",
        "minimum due exceeds billed amount",
        "minimum_due must be between 0 and billed_amount",
        amounts[C.MINIMUM_DUE] > amounts[C.BILLED_AMOUNT] + 0.005,
    )
    month = filled(events[C.STATEMENT_MONTH], 0)
    first = month.astype("datetime64[M]").astype("datetime64[D]")
    out.events(
        owner,
        p + C.STATEMENT_MONTH,
        "not_month_start",
        "statement month is not a first day",
        "give the first day of the billed month, e.g. 2024-03-01",
        month != first,
    )
    last_day = (first.astype("datetime64[M]") + 1).astype("datetime64[D]") - _DAY
    out.events(
        owner,
        p + C.DUE_DATE,
        "due_before_cut",
        "due date on or before the month's end",
        "the due date follows the statement cut (month end)",
        filled(events[C.DUE_DATE], 0) <= last_day,
    )
    dpd = filled(events[C.DAYS_PAST_DUE], 0).astype(np.int64)
    out.events(
        owner,
        p + C.DAYS_PAST_DUE,
        "out_of_range",
        f"days past due negative or above {C.MAX_DAYS_PAST_DUE}",
        "give whole days past due at the statement date (0 if current)",
        (dpd < 0) | (dpd > C.MAX_DAYS_PAST_DUE),
    )
    out.events(
        owner,
        p + C.STATEMENT_MONTH,
        "out_of_order",
        "statements not in ascending month order or a month repeats",
        "sort statements by month and keep one per month",
        _out_of_order(owner, month, strict=True),
    )
    opened = filled(table[C.OPEN_DATE], 0).astype("datetime64[M]").astype("datetime64[D]")
    out.events(
        owner,
        p + C.STATEMENT_MONTH,
        "before_open",
        "statement before the account opened",
        "check open_date and statement_month",
        month < opened[owner],
    )
    if as_of is not None:
        out.events(
            owner,
            p + C.STATEMENT_MONTH,
            "after_as_of",
            f"statement not yet cut at the as-of date {as_of}",
            "drop statements after the as-of date, or score at a later date",
            last_day > np.datetime64(as_of, "D"),
        )


def _transaction_checks(table: pa.Table, as_of: dt.date | None, out: Collector) -> None:
    p = C.TRANSACTIONS + "."
    events, owner = _flatten(table, C.TRANSACTIONS)
    _null_checks(events, C.TRANSACTION_FIELDS, p, lambda *a: out.events(owner, *a))
    spec = {f.name: f for f in C.TRANSACTION_FIELDS}
    for name in (C.KIND, C.CHANNEL):
        _allowed_check(events[name], spec[name], p + name, lambda *a: out.events(owner, *a))
    amount = _amount_checks(events, owner, (C.AMOUNT,), p, out)[C.AMOUNT]
    out.events(
        owner,
        p + C.AMOUNT,
        "not_positive",
        "amount is zero or negative",
        "amounts are positive; the kind says the direction (purchase/repayment/refund)",
        amount <= 0,
    )
    ts = filled(events[C.TS], 0)
    out.events(
        owner,
        p + C.TS,
        "out_of_order",
        "transactions not in ascending time order",
        "sort transactions by ts within each account",
        _out_of_order(owner, ts, strict=False),
    )
    opened = filled(table[C.OPEN_DATE], 0).astype("datetime64[s]")
    out.events(
        owner,
        p + C.TS,
        "before_open",
        "transaction before the account opened",
        "check open_date and ts",
        ts < opened[owner],
    )
    if as_of is not None:
        end = np.datetime64(as_of, "D").astype("datetime64[s]") + np.timedelta64(1, "D")
        out.events(
            owner,
            p + C.TS,
            "after_as_of",
            f"transaction after the as-of date {as_of}",
            "drop transactions after the as-of date, or score at a later date",
            ts >= end,
        )
