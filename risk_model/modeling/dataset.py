"""Snapshots and labels: one row per open account per labelled month end.

Rules
-----
* An as-of date is a month end. The *history end* is the last month end whose statement
  is in the data (or, without statements, the last complete month of transactions).
* The *label end* is the last month end at which closures are observed: the month end of
  the latest closure date or the history end, whichever is later, unless the caller
  passes it (e.g. from the generator's manifest).
* Label of (account, as_of) = the account is closed in ``(as_of, as_of + H months]``
  (month-end arithmetic). Accounts closed on or before the as-of date are not snapshotted.
* Labelled as-of dates are the month ends ``<= history end`` with ``as_of + H <= label
  end``; later months (horizon not observed) are neither labelled nor used.
* Single as-of extracts: when every recorded closure is after the history end, the data
  cannot say which accounts closed before it, so only the history end itself is labelled,
  and the extract is taken to cover the full horizon after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.dates import add_months, month_end
from risk_model.validation import warn_unknown_closures

LABEL = "label"
TRUTH_P = "truth_p_close"


def _month_ends_between(first: dt.date, last: dt.date) -> list[dt.date]:
    out, current = [], month_end(first)
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


def history_window(histories: pa.Table) -> tuple[dt.date, dt.date]:
    """First and last month ends covered by the event lists.

    Raises
    ------
    ValueError
        When the histories hold no statements and no transactions.
    """
    names = histories.column_names
    if C.STATEMENTS in names:
        months = pc.list_flatten(histories[C.STATEMENTS]).combine_chunks()
        if len(months):
            months = pc.struct_field(months, C.STATEMENT_MONTH)
            first, last = pc.min(months).as_py(), pc.max(months).as_py()
            if first is not None:
                return month_end(first), month_end(last)
    if C.TRANSACTIONS in names:
        flat = pc.list_flatten(histories[C.TRANSACTIONS]).combine_chunks()
        if len(flat):
            ts = pc.struct_field(flat, C.TS)
            first, last = pc.min(ts).as_py().date(), pc.max(ts).as_py().date()
            # The last month counts only once complete.
            last_end = month_end(last) if last == month_end(last) else add_months(last, -1)
            return month_end(first), last_end
    raise ValueError("histories hold no statements and no transactions: nothing to snapshot")


def closures_frame(closures: pa.Table | None) -> pd.DataFrame:
    """Closures as a frame with one row per account (earliest closure kept)."""
    if closures is None or closures.num_rows == 0:
        return pd.DataFrame(
            {
                C.ACCOUNT_ID: pd.Series([], dtype=str),
                C.CLOSURE_DATE: pd.Series([], dtype="datetime64[s]"),
                C.CAUSE: pd.Series([], dtype=str),
            }
        )
    frame = closures.select([C.ACCOUNT_ID, C.CLOSURE_DATE, C.CAUSE]).to_pandas()
    frame[C.CLOSURE_DATE] = pd.to_datetime(frame[C.CLOSURE_DATE])
    frame = frame.sort_values([C.ACCOUNT_ID, C.CLOSURE_DATE], kind="stable")
    return frame.drop_duplicates(C.ACCOUNT_ID, keep="first").reset_index(drop=True)


def labelled_as_of_dates(
    histories: pa.Table,
    closures: pa.Table | None,
    horizon_months: int,
    *,
    label_end: dt.date | None = None,
    max_months: int | None = None,
) -> tuple[list[dt.date], str]:
    """Month ends that can be snapshotted and labelled (see module rules).

    Closures of accounts not in ``histories`` raise an ``UnknownClosureWarning``.

    Returns
    -------
    list of datetime.date
        Labelled as-of dates, ascending.
    str
        How they were chosen (for the logs).
    """
    first, history_end = history_window(histories)
    if closures is not None:
        warn_unknown_closures(closures, histories[C.ACCOUNT_ID])
    frame = closures_frame(closures)
    if label_end is None:
        label_end = history_end
        if len(frame):
            label_end = max(label_end, month_end(frame[C.CLOSURE_DATE].max().date()))
    if len(frame) and frame[C.CLOSURE_DATE].min().date() > history_end:
        # An extract of the accounts open at one date and their next H months.
        candidates = [history_end]
        label_end = max(label_end, add_months(history_end, horizon_months))
        how = "single as-of extract (all closures after the history end)"
    else:
        candidates = _month_ends_between(first, history_end)
        how = f"month ends {first} .. {history_end}"
    dates = [d for d in candidates if add_months(d, horizon_months) <= label_end]
    if max_months is not None:
        dates = dates[-max_months:]
    if not dates:
        raise ValueError(
            f"no labelled as-of date: history ends {history_end}, closures observed to "
            f"{label_end}, horizon {horizon_months} months"
        )
    return dates, f"{how}; labels observed to {label_end}; {len(dates)} labelled month ends"


def sample_accounts(account_id: pd.Series, fraction: float) -> np.ndarray:
    """Deterministic account sample: keep ids whose stable hash falls below ``fraction``."""
    if fraction >= 1.0:
        return np.ones(len(account_id), dtype=bool)
    hashed = pd.util.hash_pandas_object(account_id.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(1_000_000)) < np.uint64(int(fraction * 1_000_000))


def attach_labels(
    features: pd.DataFrame,
    closures: pa.Table | None,
    horizon_months: int,
) -> pd.DataFrame:
    """Add the label and the closure cause; drop rows closed on or before their as-of.

    Parameters
    ----------
    features : pandas.DataFrame
        Output of ``build_features`` (account_id, as_of, features...).
    closures : pyarrow.Table, optional
        ``CLOSURES_SCHEMA`` table.
    horizon_months : int
        Label horizon.

    Returns
    -------
    pandas.DataFrame
        The feature rows still open at their as-of date with ``label`` (0/1 int8) and
        ``cause`` (closure cause of positives, else empty), same order as the input.
    """
    frame = closures_frame(closures)
    merged = features[[C.ACCOUNT_ID, C.AS_OF]].merge(frame, on=C.ACCOUNT_ID, how="left")
    as_of = pd.to_datetime(merged[C.AS_OF])
    # one horizon end per as-of date (a few dozen), not per row (hundreds of thousands)
    dates = pd.DatetimeIndex(as_of.unique()).sort_values()
    ends = pd.to_datetime([add_months(d.date(), horizon_months) for d in dates])
    horizon_end = as_of.map(pd.Series(ends, index=dates))
    closed = merged[C.CLOSURE_DATE]
    still_open = closed.isna() | (closed > as_of)
    label = (closed > as_of) & (closed <= horizon_end)
    out = features.loc[still_open.to_numpy()]  # a new frame: the columns added are its own
    out[LABEL] = label[still_open].to_numpy().astype(np.int8)
    cause = merged[C.CAUSE].fillna(C.CAUSE_UNKNOWN).astype(str)
    out[C.CAUSE] = np.where(label[still_open], cause[still_open], "")
    return out.reset_index(drop=True)


def attach_truth(frame: pd.DataFrame, truth: pa.Table | None, horizon_months: int) -> bool:
    """Join the synthetic truth ``p_close`` (same horizon) in place as ``truth_p_close``.

    Returns
    -------
    bool
        Whether truth was available for every row.
    """
    if truth is None or truth.num_rows == 0:
        return False
    columns = [C.ACCOUNT_ID, C.AS_OF, C.HORIZON_MONTHS, C.P_CLOSE]
    table = truth.select(columns).to_pandas()
    table = table[table[C.HORIZON_MONTHS] == horizon_months].drop(columns=C.HORIZON_MONTHS)
    if table.empty:
        return False
    table[C.AS_OF] = pd.to_datetime(table[C.AS_OF])
    keys = frame[[C.ACCOUNT_ID, C.AS_OF]].copy()
    keys[C.AS_OF] = pd.to_datetime(keys[C.AS_OF])
    joined = keys.merge(table, on=[C.ACCOUNT_ID, C.AS_OF], how="left", validate="1:1")
    frame[TRUTH_P] = joined[C.P_CLOSE].to_numpy()
    return bool(frame[TRUTH_P].notna().all())


@dataclass(frozen=True)
class HorizonLoss:
    """Observed closures that no snapshot row labels: beyond every labelled horizon.

    Attributes
    ----------
    lost : int
        Closures later than their account's last labelled as-of date + the horizon.
    closures : int
        Closures of snapshotted accounts after their first labelled as-of date.
    horizon_months : int
        The horizon used.
    needed_horizon : int or None
        Smallest horizon in months that would label every lost closure from its
        account's last labelled as-of date (None when nothing is lost).
    """

    lost: int
    closures: int
    horizon_months: int
    needed_horizon: int | None

    def describe(self) -> str:
        """Return the finding and the fix in one line (for the training log)."""
        return (
            f"{self.lost} of {self.closures} closures of snapshotted accounts fall after the "
            f"account's last labelled as-of date + the {self.horizon_months}-month horizon: no "
            f"row labels them, so those accounts train as good. Fix: --horizon "
            f"{self.needed_horizon} would label them (from the same last as-of dates)"
        )


def horizon_loss(
    snapshots: pd.DataFrame, closures: pa.Table | None, horizon_months: int
) -> HorizonLoss:
    """Count the closures later than every labelled horizon of their account.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Snapshot rows with ``account_id`` and ``as_of`` (e.g. ``snapshot_frame`` output:
        open accounts at labelled month ends).
    closures : pyarrow.Table, optional
        ``CLOSURES_SCHEMA`` table.
    horizon_months : int
        Label horizon.

    Returns
    -------
    HorizonLoss
    """
    frame = closures_frame(closures)
    if snapshots.empty or frame.empty:
        return HorizonLoss(0, 0, horizon_months, None)
    as_of = pd.to_datetime(snapshots[C.AS_OF])
    spans = as_of.groupby(snapshots[C.ACCOUNT_ID].to_numpy()).agg(["min", "max"])
    joined = frame.join(spans, on=C.ACCOUNT_ID, how="inner")
    closed = joined[C.CLOSURE_DATE]
    joined = joined[closed > joined["min"]]  # closed before the first snapshot: no row
    month = joined[C.CLOSURE_DATE].dt.year * 12 + joined[C.CLOSURE_DATE].dt.month
    last = joined["max"].dt.year * 12 + joined["max"].dt.month
    # A closure in the k-th month after the last labelled month end needs horizon k.
    needed = (month - last).to_numpy()
    lost = needed > horizon_months
    return HorizonLoss(
        int(lost.sum()),
        len(joined),
        horizon_months,
        int(needed[lost].max()) if lost.any() else None,
    )
