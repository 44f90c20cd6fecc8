"""How each recourse action edits an account's history (see :mod:`risk_model.recourse`).

Every edit is dated at the as-of date and keeps the history valid under the contract:

* profile: ``kyc_date`` / ``migrated_date`` set to the as-of date;
* the statement cut at the as-of date (its month's statement, known from the month end):
  balance plus the purchase minus the repayment, minimum due at most the balance, no days
  past due once the repayment covers the amount overdue; its limit, dates and payment
  fields (known only from its due date) are untouched, and so is every earlier statement;
* transactions: the purchase, then the repayment, appended at noon of the as-of date (or
  at the account's last transaction, if later), so the lists stay in time order.

All of it runs on whole Arrow columns: the candidates' rows are taken once, the edited
values written into the flattened event arrays, and the lists rebuilt from offsets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.dates import month_end
from risk_model.features.cashout import _median_by_account as median_by_account
from risk_model.features.monthly import DAYS_PER_MONTH, day_number, to_numbers

PAY_OVERDUE, REDUCE_UTILISATION, USE_LINE, RENEW_KYC, MIGRATE = (
    "pay_overdue",
    "reduce_utilisation",
    "use_line",
    "renew_kyc",
    "migrate",
)
ACTIONS = (PAY_OVERDUE, REDUCE_UTILISATION, USE_LINE, RENEW_KYC, MIGRATE)
UTILISATION_LEVELS = (0.8, 0.5, 0.3, 0.1, 0.0)  # mildest first; 0 = pay in full

_BUY_MIN, _BUY_DEFAULT = 20.0, 100.0  # CNY: the smallest and the default purchase
_BUY_SHARE = 0.05  # at most this share of the limit (far from a near-limit purchase)
_KYC_FRESH_DAYS = 31  # an identity check this recent is not worth renewing
_NOON = 12 * 3600
_DAY = 86400


@dataclass(frozen=True)
class Action:
    """One action with its setting.

    Parameters
    ----------
    code : str
        One of :data:`ACTIONS`.
    level : float
        Utilisation level for ``reduce_utilisation`` (NaN otherwise).
    """

    code: str
    level: float = float("nan")


@dataclass(frozen=True)
class AccountState:
    """What the actions read from each account's history at the as-of date (arrays)."""

    stmt_pos: np.ndarray  # place in its list of the statement cut at the as-of date, -1 if none
    billed: np.ndarray
    limit: np.ndarray
    dpd: np.ndarray
    overdue: np.ndarray  # CNY overdue (0 when not past due)
    last_sec: np.ndarray  # last transaction, epoch seconds (very negative if none)
    buy: np.ndarray  # CNY of the use_line purchase (NaN when the action does not apply)
    kyc_months: np.ndarray  # months since the identity check (NaN unknown)
    legacy_open: np.ndarray  # legacy product, not migrated by the as-of date


def read_state(valid: pa.Table, as_of: dt.date) -> AccountState:
    """Read what the actions need from validated histories (one entry per account).

    Parameters
    ----------
    valid : pyarrow.Table
        Validated histories (canonical types).
    as_of : datetime.date
        The date the actions are taken.

    Returns
    -------
    AccountState
    """
    n = valid.num_rows
    asof_day = day_number(as_of)
    today = _statement_today(valid, as_of)
    stmt_pos, billed, limit, dpd, overdue, usual_limit = today
    last_sec = np.full(n, -(2**62), dtype=np.int64)
    buy = np.full(n, np.nan)
    if C.TRANSACTIONS in valid.column_names:
        cap = _BUY_SHARE * np.where(np.isnan(limit), usual_limit, limit)
        last_sec, buy = _transactions_today(valid, as_of, cap)
    kyc = to_numbers(valid.column(C.KYC_DATE), np.float64)
    kyc = np.where(kyc <= asof_day, kyc, np.nan)
    legacy = pc.equal(valid.column(C.PRODUCT_VERSION), C.PRODUCT_VERSIONS[0])
    legacy = legacy.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    migrated = to_numbers(valid.column(C.MIGRATED_DATE), np.float64)
    return AccountState(
        stmt_pos=stmt_pos,
        billed=billed,
        limit=limit,
        dpd=dpd,
        overdue=np.round(overdue, 2),
        last_sec=last_sec,
        buy=buy,
        kyc_months=(asof_day - kyc) / DAYS_PER_MONTH,
        legacy_open=legacy & ~(migrated <= asof_day),
    )


