"""One small trained model for the predictor and scoring tests (built once per session).

A tiny synthetic world is generated, and a model trained with ``pipelines.train`` into a
temporary folder and registered in a temporary MLflow store (alias ``champion``).
Both ``tests/test_predict.py`` and ``tests/pipelines/test_score.py`` use
:func:`scoring_model`; the result is cached at module level so the model is trained once
even though two test modules ask for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from risk_model.modeling import dataset as D

HORIZON = 3
SMALL_CONFIG = """
[model]
min_data_in_leaf = 40
num_boost_round = 120
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
    """Generate a 1,500-account world, train and register a small model (cached)."""
    if "model" in _CACHE:
        return _CACHE["model"]
    from pipelines.generate import main as generate
    from pipelines.train import main as train

    world, models = root / "world", root / "models"
    root.mkdir(parents=True, exist_ok=True)
    assert (
        generate(
            ["--accounts", "1500", "--months", "20", "--seed", "11", "--out", str(world), "--quiet"]
        )
        == 0
    )
    config = root / "small.toml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    uri = f"sqlite:///{root / 'mlflow.db'}"
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
    histories = pq.read_table(world / "histories.parquet")
    _, history_end = D.history_window(histories)
    _CACHE["model"] = ScoringModel(world, models / "latest", histories, history_end, uri)
    return _CACHE["model"]
