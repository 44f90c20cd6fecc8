"""Guards against silent garbage: inferred and stale as-of dates, dormant and closed accounts,
and closures beyond every labelled horizon in training."""

import datetime as dt
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from risk_model import contract as C
from risk_model import guards as G
from risk_model.dates import add_months
from risk_model.modeling import dataset as D
from risk_model.validation import ContractError


@pytest.fixture(scope="module")
def sample(model):
    return model.histories.slice(0, 300)


@pytest.fixture(scope="module")
def closures(model):
    return pq.read_table(model.world / "closures.parquet")


def _kinds(record) -> set[type]:
    return {w.category for w in record}


# --- as-of omitted -> inferred, never today ----------------------------------------------


def test_omitted_as_of_is_the_latest_month_end_of_the_input_and_warned(predictor, sample, model):
    with pytest.warns(G.AsOfInferredWarning, match=str(model.as_of)) as record:
        inferred = predictor.predict(sample, reasons="none")
    assert (inferred[C.AS_OF] == model.as_of).all()
    assert {w.message.as_of for w in record if w.category is G.AsOfInferredWarning} == {model.as_of}
    explicit = predictor.predict(sample, model.as_of, reasons="none")
    pd.testing.assert_frame_equal(inferred, explicit)


def test_explicit_as_of_date_or_string_warns_nothing(predictor, sample, model):
    # pytest turns any warning into an error here (filterwarnings = error).
    scored, rejects = predictor.score(sample, model.as_of.isoformat(), reasons="none")
    assert (scored[C.AS_OF] == model.as_of).all() and len(scored) + rejects.num_rows == 300


def test_predict_one_infers_the_records_own_latest_month_end(predictor, sample, model):
    records = sample.to_pylist()
    last = G.last_event_days(sample)
    stopped = int(np.argmin(last))  # an account whose history stopped early (closed)
    own = last[stopped].astype(dt.date)
    assert own < model.as_of
    with pytest.warns(G.AsOfInferredWarning, match=str(own)):
        one = predictor.predict_one(records[stopped])
    assert one[C.AS_OF] == own
    assert one == predictor.predict_one(records[stopped], own)  # and no warning


def test_transactions_only_accounts_use_their_latest_transaction_month_end():
    from factory import account, transaction

    record = account(statements=[], transactions=[transaction(dt.datetime(2024, 2, 11, 9))])
    table = pa.Table.from_pylist([record], schema=C.HISTORY_SCHEMA)
    with pytest.warns(G.AsOfInferredWarning, match="2024-02-29"):
        assert G.resolve_as_of(table, None) == dt.date(2024, 2, 29)


def test_no_event_at_all_asks_for_the_as_of_date_instead_of_using_today():
    from factory import account

    table = pa.Table.from_pylist([account(statements=[], transactions=[])], schema=C.HISTORY_SCHEMA)
    with pytest.raises(ValueError, match="pass the extract date"):
        G.resolve_as_of(table, None)
    assert G.resolve_as_of(table, "2024-01-31") == dt.date(2024, 1, 31)


# --- stale as-of ----------------------------------------------------------------------------


def test_stale_as_of_warns_with_the_figures_and_the_fix(predictor, sample, model):
    late = add_months(model.as_of, 12)
    with pytest.warns(G.StaleAsOfWarning, match="--as-of") as record:
        predictor.score(sample, late, reasons="none")
    stale = next(w.message for w in record if w.category is G.StaleAsOfWarning)
    assert stale.months == 12 and stale.median_last == model.as_of
    assert str(model.as_of) in str(stale)


def test_as_of_two_months_after_the_median_is_not_stale(predictor, sample, model):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        predictor.score(sample, add_months(model.as_of, 2), reasons="none")
    assert G.StaleAsOfWarning not in _kinds(record)
    days = np.array(["2024-06-30"] * 3, dtype="datetime64[D]")
    with pytest.warns(G.StaleAsOfWarning):
        G.check_recency(days, dt.date(2024, 9, 30), closures_given=True)
    G.check_recency(days, dt.date(2024, 8, 31), closures_given=True)  # no warning


# --- dormant histories without closures -----------------------------------------------------


def _days(silent: int, active: int) -> np.ndarray:
    return np.array(["2024-01-31"] * silent + ["2024-12-31"] * active, dtype="datetime64[D]")


def test_many_dormant_accounts_warn_without_closures():
    with pytest.warns(G.DormantHistoryWarning, match="3 of 10") as record:
        G.check_recency(_days(3, 7), dt.date(2024, 12, 31), closures_given=False)
    assert record[0].message.dormant == 3 and "--closures" in str(record[0].message)


def test_few_dormant_accounts_or_given_closures_do_not_warn():
    G.check_recency(_days(2, 8), dt.date(2024, 12, 31), closures_given=False)
    G.check_recency(_days(3, 7), dt.date(2024, 12, 31), closures_given=True)


# --- closed accounts rejected -------------------------------------------------------------


