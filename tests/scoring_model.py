"""One small trained model for the predictor and scoring tests (built once per session).

A tiny synthetic world is generated and a model trained on it into a temporary folder.
Both ``tests/test_predict.py`` and ``tests/pipelines/test_score.py`` use
:func:`scoring_model`; the result is cached at module level so the model is trained once
even though two test modules ask for it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from risk_model.features import FEATURES, build_features, feature_names, fit_merchant_risk
from risk_model.modeling import dataset as D
from risk_model.modeling.artefact import save_artefact
from risk_model.modeling.config import load_config
from risk_model.modeling.scale import ScoreScale
from risk_model.modeling.train import catalogue_records, monotone_directions, train_model
from risk_model.policy import PolicyCalendar

HORIZON = 3


@dataclass(frozen=True)
class ScoringModel:
    world: Path
    artefact: Path
    histories: pa.Table
    as_of: dt.date


_CACHE: dict[str, ScoringModel] = {}


def scoring_model(root: Path) -> ScoringModel:
    """Generate a 1,500-account world and train a small model on it (cached)."""
    if "model" in _CACHE:
        return _CACHE["model"]
    from pipelines.generate import main as generate

    world = root / "world"
    assert generate(["--accounts", "1500", "--months", "20", "--seed", "11",
                     "--out", str(world), "--quiet"]) == 0  # fmt: skip
    histories = pq.read_table(world / "histories.parquet")
    closures = pq.read_table(world / "closures.parquet")
    manifest = json.loads((world / "manifest.json").read_text())
    policy = PolicyCalendar.from_dict(manifest["parameters"]["policy"])
    dates, _ = D.labelled_as_of_dates(histories, closures, HORIZON, max_months=12)
    frame = D.attach_labels(build_features(histories, dates, policy=policy), closures, HORIZON)
    config = load_config(
        overrides={"model.min_data_in_leaf": 40, "model.num_boost_round": 120, "seed": 5}
    )
    catalogue = catalogue_records(FEATURES)
    result = train_model(frame, feature_names(), catalogue, config)
    spec = {
        "format_version": 1,
        "version": "test-1",
        "feature_names": feature_names(),
        "monotone_constraints": monotone_directions(feature_names(), catalogue),
        "catalogue": catalogue,
        "calibration": result.calibrator.to_dict(),
        "scale": ScoreScale().to_dict(),
        "policy": policy.to_dict(),
        "horizon_months": HORIZON,
        "merchant_risk_as_of": dates[-1].isoformat(),
    }
    artefact = save_artefact(
        root / "artefact",
        booster=result.booster,
        spec=spec,
        merchant_risk=fit_merchant_risk(histories, dates[-1]),
    )
    _, history_end = D.history_window(histories)
    _CACHE["model"] = ScoringModel(world, artefact, histories, history_end)
    return _CACHE["model"]
