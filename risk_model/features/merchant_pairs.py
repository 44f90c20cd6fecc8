"""Purchases reduced to canonical (account, merchant, period) rows, and window sums over them.

Rows are sorted by account rank, merchant id (lexicographic) and period, so every float sum
is taken in an order that depends on neither the batch nor the input row order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model.features.arrays import starts_of_runs
from risk_model.features.monthly import Transactions
from risk_model.features.purchases import PurchaseFlags

BIG = np.iinfo(np.int64).max // 4  # "no month": larger than any month index or period


def _sorted_codes(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes ranked by the string value (-1 for null) and the sorted distinct values."""
    enc = (
        pc.dictionary_encode(values).combine_chunks()
        if isinstance(values, pa.ChunkedArray)
        else pc.dictionary_encode(values)
    )
    order = pc.array_sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    indices = enc.indices.fill_null(-1) if enc.indices.null_count else enc.indices
    idx = indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.where(idx >= 0, rank[np.maximum(idx, 0)], -1) if len(rank) else idx
    return codes, enc.dictionary.take(pa.array(order))


@dataclass
class PairRows:
    """Purchases reduced to (account, merchant, period) rows, canonically sorted.

    Fields marked "training" are ``None`` for rows made with ``training=False`` (scoring
    reads only spend, log sums and counts over the account's last 6 months).
    """

    period: np.ndarray
    spend: np.ndarray
    log_sum: np.ndarray
    n: np.ndarray
    pair: np.ndarray  # pair id per row (rows of a pair are contiguous, by period)
    p_acct: np.ndarray  # per pair (pairs sorted by account, then merchant id)
    p_merch: np.ndarray
    p_cat: np.ndarray
    merchants: pa.Array  # sorted distinct merchant ids (code -> id)
    categories: pa.Array
    by_period: np.ndarray | None = None  # training: row indices in period order
    period_offsets: np.ndarray | None = None  # training: period p's rows by_period[o[p]:o[p+1]]
    round_nl_spend: np.ndarray | None = None  # training
    night: np.ndarray | None = None  # training
    cents: np.ndarray | None = None  # training: integer-valued sums for exact merchant totals
    round_nl_cents: np.ndarray | None = None  # training
    log_q: np.ndarray | None = None  # training: log amounts in 1e-6 units, rounded per purchase
    p_ac: np.ndarray | None = None  # training: per pair, id of its (account, category)
    _in_period_order: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def in_period_order(self, name: str) -> np.ndarray:
        """Column ``name`` with the rows in period order (training; gathered once per name).

        The rows of periods ``a..b`` are then the slice ``period_offsets[a]:
        period_offsets[b + 1]``: every window and every as-of date reads a slice, not a
        gather from the whole column.
        """
        column = self._in_period_order.get(name)
        if column is None:
            column = getattr(self, name)[self.by_period]
            self._in_period_order[name] = column
        return column


