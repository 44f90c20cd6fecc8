import dataclasses

import numpy as np
import pytest

from modeling.modeling_helpers import CATALOGUE, FEATURES, make_frame
from risk_model.modeling.binned import BinnedRows
from risk_model.modeling.config import ModelConfig
from risk_model.modeling.config_load import load_config
from risk_model.modeling.evaluation import oot_evaluation
from risk_model.modeling.train import fit_booster, lgb_params, monotone_directions, train_model


def _oot_report(trained, frame):
    oot, train = trained.split.mask("oot"), trained.split.mask("train")
    return oot_evaluation(
        frame.loc[oot, "label"].to_numpy(float),
        trained.predict_proba(frame.loc[oot, FEATURES].to_numpy()),
        period=frame.loc[oot, "as_of"].to_numpy(),
        cause=frame.loc[oot, "cause"].to_numpy(),
        prob_train=trained.predict_proba(frame.loc[train, FEATURES].to_numpy()),
        truth=frame.loc[oot, "truth_p_close"].to_numpy(),
    )


def test_model_learns_and_reports(trained, frame):
    assert trained.split.kind == "time"
    assert trained.report["selection"]["gini"] > 0.5
    assert trained.report["calibration"]["method"] in {"identity", "sigmoid", "isotonic_interp"}
    report = _oot_report(trained, frame)
    assert report["oot"]["metrics"]["gini"] > 0.5
    assert report["gini_ratio"] > 0.9
    assert report["oot"]["metrics"]["ece_to_base_rate"] < 0.2
    assert set(report["oot"]["gini_by_cause"]) == {"overdue", "dormancy"}


def test_training_never_reads_the_oot_labels(frame, small_config, trained):
    scrambled = frame.copy()
    oot = trained.split.mask("oot")
    rng = np.random.default_rng(1)
    scrambled.loc[oot, "label"] = rng.permutation(scrambled.loc[oot, "label"].to_numpy())
    again = train_model(scrambled, FEATURES, CATALOGUE, small_config)
    assert again.booster.model_to_string() == trained.booster.model_to_string()
    assert again.calibrator == trained.calibrator


def test_selection_labels_do_steer_training(frame, small_config, trained):
    scrambled = frame.copy()
    sel = trained.split.mask("val")
    rng = np.random.default_rng(1)
    scrambled.loc[sel, "label"] = rng.permutation(scrambled.loc[sel, "label"].to_numpy())
    again = train_model(scrambled, FEATURES, CATALOGUE, small_config)
    assert again.calibrator != trained.calibrator


def test_served_rows_drive_selection(frame, small_config, trained):
    served = frame.copy()
    sel = trained.split.mask("val")
    served.loc[sel, "f_up"] = served.loc[sel, "f_up"] * 0.5
    again = train_model(frame, FEATURES, CATALOGUE, small_config, served=served)
    assert again.calibrator != trained.calibrator


def test_served_rows_must_match_the_frame(frame, small_config):
    with pytest.raises(ValueError, match="same keys"):
        train_model(frame, FEATURES, CATALOGUE, small_config, served=frame.iloc[::-1])


def test_same_seed_same_model(frame, small_config, trained):
    again = train_model(frame, FEATURES, CATALOGUE, small_config)
    assert again.booster.model_to_string() == trained.booster.model_to_string()
    assert again.report["selection"] == trained.report["selection"]


def test_capacity_is_searched_and_reported(trained):
    capacity = trained.report["capacity"]
    assert capacity["searched"] and len(capacity["trials"]) == 6
    losses = [t["selection_log_loss"] for t in capacity["trials"]]
    chosen = capacity["trials"][int(np.argmin(losses))]
    assert capacity["chosen"] == chosen["candidate"]
    assert trained.model_config.max_depth == chosen["max_depth"]


def test_capacity_search_off_keeps_the_configured_shape(frame, small_config):
    fixed = dataclasses.replace(
        small_config, model=dataclasses.replace(small_config.model, capacity_search=False)
    )
    result = train_model(frame, FEATURES, CATALOGUE, fixed)
    assert not result.report["capacity"]["searched"]
    assert result.model_config == fixed.model


def test_monotone_constraints_hold(trained):
    grid = np.linspace(-4, 4, 200)
    x = np.zeros((200, 3))
    x[:, 0] = grid
    up = trained.booster.predict(x, raw_score=True)
    x = np.zeros((200, 3))
    x[:, 1] = grid
    down = trained.booster.predict(x, raw_score=True)
    assert np.all(np.diff(up) >= 0) and np.all(np.diff(down) <= 0)


def _tree_depths(booster) -> list[int]:
    def depth(node) -> int:
        if "leaf_index" in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return [depth(tree["tree_structure"]) for tree in booster.dump_model()["tree_info"]]


def test_trees_respect_max_depth(trained):
    assert trained.model_config.max_depth >= 1  # every candidate bounds depth (cheap TreeSHAP)
    depths = _tree_depths(trained.booster)
    assert max(depths) <= trained.model_config.max_depth


def test_without_max_depth_trees_grow_deeper(frame, small_config):
    model = dataclasses.replace(
        small_config.model, max_depth=-1, num_leaves=15, capacity_search=False
    )
    unbounded = dataclasses.replace(small_config, model=model)
    result = train_model(frame, FEATURES, CATALOGUE, unbounded)
    assert max(_tree_depths(result.booster)) > 3


def test_params_are_deterministic_and_constrained():
    params = lgb_params(load_config().model, 5, [1, -1, 0])
    assert params["max_depth"] == load_config().model.max_depth
    assert params["deterministic"] and params["force_row_wise"] and params["seed"] == 5
    assert params["monotone_constraints_method"] == "advanced"
    assert "monotone_constraints" not in lgb_params(load_config().model, 5, [0, 0])
    assert "scale_pos_weight" not in params
    assert monotone_directions(["f_up", "zzz"], CATALOGUE) == [1, 0]


def test_a_part_without_positives_is_refused():
    frame = make_frame(n_accounts=200, n_months=14)
    frame["label"] = 0
    with pytest.raises(ValueError, match="both classes"):
        train_model(frame, FEATURES, CATALOGUE, load_config())


def _trees(booster) -> str:
    """The model text without its parameters block (which names the thread count)."""
    return booster.model_to_string().split("\nparameters:")[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_trees_do_not_depend_on_the_thread_count(seed):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30_000, 3)).astype(np.float32)
    y = (rng.random(30_000) < 1 / (1 + np.exp(2.5 - 1.5 * x[:, 0] + 0.7 * x[:, 1]))).astype(float)
    fits = []
    for threads, fit_seed in ((1, 0), (2, seed)):
        config = ModelConfig(
            num_boost_round=30, min_data_in_leaf=20, max_depth=3, num_leaves=8, num_threads=threads
        )
        data = BinnedRows.of(
            x[:25_000],
            y[:25_000],
            x[25_000:],
            y[25_000:],
            feature_names=FEATURES,
            params=lgb_params(config, fit_seed, None),
        )
        fits.append(fit_booster(data, config=config, seed=fit_seed))
    one, two = fits
    assert "[num_threads: 2]" in two.model_to_string()
    assert (_trees(one) == _trees(two)) == (seed == 0)  # another seed: other trees
