import copy
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from risk_model import contract as C
from risk_model import serving as S
from risk_model.scores import OUTPUT_COLUMNS, PROBABILITY


def as_json(table) -> list[dict]:
    """Records as a JSON client sends them: dates and times as ISO strings."""
    return json.loads(json.dumps(table.to_pylist(), default=lambda v: v.isoformat()))


@pytest.fixture(scope="module")
def records(model):
    return as_json(model.histories.slice(0, 40))


@pytest.fixture(scope="module")
def expected(predictor, model, records):
    """What Predictor.predict gives for the same records (the reference)."""
    return predictor.predict(records, model.as_of, reasons="all")


def scored_part(frame: pd.DataFrame) -> pd.DataFrame:
    """The scored rows in Predictor.predict's form (as_of back to a date)."""
    part = frame[frame[S.STATUS] == S.SCORED][list(OUTPUT_COLUMNS)].reset_index(drop=True)
    part[C.AS_OF] = [dt.date.fromisoformat(d) for d in part[C.AS_OF]]
    return part.astype({PROBABILITY: "float64", "points": "float64"})


def test_scored_rows_equal_predictor_predict(predictor, model, records, expected):
    out = S.score_records(predictor, records, model.as_of.isoformat())
    assert list(out.columns) == list(S.SERVING_COLUMNS)
    assert (out[S.STATUS] == S.SCORED).all() and out[S.REJECTED_REASON].isna().all()
    pd.testing.assert_frame_equal(scored_part(out), expected)
    from_frame = S.score_records(predictor, pd.DataFrame(records), model.as_of)
    pd.testing.assert_frame_equal(from_frame, out)


def test_score_rows_are_the_rows_of_score_records(predictor, model, records):
    rows = S.score_rows(predictor, records[:5], model.as_of)
    assert all(list(row) == list(S.SERVING_COLUMNS) for row in rows)
    frame = S.score_records(predictor, records[:5], model.as_of)
    assert rows == frame.to_dict("records")
    pd.testing.assert_frame_equal(pd.DataFrame(rows, dtype=object), frame)


def test_score_rows_raise_like_score_records_when_nothing_scores(predictor, model, records):
    bad = copy.deepcopy(records[0])
    del bad[C.OPEN_DATE]
    with pytest.raises(S.RecordsRejectedError, match="none scored"):
        S.score_rows(predictor, [bad], model.as_of)
    rows = S.score_rows(predictor, [bad], model.as_of, if_none_scored="report")
    assert [row[S.STATUS] for row in rows] == [S.REJECTED]
    assert S.score_rows(predictor, [], model.as_of) == []


def test_a_bad_account_is_rejected_and_the_others_scored(predictor, model, records, expected):
    batch = copy.deepcopy(records[:3])
    batch[1]["statements"][0][C.CREDIT_LIMIT] = -5.0
    out = S.score_records(predictor, batch, model.as_of)
    assert out[S.STATUS].tolist() == [S.SCORED, S.REJECTED, S.SCORED]
    rejected = out.iloc[1]
    assert rejected[C.ACCOUNT_ID] == batch[1][C.ACCOUNT_ID]
    assert rejected[S.REJECTED_REASON].startswith("statements.credit_limit: ")
    assert "[not_positive]; fix: " in rejected[S.REJECTED_REASON]
    assert rejected[PROBABILITY] is None and rejected["reasons"] == []
    pd.testing.assert_frame_equal(scored_part(out), expected.iloc[[0, 2]].reset_index(drop=True))


def test_records_that_cannot_share_a_table_are_read_one_by_one(predictor, model, records):
    batch = copy.deepcopy(records[:3])
    batch[0][C.BIRTH_YEAR] = "nineteen ninety"  # text where the others hold numbers
    batch[2] = ["not", "a", "record"]
    out = S.score_records(predictor, batch, model.as_of)
    assert out[S.STATUS].tolist() == [S.REJECTED, S.SCORED, S.REJECTED]
    assert out.iloc[0][S.REJECTED_REASON].startswith("birth_year: ")
    assert out.iloc[2][C.ACCOUNT_ID] is None and "record" in out.iloc[2][S.REJECTED_REASON]
    alone = S.score_records(predictor, batch[1:2], model.as_of)
    pd.testing.assert_frame_equal(out.iloc[[1]].reset_index(drop=True), alone)


def test_nothing_scored_is_an_error_naming_account_and_field(predictor, model, records):
    bad = copy.deepcopy(records[0])
    del bad[C.OPEN_DATE]
    with pytest.raises(S.RecordsRejectedError) as caught:
        S.score_records(predictor, [bad], model.as_of)
    message = str(caught.value)
    assert f"account {bad[C.ACCOUNT_ID]!r}: open_date: " in message
    assert "none scored" in message
    report = S.score_records(predictor, [bad], model.as_of, if_none_scored="report")
    assert report[S.STATUS].tolist() == [S.REJECTED]
    pd.testing.assert_frame_equal(caught.value.frame, report)


def test_as_of_is_inferred_like_predictor_predict(predictor, records):
    from risk_model.guards import AsOfInferredWarning

    with pytest.warns(AsOfInferredWarning):
        expected = predictor.predict(records[:5], reasons="all")
    with pytest.warns(AsOfInferredWarning):
        out = S.score_records(predictor, records[:5])
    pd.testing.assert_frame_equal(scored_part(out), expected)


def test_arguments_are_checked(predictor, records):
    for kwargs in ({"reasons": "some"}, {"if_none_scored": "ignore"}):
        with pytest.raises(ValueError, match="must be"):
            S.score_records(predictor, records[:1], "2025-12-31", **kwargs)
    with pytest.raises(ValueError, match="as_of must be an ISO date"):
        S.score_records(predictor, records[:1], "2025-13-40")
    assert S.score_records(predictor, [], "2025-12-31").empty


def test_records_from_frame_gives_plain_values():
    frame = pd.DataFrame(
        {
            "account_id": ["A", "B"],
            "birth_year": [1990, np.nan],
            "kyc_date": [pd.Timestamp("2024-01-02"), pd.NaT],
            "statements": [np.array([{"amount_paid": np.float64(1.5)}], dtype=object), None],
        }
    )
    rows = S.records_from_frame(frame)
    assert rows == [
        {
            "account_id": "A",
            "birth_year": 1990.0,
            "kyc_date": dt.datetime(2024, 1, 2),
            "statements": [{"amount_paid": 1.5}],
        },
        {"account_id": "B", "birth_year": None, "kyc_date": None, "statements": None},
    ]
    assert type(rows[0]["birth_year"]) is float


def test_the_example_record_is_valid(predictor):
    out = S.score_records(predictor, [S.EXAMPLE_RECORD], S.EXAMPLE_AS_OF)
    assert out[S.STATUS].tolist() == [S.SCORED]
    assert out[C.AS_OF].tolist() == [S.EXAMPLE_AS_OF]
