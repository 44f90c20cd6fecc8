import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from risk_model import contract as C
from risk_model.dates import add_months, month_end
from risk_model.modeling.dataset import (
    attach_labels,
    attach_truth,
    labelled_as_of_dates,
    sample_accounts,
)

D = dt.date


def _histories(last_month: dt.date, n_months: int = 8) -> pa.Table:
    months = [add_months(last_month, -k).replace(day=1) for k in range(n_months)][::-1]
    statement = {
        C.CREDIT_LIMIT: 1000.0,
        C.BILLED_AMOUNT: 10.0,
        C.MINIMUM_DUE: 1.0,
        C.AMOUNT_PAID: 10.0,
        C.DAYS_PAST_DUE: 0,
    }
    rows = []
    for acc in ("a", "b"):
        rows.append(
            {
                C.ACCOUNT_ID: acc,
                C.OPEN_DATE: D(2020, 1, 1),
                C.PRODUCT_VERSION: "current",
                C.STATEMENTS: [
                    {
                        **statement,
                        C.STATEMENT_MONTH: m,
                        C.DUE_DATE: add_months(m, 1) - dt.timedelta(5),
                    }
                    for m in months
                ],
                C.TRANSACTIONS: [],
            }
        )
    return pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)


def _closures(rows):
    return pa.Table.from_pylist(
        [{C.ACCOUNT_ID: a, C.CLOSURE_DATE: d, C.CAUSE: c} for a, d, c in rows],
        schema=C.CLOSURES_SCHEMA,
    )


def test_month_arithmetic():
    assert month_end(D(2024, 2, 3)) == D(2024, 2, 29)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2024, 11, 30), 3) == D(2025, 2, 28)
    assert add_months(D(2024, 3, 31), -3) == D(2023, 12, 31)


def test_labelled_dates_stop_where_the_horizon_is_not_observed():
    hist = _histories(D(2024, 8, 1))  # statements Jan..Aug 2024
    closures = _closures([("a", D(2024, 3, 10), "overdue")])
    dates, how = labelled_as_of_dates(hist, closures, 3)
    assert dates[0] == D(2024, 1, 31) and dates[-1] == D(2024, 5, 31)  # 5/31 + 3 = 8/31
    assert "month ends" in how
    assert labelled_as_of_dates(hist, closures, 3, max_months=2)[0] == [
        D(2024, 4, 30),
        D(2024, 5, 31),
    ]
    with pytest.raises(ValueError, match="no labelled as-of date"):
        labelled_as_of_dates(hist, closures, 12)


def test_single_as_of_extract_is_detected():
    hist = _histories(D(2024, 8, 1))
    closures = _closures([("a", D(2024, 9, 10), "overdue"), ("b", D(2024, 11, 2), "dormancy")])
    dates, how = labelled_as_of_dates(hist, closures, 3)
    assert dates == [D(2024, 8, 31)]
    assert "single as-of" in how


def test_no_events_is_an_error():
    empty = _histories(D(2024, 8, 1)).drop_columns([C.STATEMENTS, C.TRANSACTIONS])
    with pytest.raises(ValueError, match="nothing to snapshot"):
        labelled_as_of_dates(empty, None, 3)


def test_labels_window_and_closed_accounts_dropped():
    features = pd.DataFrame(
        {
            C.ACCOUNT_ID: ["a", "b", "c", "d", "e"],
            C.AS_OF: pd.to_datetime(["2024-01-31"] * 5).date,
            "f": np.arange(5, dtype=np.float32),
        }
    )
    closures = _closures(
        [
            ("a", D(2024, 1, 31), "overdue"),  # closed on the as-of date: not snapshotted
            ("b", D(2024, 2, 1), "cashout"),  # first day in the window
            ("c", D(2024, 4, 30), None),  # last day of the window (as_of + 3 months)
            ("d", D(2024, 5, 1), "dormancy"),  # after the window
        ]
    )
    out = attach_labels(features, closures, 3)
    assert out[C.ACCOUNT_ID].tolist() == ["b", "c", "d", "e"]
    assert out["label"].tolist() == [1, 1, 0, 0]
    assert out[C.CAUSE].tolist() == ["cashout", "unknown", "", ""]
    assert out["f"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_truth_join_same_horizon_only():
    frame = pd.DataFrame({C.ACCOUNT_ID: ["a", "b"], C.AS_OF: [D(2024, 1, 31)] * 2})
    truth = pa.table(
        {
            C.ACCOUNT_ID: ["a", "b", "a"],
            C.AS_OF: [D(2024, 1, 31)] * 3,
            C.HORIZON_MONTHS: pa.array([3, 3, 6], pa.int8()),
            C.P_CLOSE: [0.1, 0.2, 0.9],
        }
    )
    assert attach_truth(frame, truth, 3)
    assert frame["truth_p_close"].tolist() == [0.1, 0.2]
    other = frame.drop(columns="truth_p_close")
    assert not attach_truth(other, truth, 12)
    assert not attach_truth(other, None, 3)


def test_account_sample_is_deterministic():
    ids = pd.Series([f"acc{i}" for i in range(10_000)])
    keep = sample_accounts(ids, 0.3)
    assert np.array_equal(keep, sample_accounts(ids, 0.3))
    assert 0.27 < keep.mean() < 0.33
    assert sample_accounts(ids, 1.0).all()
