"""The registered model through ``mlflow.pyfunc.spark_udf`` on the nested account records."""

from __future__ import annotations

import pyarrow.parquet as pq

from pipelines._spark_parity import seed_bad_accounts
from risk_model import contract as C
from risk_model.predict import load


def test_spark_udf_on_nested_records_equals_the_predictor(spark, model, tmp_path):
    import mlflow
    from pyspark.sql import functions as F

    table, spoiled = seed_bad_accounts(model.histories.slice(0, 120), 2, model.as_of, seed=2)
    path = tmp_path / "records.parquet"
    pq.write_table(table, path)
    uri = "models:/closure-risk@champion"
    mlflow.set_tracking_uri(model.tracking_uri)
    try:
        udf = mlflow.pyfunc.spark_udf(
            spark,
            uri,
            env_manager="local",
            params={"as_of": model.as_of.isoformat(), "if_none_scored": "report"},
        )
    finally:
        mlflow.set_tracking_uri(None)
    df = spark.read.parquet(str(path))
    inputs = [F.col(c) for c in df.columns]  # by name: the signature's columns are optional
    out = df.select(udf(*inputs).alias("s")).select("s.*").toArrow().to_pylist()
    served = {row[C.ACCOUNT_ID]: row for row in out}

    predictor = load(uri, tracking_uri=model.tracking_uri)
    scores, rejects = predictor.score(table, model.as_of, reasons="all")
    assert len(out) == table.num_rows
    for row in scores.to_dict("records"):
        got = served[row[C.ACCOUNT_ID]]
        assert got["status"] == "scored"
        assert got["probability"] == row["probability"]  # exactly
        assert (got["band"], got["top_cause"]) == (row["band"], row["top_cause"])
        assert got["reasons"] == list(row["reasons"])
    bad = {table[C.ACCOUNT_ID][r].as_py() for r in spoiled}
    assert bad == set(rejects[C.ACCOUNT_ID].to_pylist())
    for account, reason in zip(
        rejects[C.ACCOUNT_ID].to_pylist(), rejects["reason"].to_pylist(), strict=True
    ):
        assert served[account]["status"] == "rejected"
        assert served[account]["rejected_reason"] == reason
