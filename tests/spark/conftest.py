"""One Spark session for every Spark test (a JVM and Python workers cost seconds to start).

The master is ``CLOSURE_RISK_SPARK_MASTER`` (CI: ``local[2]``), default ``local[2]``; the
driver is bound to 127.0.0.1. Without pyspark (the ``spark`` extra) these tests are skipped,
except where ``CLOSURE_RISK_SPARK_MASTER`` is set (CI), where that is an error.
"""

from __future__ import annotations

import os

import pytest

MASTER = os.environ.get("CLOSURE_RISK_SPARK_MASTER", "local[2]")
# The tests' JVM lives two minutes on small data: the quick JIT compiler alone (C1) halves its
# CPU (tests/spark alone: 35-41 s against 72-76 s of JVM CPU time, twice each at load ~5),
# and the one-thread serial collector saves G1's concurrent work on a heap this small
# (a session start, two merchant tables, features and a shuffle: 22.5-25.6 s of JVM CPU
# against 30.4 s, twice each at load ~4). That is time the other xdist worker gets. Results
# do not depend on either; long jobs keep the defaults. Nor on the bytecode verifier, which
# checks each class loaded from outside the JDK once (the jars pip installed; a session start
# and one aggregation load 11,000 of them): without it a session start and one aggregation
# took 9.5 / 8.3 / 10.6 s of JVM CPU against 12.0 / 12.1 / 11.1 s, the features engine's jobs
# and a Spark scoring run 23.0 / 22.9 / 21.1 s against 27.5 / 24.0 / 23.9 s (alternately,
# load 3-7). Malformed bytecode would fail verification; the verifier changes nothing else.
# Metaspace (class metadata) starts at 200 MB: below it, the classes a run loads trigger four
# full collections of the heap as metaspace grows (the features engine's jobs and a Spark
# scoring run: five full collections and 0.92-0.96 s of GC pauses, 0 and 0.61-0.74 s with it;
# 18.8 s of JVM CPU on average against 20.0 s, five pairs, load 1-3.5).
TEST_JVM = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
    "-XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote -XX:MetaspaceSize=200m"
}

collect_ignore_glob: list[str] = []
try:
    import pyspark  # noqa: F401
except ImportError:  # pragma: no cover - the extra is not installed
    if "CLOSURE_RISK_SPARK_MASTER" in os.environ:
        raise
    collect_ignore_glob = ["test_*.py"]  # pip install -e ".[spark]" to run them


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fails_a_task: makes a Spark task fail on purpose (runs after the others)"
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/spark/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.spark)
    # A Python worker whose task fails exits, and the next Python task starts a new one that
    # imports the scoring stack again (~2.5 s of CPU): the tests that fail a task run after
    # every other Spark test, when no task needs a worker any more. A stable sort: the
    # others keep their order, and tests/conftest.py's grouping keeps this one.
    items.sort(key=lambda item: item.get_closest_marker("fails_a_task") is not None)


@pytest.fixture(scope="session")
def spark():
    """The shared session (loopback, small batches so a test file spans several batches)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from risk_model.spark.session import get_session

    session = get_session(MASTER, app_name="closure-risk-tests", conf=TEST_JVM)
    conf = session.sparkContext.getConf()
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    yield session
    session.stop()
