"""Small, readable account records for contract tests."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any


def statement(month: dt.date, **overrides: Any) -> dict[str, Any]:
    row = {
        "statement_month": month,
        "credit_limit": 5000.0,
        "billed_amount": 1200.0,
        "minimum_due": 120.0,
        "due_date": dt.date(month.year + month.month // 12, month.month % 12 + 1, 20),
        "amount_paid": 1200.0,
        "date_paid": dt.date(month.year + month.month // 12, month.month % 12 + 1, 18),
        "days_past_due": 0,
    }
    row.update(overrides)
    return row


def transaction(ts: dt.datetime, **overrides: Any) -> dict[str, Any]:
    row = {
        "ts": ts,
        "kind": "purchase",
        "amount": 88.5,
        "merchant_id": "M1",
        "merchant_category": "groceries",
        "channel": "offline_qr",
    }
    row.update(overrides)
    return row


def account(account_id: str = "A1", **overrides: Any) -> dict[str, Any]:
    row = {
        "account_id": account_id,
        "open_date": dt.date(2023, 1, 10),
        "birth_year": 1990,
        "is_student": False,
        "kyc_date": dt.date(2023, 1, 10),
        "product_version": "current",
        "migrated_date": None,
        "city_tier": 2,
        "other_credit_lines": 1,
        "statements": [statement(dt.date(2023, m, 1)) for m in (2, 3, 4)],
        "transactions": [
            transaction(dt.datetime(2023, 2, 3, 12, 30)),
            transaction(
                dt.datetime(2023, 3, 18, 9, 0),
                kind="repayment",
                amount=1200.0,
                merchant_id=None,
                merchant_category=None,
                channel=None,
            ),
        ],
    }
    row.update(overrides)
    return copy.deepcopy(row)


def accounts_with_attributes(*attributes: Any) -> list[dict[str, Any]]:
    """One event-free account per argument, ``A0, A1, ...``, carrying it as its attributes."""
    return [
        {**account(f"A{i}", statements=[], transactions=[]), "attributes": a}
        for i, a in enumerate(attributes)
    ]


def score_argv(model: Any, path: Any, out: Any, name: str, *extra: str) -> list[str]:
    """``pipelines.score`` arguments for a test model: ``out/<name>.scores|rejects.parquet``.

    ``model`` has ``artefact`` and ``as_of`` (the session model fixtures); ``extra`` follows.
    """
    return [
        str(path),
        "--model",
        str(model.artefact),
        "--as-of",
        model.as_of.isoformat(),
        "--out",
        str(out / f"{name}.scores.parquet"),
        "--rejects",
        str(out / f"{name}.rejects.parquet"),
        *extra,
    ]
