"""Score account history records for an online caller: every record gets a row back.

This is what the registered MLflow model runs (``mlflow models serve``, ``spark_udf``,
``mlflow.pyfunc.load_model(...).predict``): records in the contract's JSON shape (profile
fields, ``statements`` and ``transactions`` as lists of records, dates as ISO strings),
scored by :meth:`risk_model.predict.Predictor.score_table`, the step behind
``pipelines.score`` and ``Predictor.predict``, so a scored row equals the account's row of
``Predictor.predict(records, as_of, reasons=...)``.

Output (:data:`SERVING_COLUMNS`), one row per input record, in input order: the
predictor's columns (:data:`risk_model.scores.OUTPUT_COLUMNS`, ``as_of`` as an ISO
string), ``status`` (``scored`` or ``rejected``) and ``rejected_reason`` (the contract's
message: ``field: problem [check]; fix: hint``). A rejected row has no probability,
points, band or top cause and an empty reason list. :func:`score_rows` returns the rows as
plain dicts, JSON's own shape (what the served model answers); :func:`score_records`
returns the same rows as a DataFrame.

A batch whose records cannot form one table (e.g. a field holding numbers in one record
and text in another) is read record by record, so one bad record never costs the others
their scores. When no record can be scored, :class:`RecordsRejectedError` names every account
and its problem (the served model answers HTTP 400 with that message).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from risk_model import contract as C
from risk_model.dates import as_date
from risk_model.guards import resolve_as_of
from risk_model.problems import ContractError, Problem
from risk_model.records import from_records
from risk_model.scores import (
    MODEL_VERSION,
    OUTPUT_COLUMNS,
    REASONS,
    unreadable_record_problem,
)
from risk_model.validation import conform

if TYPE_CHECKING:
    from risk_model.predict import Predictor, ReasonsMode

STATUS, REJECTED_REASON = "status", "rejected_reason"
SCORED, REJECTED = "scored", "rejected"
SERVING_COLUMNS = (*OUTPUT_COLUMNS, STATUS, REJECTED_REASON)
DEFAULT_REASONS = "all"  # an online caller asks about one account: always say why

__all__ = [
    "DEFAULT_REASONS",
    "EXAMPLE_AS_OF",
    "EXAMPLE_RECORD",
    "REJECTED",
    "REJECTED_REASON",
    "SCORED",
    "SERVING_COLUMNS",
    "STATUS",
    "RecordsRejectedError",
    "records_from_frame",
    "score_records",
    "score_rows",
]

# One made-up account in the contract's JSON shape: the served model's input example.
EXAMPLE_AS_OF = "2025-12-31"
EXAMPLE_RECORD: dict[str, Any] = {
    C.ACCOUNT_ID: "EXAMPLE-0001",
    C.OPEN_DATE: "2023-03-14",
    C.BIRTH_YEAR: 1994,
    C.IS_STUDENT: False,
    C.KYC_DATE: "2023-03-14",
    C.PRODUCT_VERSION: "current",
    C.MIGRATED_DATE: None,
    C.CITY_TIER: 2,
    C.OTHER_CREDIT_LINES: 1,
    C.STATEMENTS: [
        {
            C.STATEMENT_MONTH: f"2025-{month:02d}-01",
            C.CREDIT_LIMIT: 8000.0,
            C.BILLED_AMOUNT: billed,
            C.MINIMUM_DUE: round(billed / 10, 2),
            C.DUE_DATE: f"2025-{month + 1:02d}-20",
            C.AMOUNT_PAID: paid,
            C.DATE_PAID: None if paid == 0 else f"2025-{month + 1:02d}-{day:02d}",
            C.DAYS_PAST_DUE: dpd,
        }
        for month, billed, paid, day, dpd in (
            (9, 2450.0, 2450.0, 12, 0),
            (10, 3120.5, 312.05, 19, 0),
            (11, 4980.0, 0.0, 0, 12),
        )
    ],
    C.TRANSACTIONS: [
        {
            C.TS: ts,
            C.KIND: kind,
            C.AMOUNT: amount,
            C.MERCHANT_ID: merchant,
            C.MERCHANT_CATEGORY: category,
            C.CHANNEL: channel,
        }
        for ts, kind, amount, merchant, category, channel in (
            ("2025-09-03T12:41:07", "purchase", 1450.0, "M00017", "5411", "offline_qr"),
            ("2025-10-08T20:15:44", "purchase", 3120.5, "M00342", "5732", "online_shop"),
            ("2025-10-19T09:02:10", "repayment", 2450.0, None, None, None),
            ("2025-11-21T23:58:31", "purchase", 4980.0, "M00342", "5732", "in_app_order"),
        )
    ],
    # the user's own attributes: read by a model trained with them, ignored by the others
    C.ATTRIBUTES: {"education": "university", "monthly_income": 12000},
}


class RecordsRejectedError(ValueError):
    """No record of a request could be scored; the message names each account and problem.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows that would have been returned (every one ``rejected``).
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.frame = _frame(rows)
        lines = [
            f"account histories do not meet the data contract ({len(rows)} account(s) "
            "rejected, none scored):"
        ]
        for row in rows:
            lines.append(f"  - account {row[C.ACCOUNT_ID]!r}: {row[REJECTED_REASON]}")
        super().__init__("\n".join(lines))


