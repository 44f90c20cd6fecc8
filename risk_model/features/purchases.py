"""Per-purchase flags shared by the cash-out features of both sides (account and merchant).

Each flag is a function of its own purchase and of the statements and repayments known
before it: round and patterned amounts, night time, the credit limit of the last statement
known at the purchase, whether the purchase nearly empties the available line, and the
hours since the previous repayment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.features.monthly import Statements, Transactions

NEAR_LIMIT_FRACTION = 0.8  # purchase >= 80% of the available line
AVAILABLE_FLOOR = 0.1  # available line floored at 10% of the limit (a full line is not "0")
NIGHT_END_HOUR = 5
_DAY_BITS = 2**21  # day numbers below ~5700 AD
_SEC_BITS = 2**34


@dataclass
class PurchaseFlags:
    """Per-transaction derived values (arrays aligned with ``Transactions``)."""

    is_round: np.ndarray
    is_patterned: np.ndarray
    is_night: np.ndarray
    limit: np.ndarray  # limit of the last statement known before the purchase (NaN if none)
    near_limit: np.ndarray
    respend_hours: np.ndarray  # hours since the previous repayment (NaN if none)


def _previous(
    acct_a: np.ndarray, key_a: np.ndarray, acct_b: np.ndarray, key_b: np.ndarray, width: int
) -> np.ndarray:
    """For each b, the index into a of the last a of the same account with key_a < key_b.

    Returns -1 when there is none. ``a`` must not be empty.
    """
    ka = acct_a * width + key_a.clip(0, width - 1)
    order = np.argsort(ka, kind="stable")
    ka = ka[order]
    kb = acct_b * width + key_b.clip(0, width - 1)
    pos = np.searchsorted(ka, kb, side="left") - 1
    ok = pos >= 0
    idx = np.where(ok, order[np.maximum(pos, 0)], -1)
    same = ok & (acct_a[np.maximum(idx, 0)] == acct_b)
    return np.where(same, idx, -1)


def purchase_flags(tx: Transactions, st: Statements | None) -> PurchaseFlags:
    """Derive amount, time and line-usage flags for the purchases.

    Each flag is a function of its own purchase and of earlier statements and repayments;
    other transactions get False / NaN. Every reader of the flags selects purchases.
    """
    sub = np.flatnonzero(tx.is_purchase)
    amt, acct, sec, day = tx.amount[sub], tx.acct[sub], tx.sec[sub], tx.day[sub]
    whole = np.round(amt)
    is_int = np.abs(amt - whole) < 0.005
    # the amount's last two digits; both flags read them only for positive amounts, where
    # fmod equals mod (and is about twice as fast on floats)
    cents = np.fmod(whole, 100)
    is_round = is_int & (cents == 0) & (whole > 0)
    is_patterned = is_int & (whole >= 100) & ((cents == 88) | (cents == 98) | (cents == 99))
    is_night = np.mod(sec, 86400) < NIGHT_END_HOUR * 3600  # local time before 05:00

    limit = np.full(len(amt), np.nan)
    available = np.full(len(amt), np.nan)
    if st is not None and len(st.acct) and len(amt):
        i = _previous(st.acct, st.known_day, acct, day, _DAY_BITS)
        has = (i >= 0) & (st.limit[np.maximum(i, 0)] > 0)
        j = np.maximum(i, 0)
        limit = np.where(has, st.limit[j], np.nan)
        available = (limit - st.billed[j]).clip(AVAILABLE_FLOOR * limit, limit)
    with np.errstate(invalid="ignore"):
        near_limit = amt >= NEAR_LIMIT_FRACTION * available

    hours = np.full(len(amt), np.nan)
    rep = np.flatnonzero(tx.is_repayment)
    if len(rep) and len(amt):
        i = _previous(tx.acct[rep], tx.sec[rep], acct, sec, _SEC_BITS)
        prev_sec = tx.sec[rep][np.maximum(i, 0)]
        hours = np.where(i >= 0, (sec - prev_sec) / 3600.0, np.nan)

    def spread(x: np.ndarray, fill: float | bool) -> np.ndarray:
        """Return the purchases' values at their transactions, ``fill`` elsewhere."""
        out = np.full(len(tx.acct), fill, dtype=x.dtype)
        out[sub] = x
        return out

    return PurchaseFlags(
        is_round=spread(is_round, False),
        is_patterned=spread(is_patterned, False),
        is_night=spread(is_night, False),
        limit=spread(limit, np.nan),
        near_limit=spread(near_limit, False),
        respend_hours=spread(hours, np.nan),
    )
