"""Progress of the LightGBM fits: log lines off a terminal, a tqdm counter on one, none if quiet."""

from __future__ import annotations

import io
import logging

import lightgbm as lgb
import numpy as np

from pipelines._train_progress import FitProgress, fit_labels, fit_progress


def _fit_twice(callbacks: list) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(size=400) > 1).astype(float)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 4}
    params |= {"max_depth": 2, "min_data_in_leaf": 20, "learning_rate": 0.1}
    for rounds in (5, 8):
        train = lgb.Dataset(x[:300], y[:300])
        valid = lgb.Dataset(x[300:], y[300:], reference=train)
        lgb.train(
            params,
            train,
            rounds,
            valid_sets=[valid],
            valid_names=["selection"],
            callbacks=callbacks,
        )


def test_log_lines_name_each_fit_with_its_trees_and_loss(caplog):
    caplog.set_level(logging.INFO, logger="pipelines.train")
    with fit_progress(True, quiet=False) as shown:
        shown[0].bar = False  # as off a terminal, whatever runs the tests
        shown[0].labels = ["capacity search 1/1", "final fit"]
        _fit_twice(shown)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith(
        "capacity search 1/1 (depth 2, 4 leaves, >= 20 rows/leaf, learning rate 0.1): "
    )
    assert "(5 grown)" in lines[0]
    assert lines[1].startswith("final fit (") and "(8 grown)" in lines[1]
    assert "best selection log loss 0." in lines[1]


def test_heartbeat_lines_while_a_fit_runs(caplog):
    caplog.set_level(logging.INFO, logger="pipelines.train")
    progress = FitProgress(["fit"], bar=False, heartbeat=0.0)
    with progress:
        _fit_twice([progress])
    beats = [
        r.getMessage() for r in caplog.records if "trees, selection log loss" in r.getMessage()
    ]
    assert beats[0].startswith("fit: 1 trees") and len(beats) == 5 + 8


def test_terminal_gets_a_tree_counter():
    stream = io.StringIO()
    progress = FitProgress(["fit"], bar=True, stream=stream, mininterval=0.0)
    with progress:
        _fit_twice([progress])
    shown = stream.getvalue()
    assert "fit: 5 trees" in shown and "fit 2: 8 trees" in shown
    assert "selection log loss 0." in shown


def test_quiet_installs_nothing_and_labels_follow_the_search():
    with fit_progress(True, quiet=True) as shown:
        assert shown == []
    assert fit_labels(False) == ["fit"]
    labels = fit_labels(True)
    assert labels[0] == f"capacity search 1/{len(labels) - 1}" and labels[-1] == "final fit"
