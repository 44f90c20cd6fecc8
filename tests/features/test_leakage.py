"""No leakage: anything dated after the as-of date changes no feature of that row."""

import datetime as dt
import os

import pandas as pd
from feature_records import D, account, histories, statement, txn
from frames import assert_frame_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_model import contract as C
from risk_model.dates import month_end
from risk_model.features import build_features, fit_merchant_risk

FIRST = D(2023, 7, 1)
MONTHS = [D(2023 + (6 + i) // 12, (6 + i) % 12 + 1, 1) for i in range(13)]  # 2023-07 .. 2024-07
MERCHANTS = ["m1", "m2", "m3"]
AMOUNTS = [100.0, 998.0, 2000.0, 37.5, 4500.0, 588.0]

statement_st = st.fixed_dictionaries(
    {
        "month": st.sampled_from(MONTHS),
        "billed": st.sampled_from([0.0, 300.0, 2500.0, 4800.0]),
        "paid": st.sampled_from([None, 0.0, 30.0, 300.0, 5000.0]),
        "dpd": st.sampled_from([0, 0, 12, 45, 120]),
    }
)
txn_st = st.fixed_dictionaries(
    {
        "day": st.integers(0, 400),
        "hour": st.integers(0, 23),
        "kind": st.sampled_from([C.KIND_PURCHASE] * 3 + [C.KIND_REPAYMENT, C.KIND_REFUND]),
        "amount": st.sampled_from(AMOUNTS),
        "merchant": st.sampled_from(MERCHANTS),
    }
)
account_st = st.fixed_dictionaries(
    {
        "statements": st.lists(statement_st, max_size=6, unique_by=lambda s: s["month"]),
        "transactions": st.lists(txn_st, max_size=8),
    }
)


def make_statement(s):
    return statement(s["month"], s["billed"], limit=5000.0, paid=s["paid"], dpd=s["dpd"])


def make_txn(t):
    ts = dt.datetime.combine(FIRST + dt.timedelta(days=t["day"]), dt.time(t["hour"]))
    return txn(ts, t["amount"], kind=t["kind"], merchant=t["merchant"])


def perturb(data, accounts, as_of):
    """Alter, drop and add events dated after ``as_of`` (as dicts in record form)."""
    out = []
    for a in accounts:
        sts = []
        for s in map(make_statement, a["statements"]):
            if month_end(s[C.STATEMENT_MONTH]) > as_of:
                action = data.draw(st.sampled_from(["keep", "drop", "alter"]))
                if action == "drop":
                    continue
                if action == "alter":
                    s = {**s, C.BILLED_AMOUNT: 4999.0, C.DAYS_PAST_DUE: 99, C.AMOUNT_PAID: 1.0}
            elif s[C.DUE_DATE] > as_of and data.draw(st.booleans()):
                s = {**s, C.AMOUNT_PAID: 0.0, C.DATE_PAID: None}  # payment not known yet
            sts.append(s)
        if data.draw(st.booleans()):
            future = month_end(as_of) + dt.timedelta(days=1)
            if future.replace(day=1) not in {s[C.STATEMENT_MONTH] for s in sts}:
                sts.append(statement(future, 4900.0, limit=5000.0, paid=0.0, dpd=200))
        txns = []
        for t in map(make_txn, a["transactions"]):
            if t[C.TS].date() > as_of:
                action = data.draw(st.sampled_from(["keep", "drop", "alter"]))
                if action == "drop":
                    continue
                if action == "alter":
                    t = {**t, C.AMOUNT: 4000.0, C.TS: t[C.TS].replace(hour=2)}
            txns.append(t)
        extra = data.draw(st.lists(st.integers(1, 90), max_size=3))
        for days in extra:
            ts = dt.datetime.combine(as_of + dt.timedelta(days=days), dt.time(1))
            txns.append(txn(ts, 1000.0, merchant=data.draw(st.sampled_from(MERCHANTS))))
        out.append({"statements": sts, "transactions": txns})
    return out


def build(accounts, snapshot_dates=None):
    """Histories; ``snapshot_dates`` sets kyc_date / migrated_date of legacy accounts."""
    kyc, migrated = snapshot_dates or (D(2022, 1, 1), None)
    records = [
        account(
            f"a{i}",
            statements=sorted(a["statements"], key=lambda s: s[C.STATEMENT_MONTH]),
            transactions=sorted(a["transactions"], key=lambda t: t[C.TS]),
            open_date=D(2023, 6, 1),
            product_version="legacy",
            kyc_date=kyc,
            migrated_date=migrated,
        )
        for i, a in enumerate(accounts)
    ]
    return histories(*records)


# LEAKAGE_EXAMPLES=1000 for a longer search than the default suite's
@settings(
    max_examples=int(os.environ.get("LEAKAGE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    accounts=st.lists(account_st, min_size=1, max_size=3),
    day=st.integers(60, 370),
    data=st.data(),
)
def test_events_after_as_of_change_nothing(accounts, day, data):
    as_of = FIRST + dt.timedelta(days=day)
    later = as_of + dt.timedelta(days=45)
    future = st.integers(1, 400).map(lambda n: as_of + dt.timedelta(days=n))
    dates_before = data.draw(st.tuples(future, future))
    dates_after = data.draw(st.tuples(future, future | st.none()))
    before = build(
        [
            {
                "statements": list(map(make_statement, a["statements"])),
                "transactions": list(map(make_txn, a["transactions"])),
            }
            for a in accounts
        ],
        dates_before,
    )
    after = build(perturb(data, accounts, as_of), dates_after)
    a = build_features(before, [as_of, later])
    b = build_features(after, [as_of, later])
    keep_a = a[a[C.AS_OF] == pd.Timestamp(as_of)].reset_index(drop=True)
    keep_b = b[b[C.AS_OF] == pd.Timestamp(as_of)].reset_index(drop=True)
    assert_frame_equal(keep_a, keep_b, check_exact=True)
    fitted_a, fitted_b = fit_merchant_risk(before, as_of), fit_merchant_risk(after, as_of)
    assert fitted_a.equals(fitted_b, check_metadata=True)
    scored_a = build_features(before, as_of, merchant_risk=fitted_a)
    scored_b = build_features(after, as_of, merchant_risk=fitted_a)
    assert_frame_equal(scored_a, scored_b, check_exact=True)


def test_perturbation_inside_the_window_is_seen():
    """Negative control: the same kind of change dated on the as-of date does show."""
    as_of = D(2024, 3, 31)
    base = [txn(dt.datetime(2024, 3, 1, 12), 50.0)]
    a = build_features(histories(account("a", transactions=base)), as_of)
    moved = [*base, txn(dt.datetime(2024, 3, 31, 23), 1000.0)]
    b = build_features(histories(account("a", transactions=moved)), as_of)
    assert a["spend_3m"].iloc[0] != b["spend_3m"].iloc[0]
