"""The account-history data contract: every column name, type, unit and meaning.

This is the only module that spells out column names. Everything else imports
the constants below. An *account history record* is one row per account holding
the profile and two nested event lists (``statements`` and ``transactions``); the
same shape serves batch scoring (a parquet file, one row per account) and online
scoring (one dict / JSON object). Labels (closures) and the synthetic truth are
kept in separate tables.

Time conventions
----------------
* Dates are calendar dates (``date32``); timestamps are local time, second resolution.
* A statement for month ``M`` (``statement_month`` = first day of ``M``) is cut at the
  end of ``M``: its billed amount, limit and days past due are known from the last day
  of ``M``. Its payment fields (``amount_paid``, ``date_paid``) are known only from its
  ``due_date`` on; point-in-time features must respect both.
* An *as-of date* is the end of a calendar day; an event dated on or before it is known.
* ``kyc_date``, ``migrated_date`` and ``other_credit_lines`` are snapshot fields; a date
  after the as-of date is treated as not yet known.
* ``attributes`` (optional) holds the user's own per-account values, each a snapshot that
  must already be known at the as-of date (the package cannot tell when it was taken).

User attributes
---------------
An optional ``attributes`` column (a struct; a JSON object in a record) carries extra
account attributes named by the user, e.g. ``{"education": "university", "income":
12000}``. Each field is one attribute: *numeric* (integer, float or boolean; stored as
float64) or *categorical* (text). Names match :data:`ATTRIBUTE_NAME`; null (or NaN for a
number, empty text for a category) means not known. They become model features
(``attr_<name>``); see :mod:`risk_model.attributes` for the checks and how scoring treats
attributes a model does not know, lacks or has not seen a category of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = "1.0"

# --- profile -------------------------------------------------------------------------
ACCOUNT_ID = "account_id"
OPEN_DATE = "open_date"
BIRTH_YEAR = "birth_year"
IS_STUDENT = "is_student"
KYC_DATE = "kyc_date"
PRODUCT_VERSION = "product_version"
MIGRATED_DATE = "migrated_date"
CITY_TIER = "city_tier"
OTHER_CREDIT_LINES = "other_credit_lines"

# --- nested event lists --------------------------------------------------------------
STATEMENTS = "statements"
TRANSACTIONS = "transactions"

STATEMENT_MONTH = "statement_month"
CREDIT_LIMIT = "credit_limit"
BILLED_AMOUNT = "billed_amount"
MINIMUM_DUE = "minimum_due"
DUE_DATE = "due_date"
AMOUNT_PAID = "amount_paid"
DATE_PAID = "date_paid"
DAYS_PAST_DUE = "days_past_due"

TS = "ts"
KIND = "kind"
AMOUNT = "amount"
MERCHANT_ID = "merchant_id"
MERCHANT_CATEGORY = "merchant_category"
CHANNEL = "channel"

# --- user attributes (optional) ------------------------------------------------------
ATTRIBUTES = "attributes"
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")
MAX_ATTRIBUTES = 50
MAX_CATEGORIES = 100  # distinct values of a categorical attribute in training
MAX_CATEGORY_CHARS = 60
MAX_ATTRIBUTE_VALUE = 1e15  # |number| beyond this is treated as corrupt input

# --- labels and truth ----------------------------------------------------------------
CLOSURE_DATE = "closure_date"
CAUSE = "cause"
AS_OF = "as_of"
HORIZON_MONTHS = "horizon_months"
P_CLOSE = "p_close"
P_CLOSE_SE = "p_close_se"
IS_COLLUDING = "is_colluding"

# --- allowed values ------------------------------------------------------------------
PRODUCT_VERSIONS = ("legacy", "current")
KIND_PURCHASE, KIND_REPAYMENT, KIND_REFUND = "purchase", "repayment", "refund"
KINDS = (KIND_PURCHASE, KIND_REPAYMENT, KIND_REFUND)
CHANNELS = ("offline_qr", "online_shop", "in_app_order", "other")
CAUSES = ("overdue", "cashout", "regulatory", "dormancy", "migration")
CAUSE_UNKNOWN = "unknown"
CAUSE_OTHER = "other"  # a reason's cause when the factor points to no closure cause
CAUSE_PROBABILITY_COLUMNS = tuple(f"p_{cause}" for cause in CAUSES)

# Values beyond these are treated as corrupt input, not as extreme customers.
MAX_AMOUNT = 1e8  # CNY
MAX_DAYS_PAST_DUE = 3650
MIN_BIRTH_YEAR = 1900
MAX_CITY_TIER = 5
MAX_OTHER_CREDIT_LINES = 1000


@dataclass(frozen=True)
class Field:
    """One column of the contract.

    Parameters
    ----------
    name : str
        Column name.
    type : pyarrow.DataType
        Canonical Arrow type.
    nullable : bool
        Whether missing values are allowed.
    unit : str
        Unit or encoding of the value.
    description : str
        What the value means.
    allowed : tuple of str, optional
        Closed set of allowed values for categorical strings.
    """

    name: str
    type: pa.DataType
    nullable: bool
    unit: str
    description: str
    allowed: tuple[str, ...] | None = None

    def arrow(self) -> pa.Field:
        """Return the field as a ``pyarrow.Field``."""
        return pa.field(self.name, self.type, nullable=self.nullable)


PROFILE_FIELDS: tuple[Field, ...] = (
    Field(ACCOUNT_ID, pa.string(), False, "text", "Unique account identifier (non-empty)."),
    Field(OPEN_DATE, pa.date32(), False, "date", "Date the credit line was opened."),
    Field(BIRTH_YEAR, pa.int16(), True, "year", "Holder's year of birth."),
    Field(IS_STUDENT, pa.bool_(), True, "flag", "Holder registered as a student."),
    Field(KYC_DATE, pa.date32(), True, "date", "Date of the latest identity check (KYC)."),
    Field(
        PRODUCT_VERSION,
        pa.string(),
        False,
        "category",
        "Product version the account was opened on.",
        PRODUCT_VERSIONS,
    ),
    Field(
        MIGRATED_DATE,
        pa.date32(),
        True,
        "date",
        "Date a legacy account moved to the current version; null if it has not.",
    ),
    Field(CITY_TIER, pa.int8(), True, "1-5", "Tier of the holder's city (1 = largest)."),
    Field(OTHER_CREDIT_LINES, pa.int16(), True, "count", "Credit lines held elsewhere."),
)

STATEMENT_FIELDS: tuple[Field, ...] = (
    Field(STATEMENT_MONTH, pa.date32(), False, "date", "First day of the billed month."),
    Field(CREDIT_LIMIT, pa.float64(), False, "CNY", "Credit limit at the statement date (> 0)."),
    Field(BILLED_AMOUNT, pa.float64(), False, "CNY", "Balance billed on the statement (>= 0)."),
    Field(MINIMUM_DUE, pa.float64(), False, "CNY", "Minimum payment due (0..billed)."),
    Field(DUE_DATE, pa.date32(), False, "date", "Payment due date (after the month's end)."),
    Field(AMOUNT_PAID, pa.float64(), True, "CNY", "Paid against this statement by the due date."),
    Field(DATE_PAID, pa.date32(), True, "date", "Date of the last payment; null if none."),
    Field(DAYS_PAST_DUE, pa.int16(), False, "days", "Days past due at the statement date."),
)

TRANSACTION_FIELDS: tuple[Field, ...] = (
    Field(TS, pa.timestamp("s"), False, "local time", "When the transaction happened."),
    Field(KIND, pa.string(), False, "category", "Transaction kind.", KINDS),
    Field(AMOUNT, pa.float64(), False, "CNY", "Amount, always positive (> 0)."),
    Field(MERCHANT_ID, pa.string(), True, "text", "Merchant paid; null for repayments."),
    Field(MERCHANT_CATEGORY, pa.string(), True, "text", "Merchant's category code."),
    Field(CHANNEL, pa.string(), True, "category", "Payment channel.", CHANNELS),
)

CLOSURE_FIELDS: tuple[Field, ...] = (
    Field(ACCOUNT_ID, pa.string(), False, "text", "Closed account."),
    Field(CLOSURE_DATE, pa.date32(), False, "date", "Date the credit service was closed."),
    Field(
        CAUSE,
        pa.string(),
        True,
        "category",
        "Closure cause; null or 'unknown' where not recorded.",
        (*CAUSES, CAUSE_UNKNOWN),
    ),
)

TRUTH_FIELDS: tuple[Field, ...] = (
    Field(ACCOUNT_ID, pa.string(), False, "text", "Open account at the as-of date."),
    Field(AS_OF, pa.date32(), False, "date", "Month end at which the state is taken."),
    Field(HORIZON_MONTHS, pa.int8(), False, "months", "Label horizon."),
    Field(P_CLOSE, pa.float64(), False, "probability", "True P(closed within the horizon)."),
    *(
        Field(column, pa.float64(), False, "probability", f"True P(closed by {cause} in horizon).")
        for column, cause in zip(CAUSE_PROBABILITY_COLUMNS, CAUSES, strict=True)
    ),
    Field(P_CLOSE_SE, pa.float64(), False, "probability", "Standard error of p_close (0 = exact)."),
)

MERCHANT_FIELDS: tuple[Field, ...] = (
    Field(MERCHANT_ID, pa.string(), False, "text", "Merchant identifier."),
    Field(MERCHANT_CATEGORY, pa.string(), False, "text", "Merchant's category code."),
    Field(IS_COLLUDING, pa.bool_(), False, "flag", "Synthetic truth: merchant helps cash-out."),
)


# How the optional attributes column reads in the contract's tables (its fields are the
# user's: these rows describe the two kinds a field may have).
ATTRIBUTES_TITLE = (
    f"`{ATTRIBUTES}` (optional): a record of the user's own attributes, one field each, "
    "named by the user"
)
ATTRIBUTE_FIELDS: tuple[Field, ...] = (
    Field(
        "<numeric name>",
        pa.float64(),
        True,
        "as given",
        "A number known at the as-of date (integers and booleans are read as numbers); "
        "null or NaN = not known.",
    ),
    Field(
        "<categorical name>",
        pa.string(),
        True,
        "category",
        f"A text value known at the as-of date (at most {MAX_CATEGORY_CHARS} characters); "
        "null or empty = not known.",
    ),
)


def _struct(fields: tuple[Field, ...]) -> pa.StructType:
    return pa.struct([f.arrow() for f in fields])


STATEMENT_TYPE = _struct(STATEMENT_FIELDS)
TRANSACTION_TYPE = _struct(TRANSACTION_FIELDS)

HISTORY_SCHEMA = pa.schema(
    [f.arrow() for f in PROFILE_FIELDS]
    + [
        pa.field(STATEMENTS, pa.list_(STATEMENT_TYPE), nullable=True),
        pa.field(TRANSACTIONS, pa.list_(TRANSACTION_TYPE), nullable=True),
    ],
    metadata={"closure_risk_schema_version": SCHEMA_VERSION},
)
STATEMENTS_SCHEMA = pa.schema(
    [pa.field(ACCOUNT_ID, pa.string(), nullable=False)] + [f.arrow() for f in STATEMENT_FIELDS]
)
TRANSACTIONS_SCHEMA = pa.schema(
    [pa.field(ACCOUNT_ID, pa.string(), nullable=False)] + [f.arrow() for f in TRANSACTION_FIELDS]
)
CLOSURES_SCHEMA = pa.schema([f.arrow() for f in CLOSURE_FIELDS])
TRUTH_SCHEMA = pa.schema([f.arrow() for f in TRUTH_FIELDS])
MERCHANTS_SCHEMA = pa.schema([f.arrow() for f in MERCHANT_FIELDS])

# Optional parts: real extracts may lack transactions (or statements) entirely, and carry
# the user's own attributes or not.
OPTIONAL_COLUMNS = (TRANSACTIONS, STATEMENTS, ATTRIBUTES)


def markdown_tables() -> str:
    """Render the contract as Markdown tables (used to keep docs/contract.md in sync).

    Returns
    -------
    str
        One table per record part: profile, statements, transactions, closures, truth.
    """
    parts = [
        ("Profile (one row per account)", PROFILE_FIELDS),
        (f"`{STATEMENTS}`: list of monthly statements, ascending by month", STATEMENT_FIELDS),
        (f"`{TRANSACTIONS}`: list of transactions, ascending by time", TRANSACTION_FIELDS),
        (ATTRIBUTES_TITLE, ATTRIBUTE_FIELDS),
        ("Closures (labels, a separate table)", CLOSURE_FIELDS),
        ("Truth (synthetic world only)", TRUTH_FIELDS),
    ]
    lines: list[str] = []
    for title, fields in parts:
        lines += [f"**{title}**", "", "| column | type | null | unit | meaning |"]
        lines.append("|---|---|---|---|---|")
        for f in fields:
            meaning = f.description
            if f.allowed:
                meaning += " One of: " + ", ".join(f"`{v}`" for v in f.allowed) + "."
            null = "yes" if f.nullable else "no"
            lines.append(f"| `{f.name}` | {f.type} | {null} | {f.unit} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