def pair_rows(
    tx: Transactions,
    flags: PurchaseFlags,
    n_periods: int,
    *,
    since_period: int = 0,
    until_period: int | None = None,
    training: bool = True,
) -> PairRows:
    """Reduce purchases with a merchant to canonical (account, merchant, period) rows.

    Only purchases in periods ``>= since_period`` (and ``<= until_period`` when given) are
    kept. Merchant and category codes rank the ids among the kept purchases, so dropping
    rows never reorders the others: every sum is the same, bit for bit, as over all rows.
    """
    kept = tx.is_purchase & (tx.amount > 0) & (tx.period >= since_period)
    if until_period is not None:
        kept &= tx.period <= until_period
    cand = np.flatnonzero(kept)
    take = pa.array(cand)
    merch, merchants = _sorted_codes(tx.merchant.take(take))
    keep = merch >= 0
    idx = cand[keep]
    merch = merch[keep]
    n_m = max(len(merchants), 1)
    key = (tx.acct[idx] * n_m + merch) * n_periods + tx.period[idx]
    sort = np.argsort(key, kind="stable")
    order, key = idx[sort], key[sort]
    merch = merch[sort]
    starts = starts_of_runs(key)
    amt = tx.amount[order]

    def seg(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts) if len(starts) else np.zeros(0)

    first = order[starts]
    a, m = tx.acct[first], merch[starts]
    # a row opens a pair when its account or merchant changes; the first row always does
    new_pair = np.ones(len(a), dtype=bool)
    new_pair[1:] = (a[1:] != a[:-1]) | (m[1:] != m[:-1])
    pair_start = np.flatnonzero(new_pair)
    p_acct = a[pair_start]
    # a pair's category is its first purchase's; codes rank the categories of the pairs
    p_cat, categories = _sorted_codes(tx.category.take(pa.array(first[pair_start])))
    period = tx.period[first]
    log_amt = np.log(amt)
    rows = PairRows(
        period=period,
        spend=seg(amt),
        log_sum=seg(log_amt),
        n=np.diff(np.concatenate((starts, [len(amt)]))).astype(np.float64),  # purchases per row
        pair=np.cumsum(new_pair) - 1,
        p_acct=p_acct,
        p_merch=m[pair_start],
        p_cat=p_cat,
        merchants=merchants,
        categories=categories,
    )
    if not training:
        return rows
    ac_key = p_acct * (len(categories) + 1) + p_cat + 1
    # pairs are sorted by account but not by category within it: rank the keys
    p_ac = np.unique(ac_key, return_inverse=True)[1] if len(ac_key) else np.zeros(0, np.int64)
    rnl = flags.is_round[order] & flags.near_limit[order]
    rows.round_nl_spend = seg(np.where(rnl, amt, 0.0))
    rows.night = seg(flags.is_night[order].astype(np.float64))
    rows.cents = seg(np.rint(amt * 100))
    rows.round_nl_cents = seg(np.where(rnl, np.rint(amt * 100), 0.0))
    rows.log_q = seg(np.rint(log_amt * 1e6))
    rows.p_ac = np.asarray(p_ac, dtype=np.int64)
    rows.by_period = np.argsort(period, kind="stable")
    rows.period_offsets = np.searchsorted(period[rows.by_period], np.arange(n_periods + 1))
    return rows


@dataclass
class MerchantStats:
    """Merchant statistics seen by each used pair (training: leave-one-account-out)."""

    volume: np.ndarray
    round_nl_volume: np.ndarray
    payers: np.ndarray
    night_payers: np.ndarray
    first_month: np.ndarray  # month index, BIG if unknown
    centre: np.ndarray  # category mean log amount (NaN if unknown)


def window_sums(
    r: PairRows, lo: int, hi: int, names: tuple[str, ...], *, first: bool = True
) -> dict[str, np.ndarray]:
    """Per-pair sums over rows with period in [lo, hi]; with ``first``, the first period too.

    Each pair's rows are added in period order, starting from zero.
    """
    if r.by_period is None:  # a pair's rows are contiguous and in period order already
        inside = (r.period >= lo) & (r.period <= hi)
        rows = None if inside.all() else np.flatnonzero(inside)  # None: every row, no copies

        def column(name: str) -> np.ndarray:
            return getattr(r, name) if rows is None else getattr(r, name)[rows]
    else:
        span = slice(r.period_offsets[lo], r.period_offsets[hi + 1])

        def column(name: str) -> np.ndarray:
            return r.in_period_order(name)[span]

    n_pairs = len(r.p_acct)
    pid = column("pair")
    agg = {
        name: np.bincount(pid, column(name), minlength=n_pairs).astype(np.float64, copy=False)
        for name in names
    }
    if first:
        agg["first_period"] = np.full(n_pairs, BIG)
        np.minimum.at(agg["first_period"], pid, column("period"))
    return agg