def _statement_today(valid: pa.Table, as_of: dt.date) -> tuple[np.ndarray, ...]:
    """Position, balance, limit, days past due of the statement cut at ``as_of``; overdue.

    Also each account's mean limit (to size a purchase without today's statement).
    """
    n = valid.num_rows
    stmt_pos = np.full(n, -1, dtype=np.int64)
    billed, limit, usual_limit = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    dpd, overdue = np.zeros(n), np.zeros(n)
    if C.STATEMENTS not in valid.column_names:
        return stmt_pos, billed, limit, dpd, overdue, usual_limit
    col = _one_chunk(valid.column(C.STATEMENTS))
    values = pc.list_flatten(col)
    parent = pc.list_parent_indices(col).to_numpy().astype(np.int64)
    if not len(parent):
        return stmt_pos, billed, limit, dpd, overdue, usual_limit
    starts = col.offsets.to_numpy().astype(np.int64)
    field = lambda name: to_numbers(values.field(name), np.float64)  # noqa: E731
    month, due, paid = field(C.STATEMENT_MONTH), field(C.DUE_DATE), field(C.AMOUNT_PAID)
    b, lim, md, late = (
        field(C.BILLED_AMOUNT),
        field(C.CREDIT_LIMIT),
        field(C.MINIMUM_DUE),
        field(C.DAYS_PAST_DUE),
    )
    counts = np.bincount(parent, minlength=n)
    usual_limit = np.bincount(parent, weights=lim, minlength=n) / np.maximum(counts, 1)
    if month_end(as_of) == as_of:  # a statement is cut at the as-of date
        current = np.flatnonzero(month == day_number(as_of.replace(day=1)))
        owner = parent[current]
        stmt_pos[owner] = current - (starts[owner] - starts[0])
        billed[owner], limit[owner], dpd[owner] = b[current], lim[current], late[current]
        # Overdue: the minimums due by the as-of date and left unpaid, from the statement
        # the account was last current on (the first missed) onwards; when the record
        # shows none (payments not known), the minimum due of the statement cut today.
        asof_day = day_number(as_of)
        known_paid = np.where(np.isnan(paid) | (due > asof_day), 0.0, paid)
        short = np.where(due <= asof_day, np.clip(md - known_paid, 0.0, None), 0.0)
        last_current = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last_current, parent, np.where(late == 0, np.arange(len(parent)), -1))
        since = np.arange(len(parent)) >= last_current[parent]
        overdue = np.bincount(parent, weights=np.where(since, short, 0.0), minlength=n)
        overdue[owner] = np.where(overdue[owner] > 0, overdue[owner], md[current])
        overdue = np.where(dpd > 0, np.minimum(overdue, np.nan_to_num(billed)), 0.0)
    return stmt_pos, billed, limit, dpd, overdue, usual_limit


