"""Statement lags: the latest statements' raw fields, one column per lag, and their windows.

What a plain model on a statements-only extract sees (limit, bill, payment and status of
each of the last statements), point in time. Lag 0 is the latest statement known at the
as-of date (known from the last day of its month), lag 1 the one before it, and so on,
among the statements of the last 12 calendar months; a lag without a statement is NaN,
never 0. A statement's payment counts only once its due date is reached.

Statements are scattered once into dense (month x account) arrays on the shared period
grid's months (a statement month holds one statement; validation rejects repeats); each
as-of date then ranks its window's known statements from the newest with one cumulative
sum and gathers every field by that rank, whole columns at a time.
"""

from __future__ import annotations

import numpy as np

from risk_model.features.arrays import nan_block, rowsum, safe_divide
from risk_model.features.feature import (
    KNOWN_AT_PAYMENT,
    KNOWN_AT_STATEMENT,
    Context,
    FeatureSpec,
    declarer,
)
from risk_model.features.monthly import Grid, Statements, month_end_day, month_of_day

LAGS = 6  # lags 0..5
SEARCH_MONTHS = 12  # the latest statement is looked for in the last 12 calendar months
_STEMS = ("limit", "billed", "paid", "paid_ratio", "util", "dpd")
_WINDOWS = (
    "billed_sum_lags",
    "billed_mean_lags",
    "billed_max_lags",
    "paid_sum_lags",
    "paid_mean_lags",
    "paid_max_lags",
    "limit_ratio_lags",
)
_NEVER = np.iinfo(np.int64).max
# Bills, payments and utilisation raise the modelled risk mostly when they are 0 (the line
# is no longer used); as overdue reasons they made dormant accounts' top cause "overdue"
# (reason check on the seed-7 world). Days past due, the share of a bill paid and limits
# speak to repayment.
_SPENDING = ("billed_", "paid_lag", "paid_sum", "paid_mean", "paid_max", "util_")


_ORDINALS = ("latest", "second latest", "third latest", "fourth latest", "fifth latest",
             "sixth latest")  # fmt: skip


def _which(k: int) -> str:
    """Plain words for the holder's statement at lag ``k`` ("your second latest statement")."""
    return f"your {_ORDINALS[k]} statement"


def _lag_rows(k: int) -> list[dict]:
    at = f"statement at lag {k} (0 = latest known in the last 12 months)"
    on = _which(k)
    up = on[0].upper() + on[1:]
    return [
        dict(name=f"limit_lag{k}", direction=-1, unit="CNY",
             definition=f"Credit limit on the {at}.",
             reason=f"The credit limit on {on} was CNY {{value:z,.0f}}."),
        dict(name=f"billed_lag{k}", direction=0, unit="CNY",
             definition=f"Billed amount on the {at}.",
             reason=f"The bill on {on} was CNY {{value:z,.0f}}.",
             zero=f"Nothing was billed on {on}."),
        dict(name=f"paid_lag{k}", direction=0, unit="CNY",
             definition=f"Amount paid against the {at}; missing until its due date.",
             reason=f"You paid CNY {{value:z,.0f}} against the bill on {on}.",
             zero=f"You paid nothing against the bill on {on}."),
        dict(name=f"paid_ratio_lag{k}", direction=-1, unit="ratio",
             definition=f"amount_paid / billed_amount (clipped to 0..1) of the {at}, the "
             "payment against the bill it settles; missing until its due date or when the "
             "bill is 0.",
             reason=f"You paid {{value:z.0%}} of the bill on {on}."),
        dict(name=f"util_lag{k}", direction=0, unit="ratio",
             definition=f"billed / credit limit of the {at}.",
             reason=f"The bill on {on} used {{value:z.0%}} of your credit limit."),
        dict(name=f"dpd_lag{k}", direction=1, unit="days",
             definition=f"Days past due on the {at}.",
             reason=f"{up} was {{value:z.0f}} day{{s}} past due.",
             zero=f"{up} was not past due."),
    ]  # fmt: skip


