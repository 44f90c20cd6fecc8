"""One small trained model for the predictor and scoring tests (built once per session).

A tiny synthetic world is generated, and a model trained with ``pipelines.train`` into a
temporary folder and registered in a temporary MLflow store (alias ``champion``). The
``model`` fixture of ``tests/conftest.py`` calls :func:`scoring_model`; the result is cached
at module level, and under pytest-xdist the folder is shared by the workers: the first one
to ask trains under a file lock, the others wait for it and read the same files.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from risk_model.modeling import dataset as D

HORIZON = 3
# The shape the capacity search chooses on this world (depth 3, 8 leaves: the defaults; 20
# rows per leaf), fixed: the same model.txt, calibration and bands, without the search's
# trial fits (about half the training's CPU). The scoring tests are about scoring, not the
# search (tests/pipelines/test_train.py trains with it).
SMALL_CONFIG = """
[model]
min_data_in_leaf = 20
num_boost_round = 120
capacity_search = false
"""


@dataclass(frozen=True)
class ScoringModel:
    world: Path
    artefact: Path
    histories: pa.Table
    as_of: dt.date
    tracking_uri: str


_CACHE: dict[str, ScoringModel] = {}


def scoring_model(root: Path) -> ScoringModel:
    """Generate a 1,500-account world, train and register a small model (once per ``root``)."""
    if "model" in _CACHE:
        return _CACHE["model"]
    root.parent.mkdir(parents=True, exist_ok=True)
    world, models = root / "world", root / "models"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # An exclusive lock: another process (an xdist worker) may be training into root now.
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "trained").exists():
            _train(root, world, models, uri)
            (root / "trained").touch()
    histories = pq.read_table(world / "histories.parquet")
    _, history_end = D.history_window(histories)
    _CACHE["model"] = ScoringModel(world, models / "latest", histories, history_end, uri)
    return _CACHE["model"]


def _train(root: Path, world: Path, models: Path, uri: str) -> None:
    from pipelines.generate import main as generate
    from pipelines.train import main as train

    root.mkdir(parents=True, exist_ok=True)
    assert (
        generate(
            ["--accounts", "1500", "--months", "20", "--seed", "11", "--out", str(world), "--quiet"]
        )
        == 0
    )
    config = root / "small.toml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    assert (
        train(
            [
                "--data",
                str(world),
                "--out",
                str(models),
                "--config",
                str(config),
                "--max-months",
                "12",
                "--seed",
                "5",
                "--tracking-uri",
                uri,
            ]
        )
        == 0
    )
