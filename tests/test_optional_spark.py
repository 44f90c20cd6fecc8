"""pyspark is an optional extra: the core package never imports it."""

import subprocess
import sys

CORE = (
    "risk_model.predict",
    "risk_model.features",
    "risk_model.validation",
    "risk_model.modeling.train",
    "risk_model.modeling.snapshots",
    "pipelines.score",
    "pipelines.benchmark",
)
# These import mlflow, whose mlflow.types.schema tries `import pyspark` when it is installed.
WITH_MLFLOW = ("pipelines.train", "risk_model.modeling.tracking", "risk_model.model_source")


def _run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_core_modules_do_not_import_pyspark():
    _run(
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j'))\n"
        + "assert not bad, bad\n"
        + "assert 'risk_model.spark' not in sys.modules\n"
    )


def test_the_package_works_without_pyspark():
    """With pyspark unimportable every entry point still imports (mlflow falls back too)."""
    _run(
        "import sys\nsys.modules['pyspark'] = None\n"
        + "".join(f"import {name}\n" for name in (*CORE, *WITH_MLFLOW))
        + "assert 'risk_model.spark' not in sys.modules\n"
    )


def test_spark_paths_keep_their_scheme():
    from pathlib import Path

    from pipelines._score_spark import spark_path

    assert spark_path(Path("hdfs://nn:8020/data/h.parquet")) == "hdfs://nn:8020/data/h.parquet"
    assert spark_path(Path("s3a://bucket/h")) == "s3a://bucket/h"
    assert spark_path(Path("/tmp/h.parquet")) == "/tmp/h.parquet"
    assert spark_path("file:/tmp/h.parquet") == "file:/tmp/h.parquet"


def test_model_errors_are_found_in_a_job_failure():
    from risk_model.spark.shipping import model_error

    text = (
        "An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
        '  File "x.py", line 1\n'
        "risk_model.modeling.errors.ModelLoadError: /m/model.txt: sha256: checksum mismatch\n"
    )
    assert model_error(RuntimeError(text)) == "/m/model.txt: sha256: checksum mismatch"
    assert model_error(RuntimeError("other")) is None