_SIX = "the latest 6 statements (lags 0-5)"
_WINDOW_ROWS = [
    dict(name="billed_sum_lags", direction=0, unit="CNY",
         definition=f"Sum of the billed amounts of {_SIX}.",
         reason="The bills on your latest 6 statements added up to CNY {value:z,.0f}.",
         zero="Nothing was billed on your latest 6 statements."),
    dict(name="billed_mean_lags", direction=0, unit="CNY",
         definition=f"Mean billed amount of {_SIX}.",
         reason="The bills on your latest 6 statements averaged CNY {value:z,.0f}.",
         zero="Nothing was billed on your latest 6 statements."),
    dict(name="billed_max_lags", direction=0, unit="CNY",
         definition=f"Largest billed amount of {_SIX}.",
         reason="The largest bill on your latest 6 statements was CNY {value:z,.0f}.",
         zero="Nothing was billed on your latest 6 statements."),
    dict(name="paid_sum_lags", direction=0, unit="CNY",
         definition=f"Sum of the payments known (due date reached) of {_SIX}.",
         reason="Your payments against your latest 6 bills added up to CNY {value:z,.0f}.",
         zero="You paid nothing against your latest 6 bills."),
    dict(name="paid_mean_lags", direction=0, unit="CNY",
         definition=f"Mean payment known (due date reached) of {_SIX}.",
         reason="Your payments against your latest 6 bills averaged CNY {value:z,.0f}.",
         zero="You paid nothing against your latest 6 bills."),
    dict(name="paid_max_lags", direction=0, unit="CNY",
         definition=f"Largest payment known (due date reached) of {_SIX}.",
         reason="Your largest payment against your latest 6 bills was CNY {value:z,.0f}.",
         zero="You paid nothing against your latest 6 bills."),
    dict(name="limit_ratio_lags", direction=0, unit="ratio",
         definition=f"Latest credit limit / credit limit on the oldest of {_SIX}.",
         reason="Your credit limit is now {value:z.0%} of what it was on the oldest of your "
         "latest 6 statements."),
]  # fmt: skip


def _declare(row: dict) -> FeatureSpec:
    """Return the declaration of a statement feature from its row (name, direction, texts)."""
    name = row["name"]
    return feature(
        name,
        "dormancy" if name.startswith(_SPENDING) else "overdue",
        "latest 6 statements" if name.endswith("_lags") else "last 12 months",
        row["direction"],
        row["unit"],
        row["definition"],
        row["reason"],
        zero=row.get("zero", ""),
        known_at=KNOWN_AT_PAYMENT if name.startswith("paid") else KNOWN_AT_STATEMENT,
    )


feature = declarer("statements", known_at=KNOWN_AT_STATEMENT)
_BY_LAG = [_lag_rows(k) for k in range(LAGS)]
# by stem, then lag: limit_lag0 .. limit_lag5, billed_lag0 .. , then the windows
FEATURES = tuple(
    _declare(row)
    for row in [*(lags[s] for s in range(len(_STEMS)) for lags in _BY_LAG), *_WINDOW_ROWS]
)


_FIELDS = ("limit", "billed", "paid", "dpd")  # the statement fields, in the dense array's order
_BILLED = _FIELDS.index("billed")  # a month with a bill holds a statement
_LAG_NAMES = {stem: [f"{stem}_lag{j}" for j in range(LAGS)] for stem in _STEMS}