def _transactions_today(
    valid: pa.Table, as_of: dt.date, cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each account's last transaction second and its use_line purchase (NaN: bought already).

    The purchase is the median purchase of the last 12 months (default 100 CNY), at most
    ``cap``, at least 20 CNY, with 60 fen: never a whole amount, so never round or patterned.
    """
    n = valid.num_rows
    col = _one_chunk(valid.column(C.TRANSACTIONS))
    values = pc.list_flatten(col)
    parent = pc.list_parent_indices(col).to_numpy().astype(np.int64)
    sec = to_numbers(values.field(C.TS), np.int64)
    last_sec = np.full(n, -(2**62), dtype=np.int64)
    np.maximum.at(last_sec, parent, sec)
    kind = values.field(C.KIND)
    purchase = pc.equal(kind, C.KIND_PURCHASE).fill_null(False).to_numpy(zero_copy_only=False)
    amount = to_numbers(values.field(C.AMOUNT), np.float64)
    day = sec // _DAY
    recent = purchase & (day > day_number(as_of) - 365)
    this_month = purchase & (day >= day_number(as_of.replace(day=1)))
    bought = np.bincount(parent, weights=this_month, minlength=n) > 0
    usual = median_by_account(parent[recent], amount[recent], n)
    buy = np.fmin(np.where(np.isnan(usual), _BUY_DEFAULT, usual), cap)
    buy = np.floor(np.maximum(buy, _BUY_MIN)) + 0.6
    buy[bought] = np.nan
    return last_sec, buy


def _one_chunk(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def applicable(
    state: AccountState, i: int, levels: Sequence[float] = UTILISATION_LEVELS
) -> list[Action]:
    """Return the single actions (with every setting) that apply to account ``i``."""
    out = []
    has_statement = state.stmt_pos[i] >= 0
    if has_statement and state.dpd[i] > 0 and state.overdue[i] > 0:
        out.append(Action(PAY_OVERDUE))
    if has_statement and state.limit[i] > 0:
        util = state.billed[i] / state.limit[i]
        out += [Action(REDUCE_UTILISATION, level) for level in levels if util > level]
    if not np.isnan(state.buy[i]):
        out.append(Action(USE_LINE))
    if not state.kyc_months[i] * DAYS_PER_MONTH < _KYC_FRESH_DAYS:  # stale or unknown
        out.append(Action(RENEW_KYC))
    if state.legacy_open[i]:
        out.append(Action(MIGRATE))
    return out


@dataclass(frozen=True)
class Effects:
    """What plans do to accounts' histories (arrays, one entry per candidate)."""

    buy: np.ndarray  # CNY purchase, 0 if none
    pay: np.ndarray  # CNY repayment, 0 if none
    cured: np.ndarray  # the statement cut at the as-of date is no longer past due
    kyc: np.ndarray  # renew the identity check
    migrate: np.ndarray


def effects(state: AccountState, rows: np.ndarray, plans: Sequence[tuple[Action, ...]]) -> Effects:
    """Return what each candidate plan does: purchase first, then the overdue, the balance."""
    m = len(plans)
    codes = [{a.code for a in plan} for plan in plans]
    level = np.array(
        [next((a.level for a in p if a.code == REDUCE_UTILISATION), np.nan) for p in plans]
    )
    has = lambda code: np.array([code in c for c in codes], dtype=bool)  # noqa: E731
    buy = np.where(has(USE_LINE), state.buy[rows], 0.0) if m else np.zeros(0)
    billed = np.nan_to_num(state.billed[rows]) + np.where(state.stmt_pos[rows] >= 0, buy, 0.0)
    overdue = state.overdue[rows]
    pay = np.where(has(PAY_OVERDUE), overdue, 0.0)
    down = np.ceil((billed - level * state.limit[rows]) * 100.0) / 100.0
    pay = np.where(np.isnan(level), pay, np.maximum(pay, np.nan_to_num(down)))
    pay = np.minimum(pay, billed)
    cured = (state.dpd[rows] > 0) & (pay > 0) & (pay >= overdue)
    return Effects(buy, np.round(pay, 2), cured, has(RENEW_KYC), has(MIGRATE))


def apply_plans(
    valid: pa.Table, as_of: dt.date, rows: np.ndarray, plans: Sequence[tuple[Action, ...]]
) -> pa.Table:
    """Return the histories of ``valid[rows[j]]`` with plan ``plans[j]`` carried out.

    Parameters
    ----------
    valid : pyarrow.Table
        Validated histories (canonical types).
    as_of : datetime.date
        The date the actions are taken (the scoring date).
    rows : numpy.ndarray
        Account row of each candidate.
    plans : sequence of tuple of Action
        The actions of each candidate (each applicable to its account).

    Returns
    -------
    pyarrow.Table
        One edited history per candidate, valid under the contract at ``as_of``.
    """
    state = read_state(valid, as_of)
    return with_plans(valid, as_of, state, np.asarray(rows, dtype=np.int64), plans)


def with_plans(
    valid: pa.Table,
    as_of: dt.date,
    state: AccountState,
    rows: np.ndarray,
    plans: Sequence[tuple[Action, ...]],
) -> pa.Table:
    """:func:`apply_plans` with the accounts' state read already (the search reuses it)."""
    eff = effects(state, rows, plans)
    base = valid.take(pa.array(rows))
    asof_day = day_number(as_of)
    columns = dict(zip(base.column_names, base.columns, strict=True))

    def set_date(name: str, where: np.ndarray) -> None:
        old = to_numbers(base.column(name), np.float64)
        new = np.where(where, asof_day, old)
        days = np.nan_to_num(new).astype(np.int32)
        columns[name] = pa.array(days, pa.date32(), mask=np.isnan(new))

    if eff.kyc.any():
        set_date(C.KYC_DATE, eff.kyc)
    if eff.migrate.any():
        set_date(C.MIGRATED_DATE, eff.migrate)
    if C.STATEMENTS in columns and (eff.buy.any() or eff.pay.any()):
        columns[C.STATEMENTS] = _edit_statements(base.column(C.STATEMENTS), state, rows, eff)
    if C.TRANSACTIONS in columns and (eff.buy.any() or eff.pay.any()):
        columns[C.TRANSACTIONS] = _add_transactions(
            base.column(C.TRANSACTIONS), state, rows, eff, as_of
        )
    return pa.Table.from_arrays(list(columns.values()), schema=base.schema)


def _edit_statements(
    column: pa.ChunkedArray, state: AccountState, rows: np.ndarray, eff: Effects
) -> pa.Array:
    """Edit the statement cut at the as-of date: balance + purchase - payment; cure."""
    col = _one_chunk(column)
    offsets = col.offsets.to_numpy()
    values = col.values.slice(offsets[0], offsets[-1] - offsets[0])
    offsets = offsets - offsets[0]
    own = state.stmt_pos[rows]
    has = own >= 0
    at = offsets[:-1][has] + own[has]
    fields = {f.name: values.field(f.name) for f in values.type}
    billed = fields[C.BILLED_AMOUNT].to_numpy(zero_copy_only=False).copy()
    minimum = fields[C.MINIMUM_DUE].to_numpy(zero_copy_only=False).copy()
    late = fields[C.DAYS_PAST_DUE].to_numpy(zero_copy_only=False).copy()
    billed[at] = np.round(np.maximum(billed[at] + eff.buy[has] - eff.pay[has], 0.0), 2)
    minimum[at] = np.minimum(minimum[at], billed[at])
    late[at] = np.where(eff.cured[has], 0, late[at])
    fields[C.BILLED_AMOUNT] = pa.array(billed, pa.float64())
    fields[C.MINIMUM_DUE] = pa.array(minimum, pa.float64())
    fields[C.DAYS_PAST_DUE] = pa.array(late, fields[C.DAYS_PAST_DUE].type)
    struct = pa.StructArray.from_arrays(list(fields.values()), fields=list(values.type))
    return pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), struct, type=col.type, mask=col.is_null()
    )


