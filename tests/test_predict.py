import datetime as dt
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from factory import account
from mlflow.tracking import MlflowClient

from risk_model import contract as C
from risk_model import predict as P
from risk_model import reasons as R
from risk_model.records import from_records
from risk_model.validation import ContractError


@pytest.fixture(scope="module")
def sample(model):
    return model.histories.slice(0, 300)


@pytest.fixture(scope="module")
def batch_all(predictor, sample, model):
    return predictor.predict(sample, model.as_of, reasons="all")


def test_batch_has_one_row_per_account_in_input_order(predictor, sample, model):
    order = np.random.default_rng(1).permutation(sample.num_rows)
    shuffled = sample.take(pa.array(order))
    out = predictor.predict(shuffled, model.as_of)
    assert list(out.columns) == list(P.OUTPUT_COLUMNS)
    assert out[C.ACCOUNT_ID].tolist() == shuffled[C.ACCOUNT_ID].to_pylist()
    assert (out[C.AS_OF] == model.as_of).all()
    assert out[P.PROBABILITY].between(0, 1).all()
    assert set(out[P.BAND]) <= set(predictor.artefact.scale.band_names)
    assert (out[P.MODEL_VERSION] == predictor.model_version).all()


def test_scoring_is_order_and_batch_independent(predictor, sample, model, batch_all):
    reversed_ = predictor.predict(
        sample.take(pa.array(np.arange(299, -1, -1))), model.as_of, reasons="all"
    )
    parts = pd.concat(
        [
            predictor.predict(sample.slice(a, 100), model.as_of, reasons="all")
            for a in (0, 100, 200)
        ],
        ignore_index=True,
    )
    again = predictor.predict(sample, model.as_of, reasons="all")
    pd.testing.assert_frame_equal(again, batch_all)
    pd.testing.assert_frame_equal(parts, batch_all)
    pd.testing.assert_frame_equal(reversed_.iloc[::-1].reset_index(drop=True), batch_all)


def test_predict_one_equals_the_batch_row_exactly(predictor, sample, model, batch_all):
    records = sample.slice(0, 25).to_pylist()
    for i, record in enumerate(records):
        one = predictor.predict_one(record, model.as_of)
        row = batch_all.iloc[i].to_dict()
        assert one == row  # same floats, same reasons, same texts


@pytest.mark.parametrize("reasons", ["needed", "all", "none"])
def test_feature_frames_score_like_histories(predictor, sample, model, reasons):
    # score_arrow reads the feature arrays directly; score_features takes the frame that
    # build_features returns (evaluate_reasons, notebooks): the same scores, bit for bit.
    shuffled = sample.take(pa.array(np.random.default_rng(5).permutation(sample.num_rows)))
    direct, open_mask = predictor.score_arrow(shuffled, model.as_of, reasons=reasons)
    frame, frame_mask = predictor.features(shuffled, model.as_of)
    assert np.array_equal(open_mask, frame_mask)
    assert predictor.score_features(frame, reasons=reasons).equals(direct)


def test_no_open_account_scores_to_an_empty_table(predictor, sample, model):
    before = sample[C.OPEN_DATE].to_pylist()
    early = min(before) - dt.timedelta(days=1)
    scores, open_mask = predictor.score_arrow(sample.slice(0, 5), early)
    assert scores.num_rows == 0 and scores.schema == P.OUTPUT_SCHEMA
    assert not open_mask.any() and len(open_mask) == 5
    empty, mask = predictor.score_arrow(sample.slice(0, 0), model.as_of)
    assert empty.num_rows == 0 and len(mask) == 0


def test_predict_one_is_thread_safe(predictor, sample, model):
    records = sample.slice(0, 40).to_pylist()
    serial = [predictor.predict_one(r, model.as_of) for r in records]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda r: predictor.predict_one(r, model.as_of), records * 2))
    assert parallel == serial * 2


def test_reasons_needed_only_above_the_lowest_band(predictor, sample, model, batch_all):
    needed = predictor.predict(sample, model.as_of)
    low = needed[P.BAND] == predictor.lowest_band
    assert low.any() and (~low).any()
    assert (needed.loc[low, P.REASONS].map(len) == 0).all()
    assert needed.loc[low, P.TOP_CAUSE].isna().all()
    assert needed.loc[~low, P.REASONS].tolist() == batch_all.loc[~low, P.REASONS].tolist()
    none = predictor.predict(sample, model.as_of, reasons="none")
    assert (none[P.REASONS].map(len) == 0).all()
    np.testing.assert_array_equal(none[P.PROBABILITY], batch_all[P.PROBABILITY])
    with pytest.raises(ValueError, match="reasons must be"):
        predictor.predict(sample, model.as_of, reasons="some")


