"""Features and merchant tables on Spark equal one machine's, bit for bit."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from risk_model.features import build_features, fit_merchant_risk
from risk_model.modeling.dataset import history_window, labelled_as_of_dates
from risk_model.spark.features import SparkFeatures, read_training_histories


@pytest.fixture(scope="module")
def engine(spark, model):
    """The world's histories in three partitions (the file is one row group).

    Shuffled once and kept for the module's jobs, as ``pipelines.train --engine spark``
    keeps its repartitioned histories: otherwise every job reads and shuffles them again.
    """
    df = read_training_histories(spark, str(model.world / "histories.parquet"))
    df = df.repartition(3).cache()
    yield SparkFeatures(df, accounts=model.histories.num_rows)
    df.unpersist()


@pytest.fixture(scope="module")
def histories(model):
    from risk_model.validation import validate_histories

    return validate_histories(model.histories)


def test_merchant_table_equals_one_machines(engine, histories):
    _, end = history_window(histories)
    table = engine.fit_merchant_risk(histories, end)
    expected = fit_merchant_risk(histories, end)
    assert table.num_rows > 100
    assert table.equals(expected, check_metadata=True)


def test_training_features_equal_one_machines(engine, histories, model):
    from risk_model.modeling.data_dir import load_inputs

    inputs = load_inputs(model.world)
    dates, _ = labelled_as_of_dates(histories, inputs.closures, 3, label_end=inputs.label_end)
    dates = dates[-4:]
    spark_frame = engine.build_features(histories, dates, policy=inputs.policy)
    local = build_features(histories, dates, policy=inputs.policy)
    assert len(local) > 1000
    pd.testing.assert_frame_equal(spark_frame, local, check_exact=True)


def test_scoring_features_equal_one_machines(engine, histories, model):
    _, end = history_window(histories)
    table = fit_merchant_risk(histories, end)
    spark_frame = engine.build_features(histories, end, merchant_risk=table)
    pd.testing.assert_frame_equal(spark_frame, build_features(histories, end, merchant_risk=table))


def test_the_engine_refuses_other_histories(engine, histories):
    with pytest.raises(ValueError, match="holds"):
        engine.build_features(histories.slice(0, 10), histories_end(histories))


def histories_end(histories: pa.Table):
    return history_window(histories)[1]


def test_training_on_spark_writes_one_machines_model(spark, model, tmp_path):
    """``pipelines.train --engine spark``: same data and settings, byte-identical model."""
    import contextlib
    import io

    from pipelines.train import main

    config = model.artefact.parents[1] / "small.toml"
    argv = [
        "--data", str(model.world), "--out", str(tmp_path / "models"), "--config", str(config),
        "--max-months", "12", "--seed", "5", "--no-tracking", "--no-cache", "--engine", "spark",
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    built = tmp_path / "models" / "latest"
    for name in ("model.txt", "merchant_risk.parquet"):
        assert (built / name).read_bytes() == (model.artefact / name).read_bytes(), name