def records_from_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a DataFrame of account records as plain dicts (the values JSON would give).

    Missing values (``NaN``, ``NaT``, ``pd.NA``: a key absent from some JSON records) become
    None, numpy scalars become Python numbers, and numpy arrays (how Spark hands list
    columns to pandas) become lists, also inside events.
    """
    columns = [str(name) for name in frame.columns]
    return [dict(zip(columns, map(_plain, row), strict=True)) for row in frame.to_numpy(object)]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | list):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return _plain(value.item())
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def score_records(
    predictor: Predictor,
    records: pd.DataFrame | Iterable[Mapping[str, Any]],
    as_of: Any = None,
    *,
    reasons: ReasonsMode = DEFAULT_REASONS,
    if_none_scored: str = "error",
) -> pd.DataFrame:
    """Score account records; return one row per record, scored or rejected.

    The rows of :func:`score_rows` (same arguments, same errors) as a DataFrame.

    Returns
    -------
    pandas.DataFrame
        :data:`SERVING_COLUMNS`, one row per record in input order.
    """
    rows = score_rows(predictor, records, as_of, reasons=reasons, if_none_scored=if_none_scored)
    return _frame(rows)


def score_rows(
    predictor: Predictor,
    records: pd.DataFrame | Iterable[Mapping[str, Any]],
    as_of: Any = None,
    *,
    reasons: ReasonsMode = DEFAULT_REASONS,
    if_none_scored: str = "error",
) -> list[dict[str, Any]]:
    """Score account records; return one row (a dict) per record, scored or rejected.

    Parameters
    ----------
    predictor : Predictor
        The loaded model.
    records : pandas.DataFrame or iterable of mappings
        Account records in the contract's nested shape (a DataFrame: one row per account,
        ``statements`` / ``transactions`` cells holding lists of records).
    as_of : date or ISO string, optional
        Scoring date; default the latest month end the records cover (with an
        ``AsOfInferredWarning``), as :meth:`Predictor.predict` infers it.
    reasons : {"all", "needed", "none"}
        Which accounts get reasons (default all: an online caller wants to know why).
    if_none_scored : {"error", "report"}
        ``error``: raise :class:`RecordsRejectedError` when no record could be scored (one bad
        account alone is an error); ``report``: return the rejected rows anyway.

    Returns
    -------
    list of dict
        One dict per record in input order, keyed by :data:`SERVING_COLUMNS` in that order;
        plain Python values (JSON's types).

    Raises
    ------
    RecordsRejectedError
        When every record was rejected and ``if_none_scored`` is ``error``.
    ValueError
        For an unknown ``reasons`` / ``if_none_scored`` or an unreadable ``as_of``.
    """
    if if_none_scored not in ("error", "report"):
        raise ValueError(f"if_none_scored must be 'error' or 'report', got {if_none_scored!r}")
    if reasons not in ("all", "needed", "none"):
        raise ValueError(f"reasons must be 'all', 'needed' or 'none', got {reasons!r}")
    as_of = None if as_of is None else as_date(as_of)
    records = records_from_frame(records) if isinstance(records, pd.DataFrame) else list(records)
    result = _Result(records, predictor.model_version)
    if records:
        try:
            result.score(predictor, from_records(records), range(len(records)), as_of, reasons)
        except (ContractError, ValueError):
            # The records do not form one readable table: read them one by one.
            result.score_one_by_one(predictor, as_of, reasons)
    rows = result.rows()
    if if_none_scored == "error" and rows and not result.scored:
        raise RecordsRejectedError(rows)
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(SERVING_COLUMNS), dtype=object)


class _Result:
    """The rows of one request, filled in as records are scored or rejected."""

    def __init__(self, records: list[Any], model_version: str) -> None:
        self.records = records
        self.model_version = model_version
        self.as_of: dt.date | None = None
        self.scored: dict[int, dict[str, Any]] = {}
        self.rejected: dict[int, str] = {}

    def score(
        self,
        predictor: Predictor,
        table: pa.Table,
        positions: Iterable[int],
        as_of: Any,
        reasons: ReasonsMode,
    ) -> None:
        """Score ``table`` (its rows are the records at ``positions``) in one batch."""
        positions = np.asarray(list(positions), dtype=np.int64)
        batch = len(self.records) > 1
        if as_of is None or batch:  # recency is a property of a batch, not of one record
            self.as_of = resolve_as_of(table, as_of, recency=batch)
        else:
            self.as_of = as_of
        scores, rejects = predictor.score_table(table, self.as_of, reasons=reasons)
        rejected_rows = rejects["row"].to_numpy()
        for row, reason in zip(rejected_rows, rejects["reason"].to_pylist(), strict=True):
            self.rejected[int(positions[row])] = reason
        kept = np.setdiff1d(np.arange(len(positions)), rejected_rows)
        # Plain Python values, equal (==) to Predictor.predict's (as predict_one returns them).
        for position, values in zip(positions[kept], scores.to_pylist(), strict=True):
            self.scored[int(position)] = values

    def score_one_by_one(self, predictor: Predictor, as_of: Any, reasons: ReasonsMode) -> None:
        """Read each record alone; score the readable ones together, reject the others."""
        self.as_of = None
        tables, positions = [], []
        for position, record in enumerate(self.records):
            try:
                if not isinstance(record, Mapping):
                    raise ValueError("an account record must be a JSON object")
                tables.append(conform(from_records(record)))
                positions.append(position)
            except ContractError as error:
                self.rejected[position] = _reason(error.problems)
            except ValueError as error:
                self.rejected[position] = _reason([unreadable_record_problem(record, error)])
        if not tables:
            return
        table = pa.concat_tables(tables, promote_options="default")
        try:
            self.score(predictor, table, positions, as_of, reasons)
        except (ContractError, ValueError) as error:
            problems = error.problems if isinstance(error, ContractError) else None
            reason = _reason(problems) if problems else f"{C.AS_OF}: {error}"
            self.rejected.update(dict.fromkeys(positions, reason))

    def rows(self) -> list[dict[str, Any]]:
        """Return the rows in input order (dicts keyed by :data:`SERVING_COLUMNS`)."""
        as_of = None if self.as_of is None else self.as_of.isoformat()
        out = []
        for position, record in enumerate(self.records):
            row = self.scored.get(position)
            if row is not None:
                row = row | {C.AS_OF: row[C.AS_OF].isoformat(), STATUS: SCORED}
                out.append(row | {REJECTED_REASON: None})
                continue
            account = record.get(C.ACCOUNT_ID) if isinstance(record, Mapping) else None
            out.append(
                dict.fromkeys(SERVING_COLUMNS)
                | {
                    C.ACCOUNT_ID: None if account is None else str(account),
                    C.AS_OF: as_of,
                    REASONS: [],
                    MODEL_VERSION: self.model_version,
                    STATUS: REJECTED,
                    REJECTED_REASON: self.rejected.get(position, "not scored"),
                }
            )
        return out


def _reason(problems: list[Problem]) -> str:
    """Return the contract's reason text (as in the rejects of ``split_valid``)."""
    return "; ".join(f"{p.field}: {p.message} [{p.check}]; fix: {p.hint}" for p in problems)
