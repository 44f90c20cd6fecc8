"""A model trained on a real-shaped extract that carries user attributes, end to end.

A statements-only, single-snapshot extract of a generated world (the shape of a user's own
data) gains an ``attributes`` record per account: ``education`` (categorical) and
``income`` (numeric), both related to closure as such attributes are in real data. It is
trained by ``pipelines.train`` (as a user would) and scored by the one scoring path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.train import main as train
from risk_model import contract as C
from risk_model import predict as P
from risk_model import serving as S
from risk_model.attributes import AttributeWarning
from risk_model.synthetic import WorldConfig, generate_world, statements_only_extract

AS_OF = dt.date(2024, 1, 31)
HORIZON = 3


@dataclasses.dataclass(frozen=True)
class ExtractModel:
    histories: pa.Table
    closures: pa.Table
    artefact: Path


def _with_attributes(histories: pa.Table, closures: pa.Table) -> pa.Table:
    closed = np.isin(histories[C.ACCOUNT_ID].to_numpy(zero_copy_only=False), closures[C.ACCOUNT_ID])
    rng = np.random.default_rng(0)
    n = histories.num_rows
    lower = rng.random(n) < np.where(closed, 0.6, 0.15)
    education = np.where(lower, "high_school", rng.choice(["university", "graduate"], n))
    income = np.round(np.exp(rng.normal(np.log(8000), 0.5, n)) * np.where(closed, 0.6, 1.0), -1)
    unknown = rng.random(n) < 0.05  # a few incomes are not known
    attributes = pa.StructArray.from_arrays(
        [pa.array(education.tolist()), pa.array(income, mask=unknown)],
        names=["education", "income"],
    )
    return histories.append_column(C.ATTRIBUTES, attributes)


@pytest.fixture(scope="module")
def extract_model(tmp_path_factory) -> ExtractModel:
    root = tmp_path_factory.mktemp("attributes_extract")
    world = generate_world(WorldConfig(n_accounts=4000, n_months=14, seed=1))
    histories, closures = statements_only_extract(
        world.histories, world.closures, AS_OF, horizon_months=HORIZON
    )
    histories = _with_attributes(histories, closures)
    data, models = root / "data", root / "models"
    data.mkdir()
    pq.write_table(histories, data / "histories.parquet")
    pq.write_table(closures, data / "closures.parquet")
    (data / "policy.json").write_text(json.dumps(world.config.policy.to_dict()))
    argv = ["--data", str(data), "--out", str(models), "--horizon", str(HORIZON), "--seed", "1"]
    assert train([*argv, "--no-tracking", "--no-cache", "--quiet"]) == 0
    return ExtractModel(histories, closures, models / "latest")


@pytest.fixture(scope="module")
def predictor(extract_model: ExtractModel) -> P.Predictor:
    return P.load(extract_model.artefact)


def _score(predictor: P.Predictor, histories: pa.Table):
    return predictor.predict(histories, AS_OF, reasons="all")


def _replaced(histories: pa.Table, **fields) -> pa.Table:
    """The histories with the attributes record rebuilt from ``fields`` (name -> array)."""
    index = histories.schema.get_field_index(C.ATTRIBUTES)
    record = pa.StructArray.from_arrays(list(fields.values()), names=list(fields))
    return histories.set_column(index, C.ATTRIBUTES, record)


def _attribute(histories: pa.Table, name: str) -> pa.Array:
    return histories[C.ATTRIBUTES].combine_chunks().field(name)


def test_the_artefact_records_the_attributes_and_the_model_uses_them(extract_model):
    spec = json.loads((extract_model.artefact / "spec.json").read_text())
    assert spec["attributes"] == [
        {"name": "education", "kind": "categorical",
         "categories": ["graduate", "university", "high_school"]},
        {"name": "income", "kind": "numeric", "decimals": 0},
    ]  # fmt: skip
    assert spec["feature_names"][-2:] == ["attr_education", "attr_income"]
    booster = lgb.Booster(model_file=str(extract_model.artefact / "model.txt"))
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert gain["attr_education"] > 0 and gain["attr_income"] > 0
    reference = {f.name for f in P.load(extract_model.artefact).artefact.reference.features}
    assert {"attr_education", "attr_income"} <= reference  # monitoring compares them too


def test_reasons_name_the_attribute_and_its_value(predictor, extract_model):
    scores = _score(predictor, extract_model.histories)
    reasons = [r for rows in scores[P.REASONS] for r in rows]
    texts = {r["text"] for r in reasons if r["code"] == "attr_education"}
    assert "Your education (high_school) raises the assessed risk." in texts
    incomes = [r["text"] for r in reasons if r["code"] == "attr_income"]
    assert incomes and all(t.startswith("Your income (") for t in incomes)
    assert all(r["cause"] == C.CAUSE_OTHER for r in reasons if r["code"].startswith("attr_"))
    assert not any("attr_" in r["text"] or "nan" in r["text"] for r in reasons)


def test_one_record_scores_as_its_batch_row(predictor, extract_model):
    batch = _score(predictor, extract_model.histories.slice(0, 40))
    for i in (0, 17, 39):
        record = extract_model.histories.slice(i, 1).to_pylist()[0]
        one = predictor.predict_one(record, as_of=AS_OF)
        assert one[P.PROBABILITY] == batch[P.PROBABILITY].iloc[i]
        assert one[P.REASONS] == batch[P.REASONS].iloc[i]


def test_lacking_attributes_read_as_not_known(predictor, extract_model):
    histories = extract_model.histories.slice(0, 300)
    n = histories.num_rows
    unknown = _replaced(histories, education=pa.nulls(n, pa.string()), income=pa.nulls(n))
    with pytest.warns(AttributeWarning, match="does not carry"):
        lacking = _score(predictor, histories.drop_columns([C.ATTRIBUTES]))
    expected = _score(predictor, unknown)
    assert lacking[P.PROBABILITY].tolist() == expected[P.PROBABILITY].tolist()
    # twin: knowing them changes the scores
    assert _score(predictor, histories)[P.PROBABILITY].tolist() != lacking[P.PROBABILITY].tolist()


def test_extra_attributes_change_nothing(predictor, extract_model):
    histories = extract_model.histories.slice(0, 300)
    extra = _replaced(
        histories,
        education=_attribute(histories, "education"),
        income=_attribute(histories, "income"),
        region=pa.array(["north"] * histories.num_rows),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", AttributeWarning)
        scored = _score(predictor, extra)
    assert scored.equals(_score(predictor, histories))


def test_a_new_category_reads_as_not_known(predictor, extract_model):
    histories = extract_model.histories.slice(0, 300)
    income = _attribute(histories, "income")
    n = histories.num_rows
    new = _replaced(histories, education=pa.array(["phd"] * n), income=income)
    with pytest.warns(AttributeWarning, match=r"education \(300 accounts\)"):
        scored = _score(predictor, new)
    unknown = _score(
        predictor, _replaced(histories, education=pa.nulls(n, pa.string()), income=income)
    )
    assert scored[P.PROBABILITY].tolist() == unknown[P.PROBABILITY].tolist()
    assert not any(r["code"] == "attr_education" for rows in scored[P.REASONS] for r in rows)


def test_recourse_offers_no_attribute_change(predictor, extract_model):
    scores = _score(predictor, extract_model.histories)
    riskiest = int(np.argmax(scores[P.PROBABILITY].to_numpy()))
    record = extract_model.histories.slice(riskiest, 1).to_pylist()[0]
    plan = predictor.recourse(record, as_of=AS_OF)
    assert not any("attr" in a["code"] or "education" in a["text"] for a in plan["actions"])


def test_served_records_score_as_the_batch(predictor, extract_model):
    histories = extract_model.histories.slice(0, 50)
    records = pd.DataFrame(histories.to_pylist())  # as the served model receives them
    served = S.score_records(predictor, records, AS_OF.isoformat())
    batch = _score(predictor, histories)
    assert served[P.PROBABILITY].tolist() == batch[P.PROBABILITY].tolist()
    assert served[P.REASONS].tolist() == batch[P.REASONS].tolist()


def test_the_score_command_reads_the_attributes(predictor, extract_model, tmp_path):
    from pipelines.score import main as score

    path, out = tmp_path / "in.parquet", tmp_path / "scores.parquet"
    pq.write_table(extract_model.histories.slice(0, 200), path)
    argv = [str(path), "--model", str(extract_model.artefact), "--as-of", AS_OF.isoformat()]
    assert score([*argv, "--out", str(out), "--reasons", "all"]) == 0
    streamed = pq.read_table(out)
    expected = _score(predictor, extract_model.histories.slice(0, 200))
    assert streamed[P.PROBABILITY].to_pylist() == expected[P.PROBABILITY].tolist()
    assert streamed[P.REASONS].to_pylist() == expected[P.REASONS].tolist()


def test_the_reason_check_reads_the_attributes(extract_model):
    from risk_model.reason_check import explain_closures

    predictor = P.load(extract_model.artefact)  # the artefact's merchant table, point in time
    histories, closures = extract_model.histories, extract_model.closures
    rows = explain_closures(predictor, histories, closures, [AS_OF], tables="artefact").rows
    assert len(rows) and rows["attr_education"].notna().all()
    ids = pa.array(rows[C.ACCOUNT_ID].tolist(), pa.string())
    closed = histories.filter(pc.is_in(histories[C.ACCOUNT_ID], value_set=ids))
    expected = _score(predictor, closed).set_index(C.ACCOUNT_ID)[P.PROBABILITY]
    assert rows[P.PROBABILITY].tolist() == expected.loc[rows[C.ACCOUNT_ID]].tolist()
