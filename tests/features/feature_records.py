"""Small readable account histories for the feature tests (contract-shaped Arrow tables)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from risk_model import contract as C
from risk_model.records import from_records
from risk_model.validation import conform

D = dt.date
DEFAULT_OPEN = D(2022, 1, 1)


def statement(
    month: dt.date,
    billed: float,
    *,
    limit: float = 10_000.0,
    paid: float | None = None,
    min_due: float | None = None,
    dpd: int = 0,
    due: dt.date | None = None,
    date_paid: dt.date | None = None,
) -> dict[str, Any]:
    """A statement of the month starting ``month`` (due on the 20th of the next month)."""
    nxt = D(month.year + month.month // 12, month.month % 12 + 1, 1)
    due = due or nxt.replace(day=20)
    return {
        C.STATEMENT_MONTH: month,
        C.CREDIT_LIMIT: limit,
        C.BILLED_AMOUNT: billed,
        C.MINIMUM_DUE: billed * 0.1 if min_due is None else min_due,
        C.DUE_DATE: due,
        C.AMOUNT_PAID: paid,
        C.DATE_PAID: date_paid if paid is None else (date_paid or due),
        C.DAYS_PAST_DUE: dpd,
    }


def txn(
    ts: dt.datetime,
    amount: float,
    *,
    kind: str = C.KIND_PURCHASE,
    merchant: str | None = "m1",
    category: str | None = "grocery",
    channel: str | None = "other",
) -> dict[str, Any]:
    """One transaction (repayments carry no merchant)."""
    if kind == C.KIND_REPAYMENT:
        merchant = category = None
    return {
        C.TS: ts,
        C.KIND: kind,
        C.AMOUNT: amount,
        C.MERCHANT_ID: merchant,
        C.MERCHANT_CATEGORY: category,
        C.CHANNEL: channel,
    }


def account(
    account_id: str,
    *,
    statements: list | None = None,
    transactions: list | None = None,
    open_date: dt.date = DEFAULT_OPEN,
    **profile: Any,
) -> dict[str, Any]:
    """An account record with sensible profile defaults."""
    record = {
        C.ACCOUNT_ID: account_id,
        C.OPEN_DATE: open_date,
        C.BIRTH_YEAR: 1990,
        C.IS_STUDENT: False,
        C.KYC_DATE: D(2022, 1, 1),
        C.PRODUCT_VERSION: "current",
        C.MIGRATED_DATE: None,
        C.CITY_TIER: 2,
        C.OTHER_CREDIT_LINES: 1,
        C.STATEMENTS: statements,
        C.TRANSACTIONS: transactions,
    }
    record.update(profile)
    return record


def histories(*records: dict[str, Any], drop: tuple[str, ...] = ()) -> pa.Table:
    """A contract-shaped histories table from account records."""
    table = conform(from_records(list(records)))
    return table.drop_columns(list(drop)) if drop else table
