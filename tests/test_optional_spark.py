"""pyspark is an optional extra: the core package never imports it."""

import pytest
from forked import run_forked

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
# Both checks import these third-party packages, none of which looks for pyspark (the first
# check would see one that imported it: the children inherit these modules). They are
# imported once, in the interpreter both checks fork from, not once per check (~2 s of CPU);
# the package, pipelines, MLflow and pyspark are imported by each check afresh.
SHARED = "import numpy, pandas, pyarrow, scipy, sklearn, lightgbm\n"

CORE_ONLY = (
    "import sys\n"
    + "".join(f"import {name}\n" for name in CORE)
    + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j'))\n"
    + "assert not bad, bad\n"
    + "assert 'risk_model.spark' not in sys.modules\n"
)
# With pyspark unimportable every entry point still imports (mlflow falls back too).
WITHOUT_PYSPARK = (
    "import sys\nsys.modules['pyspark'] = None\n"
    + "".join(f"import {name}\n" for name in (*CORE, *WITH_MLFLOW))
    + "assert 'risk_model.spark' not in sys.modules\n"
)


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    """Each check's completed process, by name (two children of one interpreter)."""
    names = ("core_only", "without_pyspark")
    done = run_forked(SHARED, [CORE_ONLY, WITHOUT_PYSPARK], tmp_path_factory.mktemp("optional"))
    return dict(zip(names, done, strict=True))


def test_core_modules_do_not_import_pyspark(checks):
    assert checks["core_only"].returncode == 0, checks["core_only"].stderr


def test_the_package_works_without_pyspark(checks):
    assert checks["without_pyspark"].returncode == 0, checks["without_pyspark"].stderr


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
