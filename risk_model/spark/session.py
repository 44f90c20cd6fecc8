"""A Spark session for closure-risk: loopback in local mode, Arrow batches of accounts.

Without settings Spark binds the driver to the machine's outward address; a local session
made here stays on 127.0.0.1 (``SPARK_LOCAL_IP``, ``spark.driver.host``,
``spark.driver.bindAddress``). Under ``spark-submit`` the master and addresses come from
the submission and nothing is overridden but the batch size.
"""

from __future__ import annotations

import os
import sys
import warnings

LOOPBACK = "127.0.0.1"
DEFAULT_MASTER = "local[*]"
BATCH_ROWS_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
# pyspark 4.3 warns on every pandas/Arrow helper it loads while pandas >= 3 is installed;
# the project's Arrow paths (mapInArrow, toArrow) do not go through pandas.
PANDAS_WARNING = r"PySpark does not yet fully support pandas >= 3"


def quiet_pandas_warning() -> None:
    """Ignore pyspark's pandas >= 3 FutureWarning (only that one)."""
    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)


def under_spark_submit() -> bool:
    """Whether this Python process was started by ``spark-submit`` (or ``pyspark``)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_session(
    master: str | None = None,
    *,
    app_name: str = "closure-risk",
    batch_rows: int = 10_000,
    conf: dict[str, str] | None = None,
):
    """Return the active Spark session, or start one.

    Parameters
    ----------
    master : str, optional
        Spark master URL. Default: the submission's under ``spark-submit``, else
        ``local[*]``. A ``local`` master binds the driver to 127.0.0.1 and turns the UI off.
    app_name : str
        Application name.
    batch_rows : int
        Accounts per Arrow batch handed to a task (``mapInArrow``).
    conf : dict, optional
        Extra Spark settings.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    quiet_pandas_warning()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master is None and not under_spark_submit():
        master = DEFAULT_MASTER
    if master is not None:
        builder = builder.master(master)
    settings = {
        BATCH_ROWS_CONF: str(batch_rows),
        "spark.sql.session.timeZone": "UTC",  # dates and local timestamps read as written
        # Scoring costs far more per byte than reading: smaller input splits (down to one
        # row group each) keep every core busy to the end of the job.
        "spark.sql.files.maxPartitionBytes": "32m",
    }
    if master is not None and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
        # The executors' Python is this one (a fresh venv need not be first on PATH).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings.update(
            {
                "spark.driver.host": LOOPBACK,
                "spark.driver.bindAddress": LOOPBACK,
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                # Training collects every feature row to the driver (~300 bytes a row).
                "spark.driver.maxResultSize": "0",
                "spark.driver.memory": os.environ.get("CLOSURE_RISK_SPARK_DRIVER_MEMORY", "2g"),
            }
        )
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if master is not None and master.startswith("local"):
        spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set(BATCH_ROWS_CONF, str(batch_rows))  # also on a session already running
    return spark
