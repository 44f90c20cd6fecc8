"""Score account histories on Apache Spark: ``python -m pipelines.score IN --engine spark``.

The same steps as one machine (``pipelines.score``), each on the whole input:

* the input's columns are checked as one machine checks them (same messages, near-miss
  warnings); ids that occur more than once anywhere are found by a Spark aggregation and
  NFC twin ids from the few non-ASCII ids; each account's last event date is read on the
  executors (:func:`risk_model.guards.last_event_days`) for the as-of inference and the
  recency guards;
* the model is verified on the driver and shipped once (:mod:`risk_model.spark.shipping`);
* :func:`score_dataframe`: ``mapInArrow`` hands each task Arrow batches of accounts (the
  contract's nested columns intact) and each batch goes through one machine's
  :func:`pipelines.score.score_batch` (duplicates, limits, validation, closed and not-open
  accounts, :meth:`~risk_model.predict.Predictor.score_table`), so scores, reasons and
  rejects are one machine's; a reject's ``row`` is its row in the input (file order);
* scores and rejects are written as parquet datasets (folders) to hidden temporary folders
  beside their targets, counted from the written data (read = scored + rejected) and only
  then published, both together; an existing output is refused unless ``--overwrite``
  (kept until the new pair is in place, then deleted).

Paths are Spark paths: local paths in local mode, or any file system Spark reads
(``hdfs://namenode/...``, ``s3a://bucket/...``) under ``spark-submit``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import logging
import re
import time
import unicodedata
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from pipelines._reading import InputError, check_columns, open_input, plain_ids
from pipelines.score import (
    DEFAULT_OUT,
    EXIT_OK,
    EXIT_REJECTED,
    REJECTS_SCHEMA,
    _as_of,
    _closures,
    score_batch,
)
from risk_model import contract as C
from risk_model.limits import EventLimits
from risk_model.problems import ContractWarning
from risk_model.scores import OUTPUT_SCHEMA

LOG = logging.getLogger("pipelines.score")
ROW = "__row"  # the input row of each account, carried through the tasks
REASON = "reason"


# One row per account out of a task.
def union_schema(scores: pa.Schema = OUTPUT_SCHEMA) -> pa.Schema:
    """Return the schema of task rows: a score (reason null) or a reject (reason set)."""
    return pa.schema([*scores, pa.field("row", pa.int64()), pa.field(REASON, pa.string())])


UNION_SCHEMA = union_schema()
_SCHEME = re.compile(r"^([A-Za-z][\w+.-]*):/(?!/)")


def spark_path(path: Path | str) -> str:
    """Return the path for Spark (``Path`` folds ``hdfs://nn/x`` into ``hdfs:/nn/x``)."""
    text = str(path)
    match = _SCHEME.match(text)
    if match and match.group(1) != "file":
        return f"{match.group(1)}://{text[match.end() :]}"
    return text


def _is_local(text: str) -> bool:
    return not _SCHEME.match(text) and "://" not in text


# ---------------------------------------------------------------------------- the input


def read_histories(spark, path: str):
    """Read the histories (a parquet file or dataset) with each account's input row.

    Returns
    -------
    pyspark.sql.DataFrame
        The contract's columns present in the input and :data:`ROW` (file order; for a
        dataset of several files, files in path order).
    """
    from pyspark.sql import functions as F

    try:
        df = spark.read.parquet(path)
    except Exception as exc:  # AnalysisException: missing path, not parquet
        raise InputError(f"cannot read {path} as parquet: {_first_line(exc)}") from exc
    _check_schema(df, path)
    wanted = [f.name for f in C.PROFILE_FIELDS] + list(C.OPTIONAL_COLUMNS)
    columns = [name for name in wanted if name in df.columns]
    index = F.col("_metadata.row_index")
    counts = dict(df.select(F.col("_metadata.file_path").alias("f")).groupBy("f").count().collect())
    if len(counts) <= 1:
        row = index
    else:  # a dataset: rows numbered through its files in path order
        offsets, start = [], 0
        for name in sorted(counts):
            offsets += [F.lit(name), F.lit(start)]
            start += counts[name]
        row = F.create_map(*offsets)[F.col("_metadata.file_path")] + index
    return df.select(*columns, row.cast("long").alias(ROW))


def _check_schema(df, path: str) -> None:
    """One machine's column check (:func:`pipelines._reading.check_columns`) on Spark's schema."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        schema = to_arrow_schema(df.schema)
    except Exception as exc:  # a type Arrow has no match for
        raise InputError(f"cannot read {path}: {_first_line(exc)}") from exc
    check_columns(SimpleNamespace(schema_arrow=schema))


def duplicated_ids(df) -> pa.Array:
    """Account ids that occur more than once in the whole input (a Spark aggregation)."""
    from pyspark.sql import functions as F

    found = df.groupBy(C.ACCOUNT_ID).count().filter(F.col("count") > 1).select(C.ACCOUNT_ID)
    return pa.array([r[0] for r in found.collect()], pa.string())


def warn_id_twins(df) -> None:
    """Warn about ids equal after NFC normalisation anywhere in the input.

    Only non-ASCII ids can have a twin (an ASCII id is its own NFC form, and is a twin only
    of a non-ASCII id whose NFC form it is), so only those few ids reach the driver, where
    one machine's check (:func:`risk_model._names.id_text_checks`) runs on them.
    """
    from pyspark.sql import functions as F

    from risk_model._names import id_text_checks

    ids = F.col(C.ACCOUNT_ID)
    wide = [r[0] for r in df.select(ids).filter(ids.rlike("[^\\x00-\\x7F]")).distinct().collect()]
    if not wide:
        return
    forms = sorted({unicodedata.normalize("NFC", i) for i in wide} - set(wide))
    plain = [r[0] for r in df.select(ids).filter(ids.isin(forms)).distinct().collect()]
    id_text_checks(pa.table({C.ACCOUNT_ID: pa.array(wide + plain, pa.string())}), _ignore)


def _ignore(*problem) -> None:
    """Account problems are reported per batch by validation; only the warning is wanted."""


def _last_days_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from risk_model.guards import last_event_days

    for batch in batches:
        days = last_event_days(pa.Table.from_batches([batch]))
        values = pa.array(days.astype("datetime64[D]"), pa.date32())
        yield pa.RecordBatch.from_arrays([values], names=["last"])


def last_event_days(df) -> np.ndarray:
    """Each account's last event date (:func:`risk_model.guards.last_event_days`), all input.

    Only the statement months and transaction times are read (nested schema pruning).
    """
    from pyspark.sql import functions as F

    dated = []
    if C.STATEMENTS in df.columns:
        dated.append(
            F.expr(
                f"transform({C.STATEMENTS}, s -> named_struct("
                f"'{C.STATEMENT_MONTH}', s.{C.STATEMENT_MONTH}))"
            ).alias(C.STATEMENTS)
        )
    if C.TRANSACTIONS in df.columns:
        dated.append(
            F.expr(f"transform({C.TRANSACTIONS}, t -> named_struct('{C.TS}', t.{C.TS}))").alias(
                C.TRANSACTIONS
            )
        )
    if not dated:
        return np.full(df.count(), np.datetime64("NaT"), dtype="datetime64[D]")
    table = df.select(*dated).mapInArrow(_last_days_task, "last date").toArrow()
    days = table["last"].to_numpy(zero_copy_only=False)
    return np.asarray(days, dtype="datetime64[D]")


# ---------------------------------------------------------------------------- scoring


def _ipc(table: pa.Table | None) -> bytes | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes | None) -> pa.Table | None:
    return None if data is None else pa.ipc.open_stream(data).read_all()


def _union(scores: pa.Table, rejects: pa.Table, rows: np.ndarray) -> pa.Table:
    """Scores and rejects of one batch as :func:`union_schema` rows (input rows mapped)."""
    schema = union_schema(scores.schema)
    n = rejects.num_rows
    reject_columns = []
    for field in schema:
        if field.name == C.ACCOUNT_ID:
            reject_columns.append(rejects[C.ACCOUNT_ID])
        elif field.name == "row":
            reject_columns.append(pa.array(rows[rejects["row"].to_numpy()], pa.int64()))
        elif field.name == REASON:
            reject_columns.append(rejects[REASON])
        else:
            reject_columns.append(pa.nulls(n, field.type))
    m = scores.num_rows
    score_columns = [*scores.columns, pa.nulls(m, pa.int64()), pa.nulls(m, pa.string())]
    return pa.concat_tables(
        [
            pa.Table.from_arrays(score_columns, schema=schema),
            pa.Table.from_arrays(reject_columns, schema=schema),
        ]
    )


def _score_task(
    batches: Iterator[pa.RecordBatch],
    *,
    shipped,
    limits: EventLimits,
    threads: int,
    as_of: dt.date,
    reasons: str,
    dups,
    closures,
    recourse: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Score a task's batches with one machine's :func:`pipelines.score.score_batch`."""
    # Before the predictor's import, as in the scoring command: lightgbm without
    # scikit-learn (a Python worker then starts in about half the CPU).
    import pipelines._scoring_stack  # noqa: F401
    from risk_model.spark.session import quiet_pandas_warning
    from risk_model.spark.shipping import executor_predictor

    quiet_pandas_warning()
    # The driver logged the file's contract warnings once; batches repeat them.
    warnings.simplefilter("ignore", ContractWarning)
    predictor = executor_predictor(shipped, limits=limits, num_threads=threads)
    if recourse:
        from risk_model.recourse import WithRecourse

        predictor = WithRecourse(predictor)
    repeated = pa.array(dups.value, pa.string())
    closed = _from_ipc(closures.value)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        rows = table[ROW].to_numpy()
        table = table.drop_columns([ROW])
        index = table.schema.get_field_index(C.ACCOUNT_ID)
        table = table.set_column(index, C.ACCOUNT_ID, plain_ids(table[C.ACCOUNT_ID]))
        scores, rejects = score_batch(predictor, table, 0, repeated, as_of, reasons, closed)
        yield from _union(scores, rejects, rows).to_batches()


def score_dataframe(
    df,
    shipped,
    as_of: dt.date,
    *,
    reasons: str = "needed",
    closures: pa.Table | None = None,
    dups: pa.Array | None = None,
    limits: EventLimits | None = None,
    threads: int = 1,
    recourse: bool = False,
):
    """Score a Spark DataFrame of account histories on the executors.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Histories in the contract's nested form with :data:`ROW` (:func:`read_histories`).
    shipped : ShippedModel
        The verified model (:func:`risk_model.spark.shipping.ship_model`).
    as_of : datetime.date
        Scoring date.
    reasons : {"needed", "all", "none"}
        Which accounts get reasons.
    closures : pyarrow.Table, optional
        Validated closures: accounts closed on or before ``as_of`` are rejected.
    dups : pyarrow.Array, optional
        Ids to reject as duplicated (default: found here, :func:`duplicated_ids`).
    limits : EventLimits, optional
        Most statements / transactions per account.
    threads : int
        LightGBM threads per task.
    recourse : bool
        Add the ``recourse`` column (``pipelines.score --recourse``).

    Returns
    -------
    pyspark.sql.DataFrame
        :func:`union_schema`: a score per scored account (``reason`` null) and a reject
        per rejected one (``row``, ``reason``; score columns null).
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    from risk_model.limits import DEFAULT_LIMITS

    spark = df.sparkSession
    dups = duplicated_ids(df) if dups is None else dups
    task = functools.partial(
        _score_task,
        shipped=shipped,
        limits=limits or DEFAULT_LIMITS,
        threads=threads,
        as_of=as_of,
        reasons=reasons,
        dups=spark.sparkContext.broadcast(dups.to_pylist()),
        closures=spark.sparkContext.broadcast(_ipc(closures)),
        recourse=recourse,
    )
    scores = OUTPUT_SCHEMA
    if recourse:
        from risk_model.recourse import WithRecourse

        scores = WithRecourse.schema(OUTPUT_SCHEMA)
    return df.mapInArrow(task, from_arrow_schema(union_schema(scores)))


def split_union(union):
    """Split :func:`score_dataframe` output into the scores and the rejects DataFrames."""
    from pyspark.sql import functions as F

    names = [n for n in union.columns if n not in ("row", REASON)]
    scores = union.filter(F.col(REASON).isNull()).select(*names)
    rejects = union.filter(F.col(REASON).isNotNull()).select(*REJECTS_SCHEMA.names)
    return scores, rejects


# ---------------------------------------------------------------------------- outputs


class _FileSystem:
    """Hadoop file-system calls (any file system Spark writes to)."""

    def __init__(self, spark) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, text: str):
        path = self._jvm.org.apache.hadoop.fs.Path(text)
        return path, path.getFileSystem(self._conf)

    def exists(self, text: str) -> bool:
        path, fs = self._path(text)
        return bool(fs.exists(path))

    def rename(self, source: str, target: str) -> None:
        path, fs = self._path(source)
        if not fs.rename(path, self._path(target)[0]):
            raise OSError(f"cannot rename {source} to {target}")

    def delete(self, text: str) -> None:
        path, fs = self._path(text)
        fs.delete(path, True)


def output_paths(args: argparse.Namespace) -> tuple[str, str]:
    """Scores and rejects dataset paths (defaults as one machine's); refuse clashes."""
    stem = args.input.name.removesuffix(".parquet")
    out = args.out or DEFAULT_OUT / f"{stem}.scores.parquet"
    base = out.name.removesuffix(".parquet").removesuffix(".scores")
    rejects = args.rejects or out.with_name(f"{base}.rejects.parquet")
    source = spark_path(args.input)
    texts = []
    for label, path in (("--out", out), ("--rejects", rejects)):
        text = spark_path(path)
        if _is_local(text):
            text = str(Path(text).resolve())
            if _is_local(source) and Path(text) == Path(source).resolve():
                raise InputError(f"{label} {path} is the input; choose another output path")
        elif text == source:
            raise InputError(f"{label} {path} is the input; choose another output path")
        texts.append(text)
    if texts[0] == texts[1]:
        raise InputError("--out and --rejects must be different paths")
    return texts[0], texts[1]


def _refuse_existing(fs: _FileSystem, paths: list[tuple[str, str]], overwrite: bool) -> None:
    if overwrite:
        return
    for label, path in paths:
        if fs.exists(path):
            raise InputError(f"{label} {path} exists; pass --overwrite to replace it")


def write_outputs(spark, union, out: str, rejects: str, *, overwrite: bool) -> tuple[int, int]:
    """Write scores and rejects datasets, then publish both; return (scored, rejected).

    Both are written to hidden folders beside their targets (``.<name>.tmp-<token>``) and
    counted from the written files; only then are existing targets moved aside
    (``--overwrite``), the new folders renamed into place and the old ones deleted. A
    failure before the renames leaves the targets as they were; one between them puts
    the old targets back.
    """
    from pyspark import StorageLevel

    fs = _FileSystem(spark)
    _refuse_existing(fs, [("--out", out), ("--rejects", rejects)], overwrite)
    token = uuid.uuid4().hex[:12]

    def beside(path: str, what: str) -> str:
        head, _, name = path.rstrip("/").rpartition("/")
        return f"{head}/.{name}.{what}-{token}"

    staged = {out: beside(out, "tmp"), rejects: beside(rejects, "tmp")}
    backups = {out: beside(out, "old"), rejects: beside(rejects, "old")}
    union = union.persist(StorageLevel.DISK_ONLY)  # scored once, written twice
    try:
        scores, rejected = split_union(union)
        scores.write.parquet(staged[out])
        rejected.write.parquet(staged[rejects])
        counts = tuple(spark.read.parquet(staged[p]).count() for p in (out, rejects))
        _publish(fs, staged, backups, overwrite)
    finally:
        union.unpersist()
        for path in (*staged.values(), *backups.values()):
            if fs.exists(path):
                fs.delete(path)
    return counts


def _publish(fs: _FileSystem, staged: dict, backups: dict, overwrite: bool) -> None:
    moved, placed = [], []
    try:
        for target, new in staged.items():
            if fs.exists(target):
                if not overwrite:  # appeared while scoring
                    raise InputError(f"{target} exists; pass --overwrite to replace it")
                fs.rename(target, backups[target])
                moved.append(target)
            fs.rename(new, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            fs.delete(target)
        for target in moved:
            fs.rename(backups[target], target)
        raise


# ---------------------------------------------------------------------------- the command


def _first_line(error: BaseException) -> str:
    """Describe a Spark or Python error raised by a job in one line."""
    text = str(error)
    python = re.findall(r"^\s*([\w.]+(?:Error|Exception)): (.+)$", text, flags=re.MULTILINE)
    if python:
        kind, message = python[-1]
        return f"{kind.rsplit('.', 1)[-1]}: {message.strip()}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def run_spark(args: argparse.Namespace) -> int:
    """Score ``args.input`` on Spark into scores and rejects datasets; return the exit code."""
    from risk_model.spark.session import get_session
    from risk_model.spark.shipping import model_error, ship_model

    source = spark_path(args.input)
    if _is_local(source) and Path(source).is_file():
        check_columns(open_input(Path(source)))  # one machine's checks and messages
    elif _is_local(source) and not Path(source).exists():
        raise InputError(f"input file not found: {args.input}")
    out, rejects_path = output_paths(args)
    closures = _closures(args.closures)
    spark = get_session(args.master, batch_rows=args.batch_rows)
    fs = _FileSystem(spark)
    _refuse_existing(fs, [("--out", out), ("--rejects", rejects_path)], args.overwrite)
    try:
        shipped = ship_model(spark, args.model, tracking_uri=args.tracking_uri)
    except Exception as exc:
        from risk_model.predict import ModelLoadError

        if isinstance(exc, ModelLoadError):
            raise InputError(str(exc).splitlines()[0]) from exc
        raise
    df = read_histories(spark, source)
    began = time.perf_counter()
    try:
        last_days = last_event_days(df)  # one per account: also the count
        total = len(last_days)
        dups = duplicated_ids(df)
        warn_id_twins(df)
        as_of = _as_of(args.as_of, last_days, closures is not None)
        parts = df.rdd.getNumPartitions()
        wanted = args.partitions or spark.sparkContext.defaultParallelism
        scored_df = df
        if parts < wanted:  # e.g. one row group: only one task would score
            scored_df, parts = df.repartition(wanted), wanted
        LOG.info(
            "scoring %s on Spark (%s, %d partitions): %d accounts at %s with model %s "
            "(input checks %.1f s)",
            args.input,
            spark.sparkContext.master,
            parts,
            total,
            as_of,
            shipped.version,
            time.perf_counter() - began,
        )
        began = time.perf_counter()
        union = score_dataframe(
            scored_df,
            shipped,
            as_of,
            reasons=args.reasons,
            closures=closures,
            dups=dups,
            limits=EventLimits(args.max_statements, args.max_transactions),
            threads=args.threads,
            recourse=getattr(args, "recourse", False),
        )
        scored, rejected = write_outputs(spark, union, out, rejects_path, overwrite=args.overwrite)
    except InputError:
        raise
    except Exception as exc:  # a failed Spark job (Ctrl-C and SIGTERM are not Exceptions)
        message = model_error(exc)
        if message is not None:
            raise InputError(message) from exc
        raise InputError(f"cannot score {args.input}: {_first_line(exc)}") from exc
    if total != scored + rejected:  # pragma: no cover - accounting guard
        raise RuntimeError(f"lost accounts: read {total}, scored {scored}, rejected {rejected}")
    LOG.info(
        "scored and written in %.1f s; read %d = scored %d + rejected %d (counted in the "
        "written data); scores: %s; rejects: %s",
        time.perf_counter() - began,
        total,
        scored,
        rejected,
        out,
        rejects_path,
    )
    return EXIT_REJECTED if rejected else EXIT_OK


__all__ = [
    "ROW",
    "UNION_SCHEMA",
    "duplicated_ids",
    "last_event_days",
    "read_histories",
    "run_spark",
    "score_dataframe",
    "split_union",
    "write_outputs",
]
