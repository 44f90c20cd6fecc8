"""``python -m pipelines.train --engine spark``: features and merchant tables on Spark.

The training snapshots (training-mode features at every labelled as-of date), the served
features of the selection and out-of-time rows, and both merchant-risk tables (end of the
train window, end of the history) are computed on the executors from the data directory's
``histories.parquet`` (:class:`risk_model.spark.features.SparkFeatures`): equal, bit for
bit, to one machine's. The feature rows are collected here and the LightGBM fit, the
calibration and the evaluation run in this process, as with the default engine.
"""

from __future__ import annotations

import argparse
import logging

from risk_model.modeling.config import TrainConfig
from risk_model.modeling.data_dir import Inputs

log = logging.getLogger("pipelines.train")


def features_engine(args: argparse.Namespace, inputs: Inputs, config: TrainConfig):
    """Return the Spark feature engine for the data directory's histories."""
    from risk_model.spark.features import SparkFeatures, read_training_histories
    from risk_model.spark.session import get_session

    spark = get_session(args.master, app_name="closure-risk-train")
    path = str((inputs.source / "histories.parquet").resolve())
    df = read_training_histories(spark, path)
    parts, cores = df.rdd.getNumPartitions(), spark.sparkContext.defaultParallelism
    if parts < cores:  # e.g. one row group: spread the accounts once, keep them for every job
        from pyspark import StorageLevel

        df, parts = df.repartition(cores).persist(StorageLevel.DISK_ONLY), cores
    log.info("features on Spark (%s, %d partitions of %s)", spark.sparkContext.master, parts, path)
    return SparkFeatures(df, account_fraction=config.snapshot.account_fraction)
