import importlib.metadata

import pytest
from forked import run_forked
from mlflow.store.db.utils import (
    _all_tables_exist,
    _get_latest_schema_revision,
    _get_schema_version,
    create_sqlalchemy_engine_with_retry,
)
from mlflow.tracking import MlflowClient

from risk_model.modeling import mlflow_store as M

REWRITE = (
    "python -c 'from risk_model.modeling.mlflow_store import SCHEMA_FILE, record_schema; "
    "SCHEMA_FILE.write_text(record_schema())'"
)
RECORDED_VERSION, _ = M._recorded()  # the shipped file's MLflow version


# One of MLflow's migration files (a module outside mlflow.*, so pyproject's filter misses
# it) configures SQLAlchemy mappers that use the deprecated ``noload``.
@pytest.fixture(scope="module")
def schema_now(tmp_path_factory):
    """The schema of the installed MLflow, recorded now (whatever its version)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The ``noload`` loader strategy", DeprecationWarning)
        text = M.record_schema()
    path = tmp_path_factory.mktemp("schema") / "mlflow_store.sql"
    path.write_text(text)
    return path


@pytest.fixture
def recorded_now(schema_now, monkeypatch):
    """create_store reads the schema recorded now: the mechanism under any MLflow version."""
    monkeypatch.setattr(M, "SCHEMA_FILE", schema_now)
    return schema_now


def _works(uri: str) -> None:
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("e"))
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_the_shipped_schema_is_the_installed_mlflows_or_is_not_used(schema_now, tmp_path):
    database = tmp_path / "mlflow.db"
    if importlib.metadata.version("mlflow") == RECORDED_VERSION:
        assert M.SCHEMA_FILE.read_text() == schema_now.read_text(), f"MLflow changed: {REWRITE}"
        assert M.create_store(f"sqlite:///{database}")
    else:  # another MLflow in the accepted range: MLflow builds the store, as it always did
        assert not M.create_store(f"sqlite:///{database}")
        assert not database.exists()
    _works(f"sqlite:///{database}")


def test_a_new_store_is_written_at_mlflows_head_revision_and_used(recorded_now, tmp_path):
    database = tmp_path / "sub" / "mlflow.db"
    uri = f"sqlite:///{database}"
    assert M.create_store(uri)
    assert M.dump_store(database) == M._recorded()[1]  # the schema recorded now
    engine = create_sqlalchemy_engine_with_retry(uri)
    try:  # what MLflow checks before it would migrate, and before it opens the store
        assert _all_tables_exist(engine)
        assert _get_schema_version(engine) == _get_latest_schema_revision()
    finally:
        engine.dispose()
    _works(uri)
    assert not list(tmp_path.glob("sub/.mlflow.db.new-*"))  # no partial file left behind


def test_an_existing_file_is_left_to_mlflow(recorded_now, tmp_path):
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"")
    assert not M.create_store(f"sqlite:///{database}")
    assert database.read_bytes() == b""


@pytest.mark.parametrize("uri", ["sqlite:///:memory:", "sqlite://", "http://127.0.0.1:5000"])
def test_other_stores_are_left_to_mlflow(recorded_now, uri):
    assert not M.create_store(uri)


def test_a_schema_recorded_by_another_mlflow_version_is_not_used(
    recorded_now, tmp_path, monkeypatch
):
    other = tmp_path / "schema.sql"
    other.write_text(recorded_now.read_text().replace(importlib.metadata.version("mlflow"), "0"))
    monkeypatch.setattr(M, "SCHEMA_FILE", other)
    assert not M.create_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not (tmp_path / "mlflow.db").exists()


def test_processes_racing_to_create_one_store_leave_one_store(recorded_now, tmp_path):
    database = tmp_path / "race.db"
    setup = (
        "from pathlib import Path\n"
        "from risk_model.modeling import mlflow_store\n"
        f"mlflow_store.SCHEMA_FILE = Path({str(recorded_now)!r})\n"
    )
    body = f"print(mlflow_store.create_store({f'sqlite:///{database}'!r}))\n"
    done = run_forked(setup, [body] * 4, tmp_path / "racers", timeout=60)
    assert all(p.returncode == 0 for p in done), [p.stderr[-2000:] for p in done]
    assert sorted(p.stdout.strip() for p in done) == ["False", "False", "False", "True"]
    assert M.dump_store(database) == M._recorded()[1]  # the schema recorded now
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
