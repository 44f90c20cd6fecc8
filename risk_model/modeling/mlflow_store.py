"""A new SQLite MLflow store, created from the schema MLflow's migrations produce.

MLflow builds a new SQLite store by creating its first tables and replaying every schema
migration since (67 for mlflow 3.17.2): seconds of CPU per store, at the start of
every first training (the quick start, each test store). The schema those migrations give
is the same every time for one MLflow version, so it is recorded once, as SQL, in
``mlflow_store.sql`` beside this module (first line: the MLflow version it was recorded
with), and :func:`create_store` writes a new store from it in milliseconds. MLflow then
finds its tables at its head revision and runs no migration.

Only a store that does not exist yet is written, and only when the installed MLflow is the
recorded version; any other case is left to MLflow (which migrates as it always does). With
another MLflow version (the project accepts a range) everything works as before and only the
speed-up is lost, until the file is recorded again for that version:
``python -c 'from risk_model.modeling.mlflow_store import SCHEMA_FILE, record_schema;
SCHEMA_FILE.write_text(record_schema())'``. :func:`record_schema` gives the SQL of a store
MLflow builds itself; with the recorded version installed, a test checks that it equals the
file.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import secrets
import sqlite3
import tempfile
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("mlflow_store.sql")
_HEADER = "-- mlflow "
SQLITE_PREFIX = "sqlite:///"
_AFTER_TABLES = ("CREATE INDEX", "CREATE UNIQUE INDEX", "CREATE TRIGGER", "CREATE VIEW")
_TABLE_CONSTRAINT = re.compile(r"(CONSTRAINT|PRIMARY KEY|FOREIGN KEY|UNIQUE|CHECK)\b")


def _recorded() -> tuple[str, str] | None:
    """Return the recorded MLflow version and SQL, or None when the file is missing."""
    try:
        text = SCHEMA_FILE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    first, _, sql = text.partition("\n")
    return first.removeprefix(_HEADER).strip(), sql


def database_file(uri: str) -> Path | None:
    """Return the database file of a ``sqlite:///`` URI (its query left out), else None.

    The one reading of a store URI as a file: the registry lock beside it, the artifact
    folder beside it and a new store written here all start from it.
    """
    if not uri.startswith(SQLITE_PREFIX):
        return None
    return Path(uri.removeprefix(SQLITE_PREFIX).split("?", 1)[0])


def create_store(uri: str) -> bool:
    """Write a new SQLite store at ``uri`` from the recorded schema when it does not exist.

    Parameters
    ----------
    uri : str
        Tracking URI.

    Returns
    -------
    bool
        True when this call wrote the store; False when it is not a SQLite file URI, the
        file exists (also when another process wrote it first), or the installed MLflow is
        not the recorded version: MLflow then creates or opens the store itself.
    """
    database = database_file(uri)
    if database is None or str(database) in (".", ":memory:") or database.exists():
        return False
    recorded = _recorded()  # read only when a store is to be written
    if recorded is None:
        return False
    version, sql = recorded
    if version != importlib.metadata.version("mlflow"):
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and linked into place: a link never replaces a file,
    # so a store another process created meanwhile is kept, and none is ever seen half made.
    partial = database.with_name(f".{database.name}.new-{secrets.token_hex(4)}")
    try:
        with contextlib.closing(sqlite3.connect(partial)) as connection:
            connection.executescript(sql)
        os.link(partial, database)
    except (OSError, sqlite3.Error):
        # Another process's store is already there (FileExistsError), or this file system
        # or SQLite cannot do it: MLflow's own way still works.
        return False
    finally:
        partial.unlink(missing_ok=True)
    return True


def record_schema() -> str:
    """Return the SQL of a store built by the installed MLflow's own migrations.

    The first line names the MLflow version; the rest is :func:`dump_store` of a new store
    as MLflow initialises an empty database.
    """
    from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine_with_retry

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mlflow.db"
        engine = create_sqlalchemy_engine_with_retry(f"{SQLITE_PREFIX}{path}")
        try:
            _initialize_tables(engine)  # what MLflow runs on an empty database
        finally:
            engine.dispose()
        sql = dump_store(path)
    return f"{_HEADER}{importlib.metadata.version('mlflow')}\n{sql}"


def dump_store(database: Path) -> str:
    """Return SQLite's dump of ``database``: tables, their rows, indexes and triggers.

    Two orders vary between runs of the same migrations (they come from Python sets in
    Alembic's table rebuilds): indexes and triggers, which SQLite dumps in creation order,
    and a table's constraints. Both are sorted, so one schema gives one text.
    """
    with contextlib.closing(sqlite3.connect(database)) as connection:
        statements = list(connection.iterdump())
    later = sorted(s for s in statements if s.startswith(_AFTER_TABLES))
    tables = [
        _sorted_constraints(s) if s.startswith("CREATE TABLE") else s
        for s in statements
        if not s.startswith(_AFTER_TABLES) and s != "COMMIT;"
    ]
    return "\n".join([*tables, *later, "COMMIT;"]) + "\n"


def _sorted_constraints(create_table: str) -> str:
    """Return a CREATE TABLE statement with its columns in order, then its sorted constraints."""
    head, _, rest = create_table.partition("(")
    body, _, tail = rest.rpartition(")")
    items = [item.strip() for item in re.split(r",\s*\n", body)]
    columns = [item for item in items if not _TABLE_CONSTRAINT.match(item)]
    constraints = sorted(item for item in items if _TABLE_CONSTRAINT.match(item))
    return head + "(\n\t" + ", \n\t".join(columns + constraints) + "\n)" + tail