def test_reasons_are_positive_sorted_and_readable(batch_all):
    lengths = batch_all[P.REASONS].map(len)
    assert lengths.max() == R.MAX_REASONS and lengths.min() >= 0
    for reasons, top in zip(batch_all[P.REASONS], batch_all[P.TOP_CAUSE], strict=True):
        amounts = [r["contribution"] for r in reasons]
        assert all(a > 0 for a in amounts) and amounts == sorted(amounts, reverse=True)
        for r in reasons:
            assert r["cause"] in (*C.CAUSES, C.CAUSE_OTHER)  # other: no closure cause
            assert r["text"] and not re.search(r"\b(nan|inf)\b", r["text"], re.IGNORECASE)
            assert r["text"][0].isupper() and r["text"].endswith(".")
            assert r["detail"].startswith(f"{r['code']} = ") and "log-odds" in r["detail"]
        assert top in C.CAUSES or top is None
        assert reasons or top is None  # no risk-raising factor: no top cause either


def test_contributions_reproduce_the_raw_score(predictor, sample, model, batch_all):
    frame, _ = predictor.features(sample, model.as_of)
    matrix = predictor.artefact.matrix(frame)
    contrib = predictor.artefact.contributions(matrix)
    raw = predictor.artefact.predict_raw(matrix)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=0.0, atol=1e-9)
    attribution = R.account_attribution(
        contrib, predictor.artefact.feature_names, values=matrix, catalogue=predictor.catalogue
    )
    art = predictor.artefact
    idle = R.idle_rule_rows(frame[C.AS_OF].to_numpy(), art.policy, art.horizon_months)
    counted = R.cause_contributions(attribution, predictor.catalogue, idle)
    top = R.top_causes(counted, predictor.causes)
    assert list(top) == batch_all[P.TOP_CAUSE].tolist()
    np.testing.assert_array_equal(predictor.artefact.calibrate(raw), batch_all[P.PROBABILITY])


def test_inputs_as_dataframe_parquet_and_records_score_alike(predictor, sample, model, tmp_path):
    small = sample.slice(0, 20)
    expected = predictor.predict(small, model.as_of)
    path = tmp_path / "h.parquet"
    pa.parquet.write_table(small, path)
    pd.testing.assert_frame_equal(predictor.predict(path, model.as_of), expected)
    pd.testing.assert_frame_equal(predictor.predict(small.to_pandas(), model.as_of), expected)
    pd.testing.assert_frame_equal(predictor.predict(small.to_pylist(), model.as_of), expected)
    with pytest.raises(ValueError, match="cannot read histories"):
        predictor.predict(tmp_path / "missing.parquet", model.as_of)
    with pytest.raises(TypeError):
        predictor.predict(42, model.as_of)


def test_as_of_defaults_to_the_latest_month_end_of_the_input_not_today(predictor, sample):
    from risk_model.guards import AsOfInferredWarning, last_event_days

    few = sample.slice(0, 3)
    latest = last_event_days(few).max().astype(dt.date)
    with pytest.warns(AsOfInferredWarning, match=str(latest)):
        out = predictor.predict(few)
    assert (out[C.AS_OF] == latest).all() and latest != dt.date.today()


def test_invalid_accounts_raise_in_predict_and_are_rejected_in_score(predictor, sample, model):
    records = sample.slice(0, 10).to_pylist()
    records[3][C.STATEMENTS] = [dict(records[3][C.STATEMENTS][0], credit_limit=-1.0)]
    records[7][C.OPEN_DATE] = model.as_of + dt.timedelta(days=5)
    table = from_records(records)
    with pytest.raises(ContractError) as info:
        predictor.predict(table, model.as_of)
    text = str(info.value)
    assert records[3][C.ACCOUNT_ID] in text and records[7][C.ACCOUNT_ID] in text
    scored, rejects = predictor.score(table, model.as_of)
    assert rejects["row"].to_pylist() == [3, 7]
    assert "credit_limit" in rejects["reason"][0].as_py()
    assert len(scored) + rejects.num_rows == 10
    good = [r[C.ACCOUNT_ID] for i, r in enumerate(records) if i not in (3, 7)]
    assert scored[C.ACCOUNT_ID].tolist() == good


def test_predict_one_rejects_a_bad_record(predictor, model):
    with pytest.raises(ContractError, match="product_version"):
        predictor.predict_one(account("X1", product_version="beta"), model.as_of)
    with pytest.raises(TypeError):
        predictor.predict_one([account("X1")], model.as_of)


def test_predict_one_accepts_iso_strings_like_parsed_json(predictor, model):
    record = account("J1")
    as_json = {
        k: (v.isoformat() if isinstance(v, dt.date) else v)
        for k, v in record.items()
        if k not in (C.STATEMENTS, C.TRANSACTIONS)
    }
    as_json[C.STATEMENTS] = [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in s.items()}
        for s in record[C.STATEMENTS]
    ]
    as_json[C.TRANSACTIONS] = [
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in t.items()}
        for t in record[C.TRANSACTIONS]
    ]
    assert predictor.predict_one(as_json, model.as_of) == predictor.predict_one(record, model.as_of)


def test_module_predict_caches_the_predictor(model, sample):
    record = sample.slice(0, 1).to_pylist()[0]
    first = P.predict(record, model=model.artefact, as_of=model.as_of)
    cached = P._CACHE[str(model.artefact)]
    again = P.predict(record, model=model.artefact, as_of=model.as_of)
    assert first == again and P._CACHE[str(model.artefact)] is cached
    batch = P.predict(sample.slice(0, 5), model=model.artefact, as_of=model.as_of)
    assert isinstance(batch, pd.DataFrame) and len(batch) == 5