def test_accounts_closed_before_the_as_of_date_are_rejected_as_closed(
    predictor, sample, model, closures
):
    ids = sample[C.ACCOUNT_ID]
    mine = closures.filter(pc.is_in(closures[C.ACCOUNT_ID], value_set=ids))
    early = mine.filter(pc.less_equal(mine[C.CLOSURE_DATE], pa.scalar(model.as_of)))
    assert early.num_rows > 0
    scored, rejects = predictor.score(sample, model.as_of, closures=closures)
    closed = rejects.filter(pc.match_substring(rejects["reason"], "[closed]"))
    assert sorted(closed[C.ACCOUNT_ID].to_pylist()) == sorted(early[C.ACCOUNT_ID].to_pylist())
    first = early.slice(0, 1).to_pylist()[0]
    reason = closed.filter(pc.equal(closed[C.ACCOUNT_ID], first[C.ACCOUNT_ID]))["reason"][0]
    assert f"account closed on {first[C.CLOSURE_DATE]} ({first[C.CAUSE]})" in reason.as_py()
    assert "fix: leave it out or score an earlier as-of date" in reason.as_py()
    # The open ones are scored exactly as without closures, in input order.
    plain, _ = predictor.score(sample, model.as_of)
    expected = plain[~plain[C.ACCOUNT_ID].isin(early[C.ACCOUNT_ID].to_pylist())]
    pd.testing.assert_frame_equal(scored, expected.reset_index(drop=True))
    assert len(scored) + rejects.num_rows == sample.num_rows
    rows = closed["row"].to_numpy()
    assert ids.take(pa.array(rows)).to_pylist() == closed[C.ACCOUNT_ID].to_pylist()


def test_closures_after_the_as_of_date_reject_nothing(predictor, sample, model, closures):
    later = closures.filter(pc.greater(closures[C.CLOSURE_DATE], pa.scalar(model.as_of)))
    ids = sample[C.ACCOUNT_ID]
    early_ids = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(model.as_of)))
    open_rows = pc.invert(pc.is_in(ids, value_set=early_ids[C.ACCOUNT_ID]))
    still_open = sample.filter(open_rows)
    scored, rejects = predictor.score(still_open, model.as_of, closures=later.to_pandas())
    assert rejects.num_rows == 0 and len(scored) == still_open.num_rows


def test_predict_raises_on_a_closed_account_and_scores_the_open_ones(
    predictor, sample, model, closures
):
    with pytest.raises(ContractError, match=r"\[closed\]"):
        predictor.predict(sample, model.as_of, closures=closures)
    early = closures.filter(pc.less_equal(closures[C.CLOSURE_DATE], pa.scalar(model.as_of)))
    open_ = sample.filter(pc.invert(pc.is_in(sample[C.ACCOUNT_ID], value_set=early[C.ACCOUNT_ID])))
    assert len(predictor.predict(open_, model.as_of, closures=closures)) == open_.num_rows


# --- training: closures beyond every labelled horizon ------------------------------------


def _snapshots(last: dt.date, ids: list[str]) -> pd.DataFrame:
    months = [add_months(last, -k) for k in (2, 1, 0)]
    return pd.DataFrame(
        [{C.ACCOUNT_ID: i, C.AS_OF: m} for i in ids for m in months],
    )


def _closures(rows: list[tuple[str, dt.date]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{C.ACCOUNT_ID: i, C.CLOSURE_DATE: d, C.CAUSE: "overdue"} for i, d in rows],
        schema=C.CLOSURES_SCHEMA,
    )


def test_closures_beyond_the_horizon_are_counted_with_the_horizon_that_keeps_them():
    last = dt.date(2024, 5, 31)
    snaps = _snapshots(last, ["A", "B", "C", "D"])
    closed = _closures(
        [("A", dt.date(2024, 8, 31)), ("B", dt.date(2024, 9, 1)), ("C", dt.date(2024, 12, 15))]
    )
    loss = D.horizon_loss(snaps, closed, 3)
    assert (loss.lost, loss.closures, loss.needed_horizon) == (2, 3, 7)
    assert "2 of 3 closures" in loss.describe() and "--horizon 7" in loss.describe()
    # The figures agree with the labels: lost closures get no positive row at horizon 3,
    # and every closure is labelled at the suggested horizon.
    assert set(D.attach_labels(snaps, closed, 3).query("label == 1")[C.ACCOUNT_ID]) == {"A"}
    labelled = D.attach_labels(snaps, closed, loss.needed_horizon).query("label == 1")
    assert set(labelled[C.ACCOUNT_ID]) == {"A", "B", "C"}


def test_closures_within_the_horizon_lose_nothing():
    snaps = _snapshots(dt.date(2024, 5, 31), ["A", "B"])
    closed = _closures([("A", dt.date(2024, 6, 3)), ("B", dt.date(2024, 8, 31))])
    loss = D.horizon_loss(snaps, closed, 3)
    assert (loss.lost, loss.closures, loss.needed_horizon) == (0, 2, None)
    assert D.horizon_loss(snaps, None, 3).lost == 0


# --- string dates: as_of is a date, a datetime or an ISO day, nothing else -----------------


def test_predict_one_reads_an_iso_string_or_a_datetime_as_the_same_day(predictor, sample, model):
    record = sample.slice(0, 1).to_pylist()[0]
    expected = predictor.predict_one(record, model.as_of)
    assert predictor.predict_one(record, as_of=model.as_of.isoformat()) == expected
    moment = dt.datetime.combine(model.as_of, dt.time(23, 59))
    assert predictor.predict_one(record, as_of=moment) == expected


@pytest.mark.parametrize(
    ("as_of", "error", "message"),
    [
        ("2025-12", ValueError, "as_of must be an ISO date like 2025-12-31, got '2025-12'"),
        ("31/12/2025", ValueError, "as_of must be an ISO date like 2025-12-31"),
        (20251231, TypeError, "as_of must be a date or an ISO date string, got int"),
    ],
)
def test_a_month_string_or_a_number_as_of_is_refused_clearly(
    predictor, sample, as_of, error, message
):
    # Negative twin: "2025-12" was once walked character by character or read as a date.
    record = sample.slice(0, 1).to_pylist()[0]
    with pytest.raises(error, match=re.escape(message)):
        predictor.predict_one(record, as_of=as_of)
    with pytest.raises(error, match=re.escape(message)):
        predictor.predict(sample, as_of, reasons="none")
