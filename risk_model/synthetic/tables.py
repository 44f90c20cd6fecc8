"""Arrow assembly of a block: histories (nested, built from offsets), closures and truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.synthetic.accounts import Accounts
from risk_model.synthetic.calendar import Calendar
from risk_model.synthetic.config import CAUSE_PRIORITY, MERCHANT_CATEGORIES, WorldConfig
from risk_model.synthetic.merchants import MerchantPool
from risk_model.synthetic.paths import Paths
from risk_model.synthetic.statements import DUE_DAY, Statements
from risk_model.synthetic.transactions import Events

_DAY = np.timedelta64(1, "D")


def account_ids(index: np.ndarray) -> pa.Array:
    """Ids ``"A00000001"`` for zero-based account indices (vectorised)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(index + 1), pa.string()), 8, "0")
    return pc.binary_join_element_wise("A", digits, "")


def _offsets(counts: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))


def _masked(values: np.ndarray, valid: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=~valid)


def _statement_list(calendar: Calendar, accounts: Accounts, statements: Statements) -> pa.Array:
    row, month = np.nonzero(statements.present)
    first = calendar.month_first
    paid_known = statements.paid_known[row, month]
    paid = statements.paid[row, month]
    due = (first[1:] + (DUE_DAY - 1) * _DAY)[month]
    arrays = [
        pa.array(first[:-1][month], type=pa.date32()),
        pa.array(accounts.credit_limit[row]),
        pa.array(statements.billed[row, month]),
        pa.array(statements.minimum[row, month]),
        pa.array(due, type=pa.date32()),
        _masked(paid, paid_known, pa.float64()),
        _masked(statements.paid_date[row, month], paid_known & (paid > 0), pa.date32()),
        pa.array(statements.dpd[row, month].astype(np.int16)),
    ]
    struct = pa.StructArray.from_arrays(arrays, fields=list(C.STATEMENT_TYPE))
    counts = np.bincount(row, minlength=accounts.n)
    return pa.ListArray.from_arrays(_offsets(counts), struct, type=pa.list_(C.STATEMENT_TYPE))


def histories_table(
    config: WorldConfig,
    accounts: Accounts,
    paths: Paths,
    calendar: Calendar,
    statements: Statements,
    events: Events,
    pool: MerchantPool,
    rng: np.random.Generator,
) -> pa.Table:
    """Assemble the nested histories (``HISTORY_SCHEMA``) of a block.

    Parameters
    ----------
    config : WorldConfig
        World parameters.
    accounts, paths, calendar, statements : objects of the block
        Static attributes, latent paths, account-month grid and statement values.
    events : Events
        All transactions of the block, sorted by (account, time).
    pool : MerchantPool
        Merchants (ids and categories).
    rng : numpy.random.Generator
        Block generator (migration days).

    Returns
    -------
    pyarrow.Table
        One row per account.
    """
    n = accounts.n
    statements_list = _statement_list(calendar, accounts, statements)
    has_merchant = events.merchant >= 0
    merchant_pos = _masked(np.maximum(events.merchant, 0), has_merchant, pa.int64())
    category = pa.array(pool.category).take(merchant_pos)
    tx_struct = pa.StructArray.from_arrays(
        [
            pa.array(events.seconds, type=pa.timestamp("s")),
            pa.array(C.KINDS).take(pa.array(events.kind)),
            pa.array(events.amount),
            pool.ids.take(merchant_pos),
            pa.array(MERCHANT_CATEGORIES).take(category),
            pa.array(C.CHANNELS).take(
                _masked(np.maximum(events.channel, 0), events.channel >= 0, pa.int64())
            ),
        ],
        fields=list(C.TRANSACTION_TYPE),
    )
    tx_list = pa.ListArray.from_arrays(
        _offsets(np.bincount(events.account, minlength=n)),
        tx_struct,
        type=pa.list_(C.TRANSACTION_TYPE),
    )
    product = np.where(accounts.is_legacy, 0, 1)
    columns = [
        account_ids(accounts.index),
        pa.array(accounts.open_date, type=pa.date32()),
        _masked(accounts.birth_year, accounts.birth_observed, pa.int16()),
        _masked(accounts.is_student, accounts.student_observed, pa.bool_()),
        _masked(accounts.kyc_date, accounts.kyc_observed, pa.date32()),
        pa.array(C.PRODUCT_VERSIONS).take(pa.array(product)),
        _masked(*migration_dates(accounts, paths, calendar, rng), pa.date32()),
        _masked(accounts.city_tier, accounts.city_observed, pa.int8()),
        _masked(accounts.other_lines, accounts.lines_observed, pa.int16()),
        statements_list,
        tx_list,
    ]
    return pa.Table.from_arrays(columns, schema=C.HISTORY_SCHEMA)


def migration_dates(
    accounts: Accounts, paths: Paths, calendar: Calendar, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Date a legacy account migrated (if it did while open in the window) and validity."""
    migrated = (paths.states["migration"] == 1) & calendar.active
    did = accounts.is_legacy & migrated.any(1)
    month = np.where(did, migrated.argmax(1), 0)
    rows = np.arange(accounts.n)
    lo, hi = calendar.first_day[rows, month], calendar.last_day[rows, month]
    day = lo + (rng.random(accounts.n) * (hi - lo + 1)).astype(np.int64)
    return calendar.month_first[month] + day * _DAY, did


def closures_table(accounts: Accounts, paths: Paths) -> pa.Table:
    """Build the closed accounts of a block (``CLOSURES_SCHEMA``)."""
    rows = np.flatnonzero(paths.closed)
    return pa.Table.from_arrays(
        [
            account_ids(accounts.index[rows]),
            pa.array(paths.closure_date[rows], type=pa.date32()),
            pa.array(CAUSE_PRIORITY).take(pa.array(paths.cause[rows])),
        ],
        schema=C.CLOSURES_SCHEMA,
    )


def truth_table(
    accounts: Accounts,
    calendar: Calendar,
    account: np.ndarray,
    month: np.ndarray,
    probabilities: dict[str, np.ndarray],
    horizon: int,
) -> pa.Table:
    """Truth rows (``TRUTH_SCHEMA``) for the given (account position, as-of month) rows."""
    as_of = calendar.month_first[month + 1] - _DAY
    p_close = sum(probabilities[c] for c in C.CAUSES)
    columns = [
        account_ids(accounts.index[account]),
        pa.array(as_of, type=pa.date32()),
        pa.array(np.full(account.shape[0], horizon, dtype=np.int8)),
        pa.array(np.clip(p_close, 0.0, 1.0)),
        *(pa.array(np.clip(probabilities[c], 0.0, 1.0)) for c in C.CAUSES),
        pa.array(np.zeros(account.shape[0])),
    ]
    return pa.Table.from_arrays(columns, schema=C.TRUTH_SCHEMA)