def _add_transactions(
    column: pa.ChunkedArray, state: AccountState, rows: np.ndarray, eff: Effects, as_of: dt.date
) -> pa.Array:
    """Append the purchase, then the repayment, at noon of the as-of date (or later)."""
    col = _one_chunk(column)
    offsets = col.offsets.to_numpy().astype(np.int64)
    values = col.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    when = np.maximum(state.last_sec[rows], day_number(as_of) * 86400 + _NOON)
    buy, pay = eff.buy > 0, eff.pay > 0
    added = buy.astype(np.int64) + pay
    # new events, candidate by candidate: purchase (if any) then repayment (if any)
    owner = np.concatenate([np.flatnonzero(buy), np.flatnonzero(pay)])
    is_buy = np.concatenate([np.ones(buy.sum(), bool), np.zeros(pay.sum(), bool)])
    order = np.lexsort((~is_buy, owner))
    owner, is_buy = owner[order], is_buy[order]
    amount = np.where(is_buy, eff.buy[owner], eff.pay[owner])
    kinds = np.where(is_buy, C.KIND_PURCHASE, C.KIND_REPAYMENT).tolist()
    new = pa.StructArray.from_arrays(
        [
            pa.array(when[owner], pa.timestamp("s")),
            pa.array(kinds, pa.string()),
            pa.array(amount, pa.float64()),
            pa.nulls(len(owner), pa.string()),
            pa.nulls(len(owner), pa.string()),
            pa.array(np.where(is_buy, C.CHANNELS[-1], None).tolist(), pa.string()),
        ],
        fields=list(values.type),
    )
    new_offsets = np.concatenate([[0], np.cumsum(lengths + added)])
    # take index: each candidate's old events, then its new ones
    total = int(new_offsets[-1])
    take = np.empty(total, dtype=np.int64)
    cand = np.repeat(np.arange(len(rows)), lengths + added)
    pos = np.arange(total) - new_offsets[:-1][cand]
    old = pos < lengths[cand]
    take[old] = offsets[:-1][cand[old]] + pos[old]
    new_start = np.concatenate([[0], np.cumsum(added)])[:-1]
    take[~old] = len(values) + new_start[cand[~old]] + (pos[~old] - lengths[cand[~old]])
    events = pa.concat_arrays([values, new]).take(pa.array(take))
    return pa.ListArray.from_arrays(
        pa.array(new_offsets, pa.int32()), events, type=col.type, mask=col.is_null()
    )
