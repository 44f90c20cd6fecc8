"""The statements-only, single-as-of extract cut from a generated world."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from risk_model import contract as C
from risk_model.records import to_flat
from risk_model.synthetic.extract import statements_only_extract
from risk_model.validation import ContractError, validate_closures, validate_histories

AS_OF = dt.date(2023, 12, 31)


@pytest.fixture(scope="module")
def extract(small_world):
    return statements_only_extract(small_world.histories, small_world.closures, AS_OF)


def _statements(histories: pa.Table):
    return to_flat(histories).statements.to_pandas()


def test_the_extract_meets_the_contract_without_transactions(extract):
    histories, closures = extract
    assert C.TRANSACTIONS not in histories.column_names
    assert C.STATEMENTS in histories.column_names and C.BIRTH_YEAR in histories.column_names
    validate_histories(histories)
    validate_closures(closures)


def test_only_accounts_open_at_the_as_of_date_are_kept(small_world, extract):
    histories, _ = extract
    kept = set(histories[C.ACCOUNT_ID].to_pylist())
    closures = small_world.closures.to_pandas()
    closed_by = set(closures.loc[closures[C.CLOSURE_DATE] <= AS_OF, C.ACCOUNT_ID])
    profile = small_world.histories.select([C.ACCOUNT_ID, C.OPEN_DATE]).to_pandas()
    opened = set(profile.loc[profile[C.OPEN_DATE] <= AS_OF, C.ACCOUNT_ID])
    assert kept == opened - closed_by
    # negative twin: the world itself holds accounts closed before and opened after
    assert closed_by and set(profile[C.ACCOUNT_ID]) - opened


def test_at_most_the_last_six_statement_months_are_known(extract):
    statements = _statements(extract[0])
    months = set(statements[C.STATEMENT_MONTH])
    assert max(months) == dt.date(2023, 12, 1) and min(months) == dt.date(2023, 7, 1)
    assert statements.groupby(C.ACCOUNT_ID).size().max() == 6


def test_fewer_months_can_be_asked_for(small_world):
    histories, _ = statements_only_extract(
        small_world.histories, small_world.closures, AS_OF, months=2
    )
    assert set(_statements(histories)[C.STATEMENT_MONTH]) == {
        dt.date(2023, 11, 1),
        dt.date(2023, 12, 1),
    }


def test_payments_due_after_the_as_of_date_are_unknown(extract):
    statements = _statements(extract[0])
    late = statements[C.DUE_DATE] > AS_OF
    assert late.any() and (~late).any()
    assert statements.loc[late, [C.AMOUNT_PAID, C.DATE_PAID]].isna().all().all()
    # negative twin: payments already due stay known
    assert statements.loc[~late, C.AMOUNT_PAID].notna().mean() > 0.9


def test_only_closures_inside_the_horizon_are_labels(small_world, extract):
    histories, closures = extract
    dates = closures[C.CLOSURE_DATE].to_pylist()
    assert dates and all(AS_OF < d <= dt.date(2024, 1, 31) for d in dates)
    assert set(closures[C.ACCOUNT_ID].to_pylist()) <= set(histories[C.ACCOUNT_ID].to_pylist())
    world = small_world.closures
    later = pc.greater(world[C.CLOSURE_DATE], pa.scalar(dt.date(2024, 1, 31), pa.date32()))
    assert world.filter(later).num_rows > 0  # negative twin: later closures existed


def test_a_longer_horizon_keeps_more_closures(small_world, extract):
    _, three = statements_only_extract(
        small_world.histories, small_world.closures, AS_OF, horizon_months=3
    )
    assert three.num_rows > extract[1].num_rows
    assert max(three[C.CLOSURE_DATE].to_pylist()) <= dt.date(2024, 3, 31)


@pytest.mark.parametrize(
    ("as_of", "kwargs"),
    [
        (dt.date(2023, 12, 30), {}),
        (AS_OF, {"months": 0}),
        (AS_OF, {"horizon_months": 0}),
    ],
)
def test_bad_arguments_are_refused(small_world, as_of, kwargs):
    with pytest.raises(ValueError):
        statements_only_extract(small_world.histories, small_world.closures, as_of, **kwargs)


def test_extract_at_keeps_what_was_known_and_gives_the_same_features(small_world):
    from risk_model.features import build_features, fit_merchant_risk
    from risk_model.synthetic.extract import extract_at

    day = dt.date(2023, 10, 31)
    cut = extract_at(small_world.histories, small_world.closures, day)
    validate_histories(cut, as_of=day)  # nothing after the as-of date
    assert C.TRANSACTIONS in cut.column_names
    # Point in time: scored with one merchant table, the features at the as-of date are
    # those of the full histories (without a table, the population itself would differ).
    table = fit_merchant_risk(small_world.histories, day)
    full = build_features(small_world.histories, day, merchant_risk=table)
    features = build_features(cut, day, merchant_risk=table)
    kept = full[C.ACCOUNT_ID].isin(set(cut[C.ACCOUNT_ID].to_pylist()))
    assert len(features) == kept.sum() == cut.num_rows
    pd.testing.assert_frame_equal(features, full.loc[kept].reset_index(drop=True))
    # Negative twin: a month later the full histories hold events the cut does not.
    with pytest.raises(ContractError):
        validate_histories(small_world.histories, as_of=day)
