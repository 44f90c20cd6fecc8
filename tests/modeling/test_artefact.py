import json

import numpy as np
import pyarrow as pa
import pytest

from modeling.modeling_helpers import FEATURES
from risk_model.modeling.artefact import ArtefactError, load_artefact, save_artefact
from risk_model.policy import PolicyCalendar


@pytest.fixture()
def saved(tmp_path, trained, spec):
    table = pa.table({"merchant_id": ["m1", "m2"], "risk": [0.1, 0.2]})
    return save_artefact(tmp_path / "art", booster=trained.booster, spec=spec, merchant_risk=table)


def test_round_trip_scores_identically(saved, trained, frame):
    art = load_artefact(saved)
    x = art.matrix(frame.head(500))
    expected = trained.calibrator(trained.booster.predict(x, raw_score=True))
    assert np.array_equal(art.predict_proba(x), expected)
    assert art.feature_names == FEATURES and art.version == "v-test"
    assert art.horizon_months == 3
    assert art.policy == PolicyCalendar()
    assert art.merchant_risk.column_names == ["merchant_id", "risk"]
    prob = art.predict_proba(x)
    assert set(art.bands(prob)) <= {"very_low", "low", "medium", "high", "very_high"}
    contrib = art.contributions(x[:3])
    assert np.allclose(contrib.sum(axis=1), art.predict_raw(x[:3]))
    spec = json.loads((saved / "spec.json").read_text())
    assert spec["monotone_constraints"] == [1, -1, 0]
    assert spec["catalogue"][0]["family"] == "overdue"
    assert not list(saved.glob("*.pkl"))


def test_contributions_come_from_the_tables_and_equal_pred_contrib(saved, frame):
    art = load_artefact(saved)
    x = art.matrix(frame.head(400))
    assert art.shap_tables is not None  # shallow default trees fit the lookup tables
    expected = art.booster.predict(x, pred_contrib=True)
    np.testing.assert_allclose(art.contributions(x), expected, rtol=0, atol=1e-12)


def test_loads_of_one_model_share_its_read_only_tables(saved, tmp_path, spec):
    first, second = load_artefact(saved), load_artefact(saved)
    assert first.shap_tables is second.shap_tables  # built once per model text
    with pytest.raises(ValueError, match="read-only"):
        first.shap_tables.table[0] = 1.0
    lgb_params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 1}
    x = np.random.default_rng(0).normal(size=(300, len(FEATURES)))
    y = (x[:, 0] > 0).astype(float)
    import lightgbm as lgb

    other = lgb.train(lgb_params, lgb.Dataset(x, y, feature_name=FEATURES), num_boost_round=3)
    table = pa.table({"merchant_id": ["m1"], "risk": [0.1]})
    folder = save_artefact(tmp_path / "other", booster=other, spec=spec, merchant_risk=table)
    another = load_artefact(folder)
    assert another.shap_tables is not first.shap_tables  # another model, its own tables


def test_contributions_of_trees_too_big_for_the_tables_come_from_lightgbm(saved, frame):
    import dataclasses

    import lightgbm as lgb

    art = load_artefact(saved)
    x = art.matrix(frame)
    params = {"objective": "binary", "num_leaves": 31, "max_depth": -1, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, frame["label"].to_numpy()), num_boost_round=5)
    big = dataclasses.replace(art, booster=booster)
    assert big.shap_tables is None
    assert np.array_equal(big.contributions(x[:50]), booster.predict(x[:50], pred_contrib=True))


def test_matrix_is_the_same_whatever_the_column_layout(saved, frame):
    art = load_artefact(saved)
    ordered = frame[["label", *FEATURES]].head(300)  # features contiguous, in model order
    shuffled = frame[[FEATURES[2], "label", FEATURES[0], FEATURES[1]]].head(300)
    expected = frame[FEATURES].head(300).to_numpy(dtype=np.float64, na_value=np.nan)
    for layout in (ordered, shuffled, frame[FEATURES[::-1]].head(300)):
        assert np.array_equal(art.matrix(layout), expected, equal_nan=True)


def test_wrong_input_shape_and_missing_column(saved, frame):
    art = load_artefact(saved)
    with pytest.raises(ValueError, match="shape"):
        art.predict_proba(np.zeros((2, 2)))
    with pytest.raises(KeyError, match="f_up"):
        art.matrix(frame[["f_down"]])


def test_tampered_file_is_refused(saved):
    model = saved / "model.txt"
    model.write_text(model.read_text().replace("learning_rate", "learning_ratE", 1))
    with pytest.raises(ArtefactError, match=r"checksum mismatch for model\.txt"):
        load_artefact(saved)


def test_tampered_spec_is_refused(saved):
    spec = json.loads((saved / "spec.json").read_text())
    spec["calibration"]["a"] = 5.0
    (saved / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ArtefactError, match=r"spec\.json"):
        load_artefact(saved)


def test_missing_and_extra_files_are_refused(saved):
    (saved / "notes.txt").write_text("hi")
    with pytest.raises(ArtefactError, match="unexpected file"):
        load_artefact(saved)
    (saved / "notes.txt").unlink()
    (saved / "merchant_risk.parquet").unlink()
    with pytest.raises(ArtefactError, match=r"missing: merchant_risk\.parquet"):
        load_artefact(saved)
    (saved / "checksums.json").unlink()
    with pytest.raises(ArtefactError, match=r"checksums\.json missing"):
        load_artefact(saved)
    with pytest.raises(ArtefactError, match="not found"):
        load_artefact(saved / "nope")


def test_save_refuses_bad_spec_and_non_empty_dir(tmp_path, trained, spec):
    bad = {k: v for k, v in spec.items() if k != "calibration"}
    with pytest.raises(ArtefactError, match="calibration"):
        save_artefact(tmp_path / "a", booster=trained.booster, spec=bad, merchant_risk=None)
    renamed = {**spec, "feature_names": ["x", "y", "z"]}
    with pytest.raises(ArtefactError, match="differ"):
        save_artefact(tmp_path / "b", booster=trained.booster, spec=renamed, merchant_risk=None)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "f").write_text("x")
    with pytest.raises(ArtefactError, match="not empty"):
        save_artefact(tmp_path / "c", booster=trained.booster, spec=spec, merchant_risk=None)
