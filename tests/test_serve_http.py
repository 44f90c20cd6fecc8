"""`mlflow models serve` on the registered champion, spoken to over HTTP on 127.0.0.1."""

import copy
import json

import pytest

from pipelines._bench_serve import model_server, post
from risk_model import contract as C
from risk_model import serving as S
from risk_model.scores import OUTPUT_COLUMNS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with model_server(
        "models:/closure-risk@champion", tracking_uri=model.tracking_uri, log=log
    ) as running:
        yield running


@pytest.fixture(scope="module")
def records(model):
    rows = model.histories.slice(0, 3).to_pylist()
    return json.loads(json.dumps(rows, default=lambda v: v.isoformat()))


COMPARED = [name for name in OUTPUT_COLUMNS if name != C.AS_OF]  # as_of: ISO text in JSON


def test_one_good_account(server, predictor, model, records):
    status, body = post(
        server, {"dataframe_records": records[:1], "params": {"as_of": model.as_of.isoformat()}}
    )
    assert status == 200, body
    [row] = body["predictions"]
    want = predictor.predict(records[:1], model.as_of, reasons="all").iloc[0]
    assert row[S.STATUS] == S.SCORED and row[S.REJECTED_REASON] is None
    assert row[C.AS_OF] == model.as_of.isoformat()
    for name in COMPARED:
        assert row[name] == want[name], name  # floats exactly: JSON keeps every digit


def test_a_batch_with_one_bad_account_scores_the_others(server, predictor, model, records):
    batch = copy.deepcopy(records)
    batch[1][C.STATEMENTS][0][C.DUE_DATE] = "not a date"
    status, body = post(
        server, {"dataframe_records": batch, "params": {"as_of": model.as_of.isoformat()}}
    )
    assert status == 200, body
    rows = body["predictions"]
    assert [r[S.STATUS] for r in rows] == [S.SCORED, S.REJECTED, S.SCORED]
    assert rows[1][C.ACCOUNT_ID] == batch[1][C.ACCOUNT_ID]
    assert rows[1][S.REJECTED_REASON].startswith("statements.due_date: ")
    assert rows[1]["probability"] is None
    expected = predictor.predict([batch[0], batch[2]], model.as_of, reasons="all")
    for row, (_, want) in zip([rows[0], rows[2]], expected.iterrows(), strict=True):
        assert [row[n] for n in COMPARED] == [want[n] for n in COMPARED]


def test_a_bad_account_alone_is_a_400_naming_account_and_field(server, model, records):
    bad = copy.deepcopy(records[0])
    bad[C.STATEMENTS][0][C.CREDIT_LIMIT] = -1.0
    status, body = post(server, {"dataframe_records": [bad]})
    assert status == 400
    assert f"account {bad[C.ACCOUNT_ID]!r}: statements.credit_limit: " in body["message"]
    assert "fix: " in body["message"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataframe_records": [{"account_id": ',
        b'{"records": []}',
        b'{"dataframe_records": [], "params": {"as_of": "2025-13-01"}}',
    ],
)
def test_malformed_requests_are_a_400(server, body):
    status, answer = post(server, body)
    assert status == 400, answer