def _dense(st: Statements, grid: Grid, n_acc: int) -> tuple[np.ndarray, np.ndarray]:
    """Statements on (month x account) arrays.

    Returns the fields as one (field, month, account) array in :data:`_FIELDS` order, NaN
    where no statement, and the period each statement's payment is known from (never-due
    where none).
    """
    n_months = int(grid.asof_month.max()) - grid.first_month + 1
    m = month_of_day(st.known_day) - grid.first_month
    keep = (m >= 0) & (m < n_months)
    months, accounts = m[keep], st.acct[keep]
    fields = np.full((len(_FIELDS), n_months, n_acc), np.nan)
    fields[:, months, accounts] = np.stack([getattr(st, name) for name in _FIELDS])[:, keep]
    # the payment is known from the period of its due date (-1: after the last as-of date)
    due = np.full((n_months, n_acc), _NEVER, dtype=np.int64)
    due[months, accounts] = np.where(st.due_period >= 0, st.due_period, _NEVER)[keep]
    return fields, due


def _lag_index(known: np.ndarray, lags: int) -> np.ndarray:
    """(lags, account) row of the statement at each lag (newest = lag 0); -1 if none."""
    newer = np.cumsum(known[::-1], axis=0)[::-1] - known  # known statements after each row
    rows, accounts = np.nonzero(known & (newer < lags))
    index = np.full((lags, known.shape[1]), -1)
    index[newer[rows, accounts], accounts] = rows  # a statement's lag: how many are newer
    return index


def _window(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum, mean and maximum over lags (axis 0) of a (lag, ..., account) array, ignoring NaN."""
    present = ~np.isnan(values)
    n = present.sum(0)
    total = rowsum(np.where(present, values, 0.0))  # sequential: same alone as in a batch
    top = np.where(present, values, -np.inf).max(0)
    has = n > 0
    return np.where(has, total, np.nan), safe_divide(total, n), np.where(has, top, np.nan)


def _lags_at(fields: np.ndarray, due: np.ndarray, grid: Grid, k: int) -> dict[str, np.ndarray]:
    """(lag x account) arrays of each stem at as-of ``k``, NaN where no statement."""
    last = int(grid.asof_month[k]) - grid.first_month
    first = last - SEARCH_MONTHS + 1
    # a statement counts from its month's last day: the as-of month's only at its end
    known = ~np.isnan(fields[_BILLED, first : last + 1])
    if grid.asof_day[k] < month_end_day(grid.asof_month[k]):
        known[-1] = False
    idx = _lag_index(known, LAGS)
    found = idx >= 0
    at = (np.maximum(idx, 0) + first, np.arange(idx.shape[1]))
    limit, billed, paid, dpd = np.where(found, fields[:, at[0], at[1]], np.nan)  # _FIELDS
    paid = np.where(due[at] <= grid.asof_period[k], paid, np.nan)  # NaN already where not found
    return {
        "limit": limit,
        "billed": billed,
        "paid": paid,
        "paid_ratio": np.clip(safe_divide(paid, billed), 0.0, 1.0),
        "util": safe_divide(billed, limit),
        "dpd": dpd,
    }


def compute(ctx: Context) -> dict[str, np.ndarray]:
    """Return the statement lag and window features as (n_asof, n_acc) arrays.

    ``{}`` without a statements column (the features are then missing).
    """
    st, grid, n_acc = ctx.statements, ctx.grid, ctx.n_acc
    if st is None:
        return {}
    out = nan_block([f.name for f in FEATURES], ctx.n_asof, n_acc)
    fields, due = _dense(st, grid, n_acc)
    for k in range(ctx.n_asof):
        lags = _lags_at(fields, due, grid, k)
        for stem, values in lags.items():
            for name, value in zip(_LAG_NAMES[stem], values, strict=True):
                out[name][k] = value
        # bills and payments side by side: (lag, stem, account)
        windows = _window(np.stack([lags["billed"], lags["paid"]], axis=1))
        for i, stem in enumerate(("billed", "paid")):
            for name, value in zip(("sum", "mean", "max"), windows, strict=True):
                out[f"{stem}_{name}_lags"][k] = value[i]
        limit = lags["limit"]
        oldest = np.where(~np.isnan(limit), np.arange(LAGS)[:, None], 0).max(0)
        out["limit_ratio_lags"][k] = safe_divide(limit[0], limit[oldest, np.arange(n_acc)])
    return out
