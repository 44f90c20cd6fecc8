import dataclasses

import numpy as np
import pytest

from modeling.modeling_helpers import CATALOGUE, FEATURES, make_frame
from risk_model.modeling.config_load import load_config
from risk_model.modeling.train import lgb_params, monotone_directions, train_model


def test_model_learns_and_reports(trained):
    report = trained.report
    assert trained.split.kind == "time"
    assert report["oot"]["metrics"]["gini"] > 0.5
    assert report["gini_ratio"] > 0.9
    assert report["oot"]["metrics"]["ece_to_base_rate"] < 0.2
    assert set(report["oot"]["gini_by_cause"]) == {"overdue", "dormancy"}
    assert report["calibration"]["method"] in {"sigmoid", "isotonic_interp"}
    assert set(trained.scored["part"]) == {"train", "val", "oot", "gap"}


def test_same_seed_same_model(frame, small_config, trained):
    again = train_model(frame, FEATURES, CATALOGUE, small_config)
    assert again.booster.model_to_string() == trained.booster.model_to_string()
    assert again.report["oot"]["metrics"] == trained.report["oot"]["metrics"]


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


def test_trees_respect_max_depth(trained, small_config):
    assert small_config.model.max_depth >= 1  # the default bounds depth (cheap TreeSHAP)
    depths = _tree_depths(trained.booster)
    assert max(depths) <= small_config.model.max_depth


def test_without_max_depth_trees_grow_deeper(frame, small_config):
    unbounded = dataclasses.replace(
        small_config, model=dataclasses.replace(small_config.model, max_depth=-1, num_leaves=15)
    )
    result = train_model(frame, FEATURES, CATALOGUE, unbounded)
    assert max(_tree_depths(result.booster)) > small_config.model.max_depth


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