def test_reason_tables_are_built_up_front_unless_the_caller_scores_without_reasons(model, sample):
    from risk_model.modeling.artefact import load_artefact

    eager = P.Predictor(load_artefact(model.artefact))
    assert "shap_tables" in vars(eager.artefact)  # a server's first request does not build them
    lazy = P.Predictor(load_artefact(model.artefact), prepare_reasons=False)
    assert "shap_tables" not in vars(lazy.artefact)
    without = lazy.predict(sample.slice(0, 20), model.as_of, reasons="none")
    assert "shap_tables" not in vars(lazy.artefact)
    with_reasons = lazy.predict(sample.slice(0, 20), model.as_of, reasons="all")
    assert "shap_tables" in vars(lazy.artefact)  # built on first use
    assert with_reasons.equals(eager.predict(sample.slice(0, 20), model.as_of, reasons="all"))
    assert without["probability"].equals(with_reasons["probability"])


def test_tampered_or_incomplete_artefacts_are_refused(model, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(model.artefact, altered)
    with (altered / "model.txt").open("a") as handle:
        handle.write("\n")
    with pytest.raises(P.ModelLoadError, match="checksum mismatch"):
        P.load(altered)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(model.artefact, incomplete)
    (incomplete / "spec.json").unlink()
    with pytest.raises(P.ModelLoadError, match="missing"):
        P.load(incomplete)
    with pytest.raises(P.ModelLoadError, match="not found"):
        P.load(tmp_path / "nowhere")
    # The untouched folder still loads, with the version its spec file records.
    spec = json.loads((model.artefact / "spec.json").read_text(encoding="utf-8"))
    assert P.load(model.artefact).model_version == spec["version"]


def test_champion_from_the_registry_scores_like_the_artefact(model, predictor, sample):
    champion = P.load(tracking_uri=model.tracking_uri)
    assert champion.model_version == predictor.model_version
    run_id = (
        MlflowClient(model.tracking_uri)
        .get_model_version_by_alias("closure-risk", "champion")
        .run_id
    )
    assert P.load(run_id, tracking_uri=model.tracking_uri).model_version == champion.model_version
    small = sample.slice(0, 50)
    pd.testing.assert_frame_equal(
        champion.predict(small, model.as_of), predictor.predict(small, model.as_of)
    )
    with pytest.raises(P.ModelLoadError, match="nope"):
        P.load("models:/closure-risk@nope", tracking_uri=model.tracking_uri)
    with pytest.raises(P.ModelLoadError):
        P.load("0123456789abcdef0123456789abcdef", tracking_uri=model.tracking_uri)


def test_mlflow_pyfunc_scores_records_like_the_predictor(model, predictor, sample):
    mlflow.set_tracking_uri(model.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model("models:/closure-risk@champion")
    records = json.loads(json.dumps(sample.slice(0, 20).to_pylist(), default=str))
    rows = pyfunc.predict(pd.DataFrame(records), params={"as_of": model.as_of.isoformat()})
    out = pd.DataFrame(rows)
    batch = predictor.predict(sample.slice(0, 20), model.as_of, reasons="all")
    assert (out["status"] == "scored").all()
    np.testing.assert_array_equal(out[P.PROBABILITY].to_numpy(float), batch[P.PROBABILITY])
    assert out[P.REASONS].tolist() == batch[P.REASONS].tolist()
    assert out[P.BAND].tolist() == batch[P.BAND].tolist()


def test_reason_causes_follow_the_models_policy_calendar(predictor, sample, model, tmp_path):
    from risk_model.features.registry import causes_under
    from risk_model.modeling.artefact import save_artefact

    art = predictor.artefact
    assert predictor.catalogue == causes_under(
        [next(e for e in art.spec["catalogue"] if e["name"] == n) for n in art.feature_names],
        art.policy,
    )
    by_name = {e["name"]: e["cause"] for e in predictor.catalogue}
    assert by_name["age_years"] == "regulatory"  # the test world's sweeps target the young
    # the same model under a calendar without sweeps or migration: no rule, no such cause
    spec = {**art.spec, "policy": {}}
    path = save_artefact(
        tmp_path / "no_policy", booster=art.booster, spec=spec, merchant_risk=art.merchant_risk
    )
    bare = P.load(path)
    profile = {"age_years", "is_student", "months_since_kyc", "legacy_unmigrated"}
    assert {e["cause"] for e in bare.catalogue if e["name"] in profile} == {C.CAUSE_OTHER}
    out = bare.predict(sample, model.as_of, reasons="all")
    causes = {r["cause"] for reasons in out[P.REASONS] for r in reasons}
    assert C.CAUSE_OTHER in causes and "migration" not in causes
    assert not {"regulatory", "migration", C.CAUSE_OTHER} & set(out[P.TOP_CAUSE].dropna())
