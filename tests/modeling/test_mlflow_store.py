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


# One of MLflow's migration files (a module outside mlflow.*, so pyproject's filter misses
# it) configures SQLAlchemy mappers that use the deprecated ``noload``.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
def test_the_recorded_schema_is_what_the_installed_mlflow_migrates_to():
    assert M.SCHEMA_FILE.read_text() == M.record_schema(), f"MLflow changed: run {REWRITE}"


def test_a_new_store_is_written_at_mlflows_head_revision_and_used(tmp_path):
    database = tmp_path / "sub" / "mlflow.db"
    uri = f"sqlite:///{database}"
    assert M.create_store(uri)
    recorded = M.SCHEMA_FILE.read_text().partition("\n")[2]
    assert M.dump_store(database) == recorded
    engine = create_sqlalchemy_engine_with_retry(uri)
    try:  # what MLflow checks before it would migrate, and before it opens the store
        assert _all_tables_exist(engine)
        assert _get_schema_version(engine) == _get_latest_schema_revision()
    finally:
        engine.dispose()
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("e"))
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    assert not list(tmp_path.glob("sub/.mlflow.db.new-*"))  # no partial file left behind


def test_an_existing_file_is_left_to_mlflow(tmp_path):
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"")
    assert not M.create_store(f"sqlite:///{database}")
    assert database.read_bytes() == b""


@pytest.mark.parametrize("uri", ["sqlite:///:memory:", "sqlite://", "http://127.0.0.1:5000"])
def test_other_stores_are_left_to_mlflow(uri):
    assert not M.create_store(uri)


def test_a_schema_recorded_by_another_mlflow_version_is_not_used(tmp_path, monkeypatch):
    other = tmp_path / "schema.sql"
    other.write_text(M.SCHEMA_FILE.read_text().replace(importlib.metadata.version("mlflow"), "0"))
    monkeypatch.setattr(M, "SCHEMA_FILE", other)
    assert not M.create_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not (tmp_path / "mlflow.db").exists()


def test_processes_racing_to_create_one_store_leave_one_store(tmp_path):
    database = tmp_path / "race.db"
    setup = "from risk_model.modeling.mlflow_store import create_store\n"
    body = f"print(create_store({f'sqlite:///{database}'!r}))\n"
    done = run_forked(setup, [body] * 4, tmp_path / "racers", timeout=60)
    assert all(p.returncode == 0 for p in done), [p.stderr[-2000:] for p in done]
    assert sorted(p.stdout.strip() for p in done) == ["False", "False", "False", "True"]
    assert M.dump_store(database) == M.SCHEMA_FILE.read_text().partition("\n")[2]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
