"""A real-shaped extract cut from a generated world: one as-of date, statements only.

Real users' data sets rarely look like the generator's output. The common shape is one
snapshot date, the accounts open on it with their last few monthly statements (no
transactions), and the closures of the next month or months as the label. Measuring the
package on that shape needs the same cut of a synthetic world, point in time: everything
after the as-of date is dropped, payments due after it are unknown.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.dates import add_months, month_end, month_start
from risk_model.records import to_flat, to_nested

# Payment fields are known only from the statement's due date (the data contract).
_PAYMENT_FIELDS = (C.AMOUNT_PAID, C.DATE_PAID)


def _open_accounts(histories: pa.Table, closures: pa.Table, as_of: dt.date) -> pa.Table:
    """Profile rows of the accounts opened on or before ``as_of`` and not closed by then."""
    day = pa.scalar(as_of, pa.date32())
    gone = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], day))[C.ACCOUNT_ID]
    accounts = histories.select([f.name for f in C.PROFILE_FIELDS])
    opened = pc.less_equal(accounts[C.OPEN_DATE], day)
    return accounts.filter(pc.and_(opened, pc.invert(pc.is_in(accounts[C.ACCOUNT_ID], gone))))


def _known_statements(
    histories: pa.Table, accounts: pa.Table, as_of: dt.date, months: int
) -> pa.Table:
    """Flat statements of ``accounts`` for the last ``months`` months, as known at ``as_of``."""
    # Transactions are dropped before flattening: the extract never carries them.
    events = [c for c in histories.column_names if c != C.TRANSACTIONS]
    statements = to_flat(histories.select(events)).statements
    first = pa.scalar(month_start(as_of, -(months - 1)), pa.date32())
    last = pa.scalar(month_start(as_of), pa.date32())
    month = statements[C.STATEMENT_MONTH]
    keep = pc.and_(
        pc.and_(pc.greater_equal(month, first), pc.less_equal(month, last)),
        pc.is_in(statements[C.ACCOUNT_ID], accounts[C.ACCOUNT_ID]),
    )
    return payments_known_at(statements.filter(keep), as_of)


def payments_known_at(statements: pa.Table, as_of: dt.date) -> pa.Table:
    """Flat statements with the payment fields nulled where the due date is after ``as_of``.

    A statement's payment is known only from its due date (the contract's point-in-time rule),
    so an extract taken at ``as_of`` cannot hold it yet.
    """
    unknown = pc.greater(statements[C.DUE_DATE], pa.scalar(as_of, pa.date32()))
    for name in _PAYMENT_FIELDS:
        column = statements[name]
        nulls = pa.nulls(len(column), column.type)
        index = statements.schema.get_field_index(name)
        statements = statements.set_column(index, name, pc.if_else(unknown, nulls, column))
    return statements


def statements_only_extract(
    histories: pa.Table,
    closures: pa.Table,
    as_of: dt.date,
    *,
    months: int = 6,
    horizon_months: int = 1,
) -> tuple[pa.Table, pa.Table]:
    """Cut a statements-only, single-as-of extract from full account histories.

    Parameters
    ----------
    histories : pyarrow.Table
        Account histories in the contract's nested form (e.g. ``World.histories``).
    closures : pyarrow.Table
        Closures (``CLOSURES_SCHEMA``) of the same accounts.
    as_of : datetime.date
        Snapshot date: a month end.
    months : int
        Statement months kept per account: the ``as_of`` month and the ``months - 1``
        before it (fewer for younger accounts or missing statements).
    horizon_months : int
        Label horizon: closures in ``(as_of, as_of + horizon_months]`` are kept.

    Returns
    -------
    histories : pyarrow.Table
        One row per account open at ``as_of`` (opened on or before it, not closed by
        then), profile kept, ``statements`` only (no ``transactions`` column);
        ``amount_paid`` and ``date_paid`` are null where the due date is after ``as_of``.
    closures : pyarrow.Table
        The closures of those accounts inside the horizon.

    Raises
    ------
    ValueError
        If ``as_of`` is not a month end, or ``months`` or ``horizon_months`` is below 1.
    """
    if as_of != month_end(as_of):
        raise ValueError(f"as_of must be a month end, got {as_of}")
    if months < 1 or horizon_months < 1:
        raise ValueError("months and horizon_months must be >= 1")
    accounts = _open_accounts(histories, closures, as_of)
    statements = _known_statements(histories, accounts, as_of, months)
    nested = to_nested(accounts, statements).drop_columns([C.TRANSACTIONS])
    end = pa.scalar(add_months(as_of, horizon_months), pa.date32())
    dates = closures[C.CLOSURE_DATE]
    inside = pc.and_(
        pc.and_(pc.greater(dates, pa.scalar(as_of, pa.date32())), pc.less_equal(dates, end)),
        pc.is_in(closures[C.ACCOUNT_ID], accounts[C.ACCOUNT_ID]),
    )
    return nested, closures.filter(inside)


def extract_at(histories: pa.Table, closures: pa.Table, as_of: dt.date) -> pa.Table:
    """Cut what an extract taken at ``as_of`` holds: every event known then, nothing after.

    Unlike :func:`statements_only_extract` the transactions and every statement month are
    kept, so a past month of a world can be scored as it was (e.g. a monitored batch).

    Parameters
    ----------
    histories : pyarrow.Table
        Account histories in the contract's nested form.
    closures : pyarrow.Table
        Closures (``CLOSURES_SCHEMA``) of the same accounts.
    as_of : datetime.date
        Extract date.

    Returns
    -------
    pyarrow.Table
        One row per account open at ``as_of`` (opened on or before it, not closed by
        then); statements of months ending on or before ``as_of`` (payments null where due
        after it), transactions dated on or before it; ``kyc_date`` and ``migrated_date``
        null where after it.
    """
    day = pa.scalar(as_of, pa.date32())
    accounts = _open_accounts(histories, closures, as_of)
    for name in (C.KYC_DATE, C.MIGRATED_DATE):
        column = accounts[name]
        later = pc.fill_null(pc.greater(column, day), False)
        index = accounts.schema.get_field_index(name)
        nulls = pa.nulls(len(column), column.type)
        accounts = accounts.set_column(index, name, pc.if_else(later, nulls, column))
    flat = to_flat(histories)
    ids = accounts[C.ACCOUNT_ID]
    statements = flat.statements.filter(
        pc.and_(
            pc.is_in(flat.statements[C.ACCOUNT_ID], ids),
            pc.less_equal(flat.statements[C.STATEMENT_MONTH], pa.scalar(month_start(as_of))),
        )
    )
    if as_of != month_end(as_of):  # the statement of as_of's own month is not cut yet
        month = statements[C.STATEMENT_MONTH]
        statements = statements.filter(pc.less(month, pa.scalar(month_start(as_of))))
    transactions = flat.transactions
    dates = pc.cast(transactions[C.TS], pa.date32())
    transactions = transactions.filter(
        pc.and_(pc.is_in(transactions[C.ACCOUNT_ID], ids), pc.less_equal(dates, day))
    )
    return to_nested(accounts, payments_known_at(statements, as_of), transactions)
