"""Score a parquet file of account histories: ``python -m pipelines.score input.parquet``.

Streams the input by batches of ``--batch-rows`` accounts (bounded memory), validates each
account against the data contract, writes the scores of the valid accounts to ``--out``
and the rejected accounts with their reasons to ``--rejects``. Account ids that occur
more than once anywhere in the file are rejected in every copy. Both outputs are written
to a temporary file in the target folder and moved into place only when complete; the
input is never overwritten.

With ``--workers N`` (default: one per core) N batches are scored at once by threads of
this process, sharing the one verified model, while this thread reads the next batch.
Threads suffice because the heavy work (parquet decoding, Arrow and numpy kernels,
LightGBM) runs in native code that releases the GIL; unlike worker processes they need
no second import of the stack, no copy of each batch between processes and no second
copy of the model. At most N + 1 batches are in flight (bounded memory) and results are
written strictly in input order, so the output files do not depend on N.

Exit codes: 0 every account scored; 3 some accounts rejected (see the rejects file);
2 usage or input error (missing / unreadable / non-parquet file, columns that do not
meet the contract, unknown model, output path equal to the input).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from risk_model import contract as C

LOG = logging.getLogger("pipelines.score")
ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 2, 3
REJECTS_SCHEMA = pa.schema(
    [
        pa.field(C.ACCOUNT_ID, pa.string()),
        pa.field("row", pa.int64()),
        pa.field("reason", pa.string()),
    ]
)
DUPLICATE_REASON = (
    "account_id: account id appears more than once in the file [duplicate_id]; "
    "fix: give each account one row (merge its events)"
)


class InputError(Exception):
    """A usage or input problem reported in one line (exit code 2)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.score",
        description="Score account histories (parquet, one row per account).",
        epilog="Exit codes: 0 all scored, 3 some accounts rejected, 2 usage or input error.",
    )
    parser.add_argument("input", type=Path, help="histories parquet file (data contract form)")
    parser.add_argument(
        "--model",
        help="artefact dir, models:/ or runs:/ URI, or run id "
        "(default models:/closure-risk@champion)",
    )
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="scoring date YYYY-MM-DD (default today; pass the extract date)",
    )
    parser.add_argument("--out", type=Path, help="scores parquet (default data/scores/)")
    parser.add_argument("--rejects", type=Path, help="rejected accounts parquet")
    parser.add_argument("--batch-rows", type=int, default=10_000, help="accounts per batch")
    parser.add_argument(
        "--reasons",
        choices=("needed", "all", "none"),
        default="needed",
        help="which accounts get reasons (default: above the lowest band)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="LightGBM threads per scored batch (default 1: the batches already share the cores)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="batches scored at once, by threads (default: CPU count); 1 scores in the "
        "reading thread",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store (default MLFLOW_TRACKING_URI or the project's mlflow.db)",
    )
    args = parser.parse_args(argv)
    if args.batch_rows < 1 or args.threads < 1 or args.workers < 1:
        parser.error("--batch-rows, --threads and --workers must be >= 1")
    return args


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """Resolve the scores and rejects paths and refuse any that would hit the input."""
    stem = args.input.name.removesuffix(".parquet")
    out = args.out or ROOT / "data" / "scores" / f"{stem}.scores.parquet"
    base = out.name.removesuffix(".parquet").removesuffix(".scores")
    rejects = args.rejects or out.with_name(f"{base}.rejects.parquet")
    source = args.input.resolve()
    for label, path in (("--out", out), ("--rejects", rejects)):
        if path.resolve() == source:
            raise InputError(f"{label} {path} is the input file; choose another output path")
    if out.resolve() == rejects.resolve():
        raise InputError("--out and --rejects must be different files")
    return out, rejects


def open_input(path: Path) -> pq.ParquetFile:
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a file: {path}")
    try:
        # Buffered column reads: memory follows the batch, not the (maybe huge) row group.
        source = pq.ParquetFile(path, buffer_size=8 << 20, pre_buffer=False)
        repeated = repeated_string_columns(source)
        if not repeated:
            return source
        # Reading them as dictionaries skips decoding one string per event: about 40% of
        # the read time on the default world; validation turns them back into strings.
        # The footer already parsed is handed over, not read again.
        return pq.ParquetFile(
            path,
            metadata=source.metadata,
            buffer_size=8 << 20,
            pre_buffer=False,
            read_dictionary=repeated,
        )
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"cannot read {path} as parquet (not parquet or truncated): {exc}"
        ) from exc


def repeated_string_columns(source: pq.ParquetFile) -> list[str]:
    """Parquet paths of the string columns whose values repeat across rows.

    The string fields of statements and transactions (kind, channel, merchant id and
    category) and the categorical profile strings (product version), as stored in this
    file; not the account id, which is unique.
    """
    nested = {f.name for f in (*C.STATEMENT_FIELDS, *C.TRANSACTION_FIELDS) if f.type == pa.string()}
    profile = {f.name for f in C.PROFILE_FIELDS if f.type == pa.string() and f.allowed}
    schema = source.metadata.schema
    paths = []
    for i in range(len(schema)):
        column = schema.column(i)
        parts = column.path.split(".")
        if column.physical_type != "BYTE_ARRAY":
            continue
        if (parts[0] in C.OPTIONAL_COLUMNS and parts[-1] in nested) or (
            len(parts) == 1 and parts[0] in profile
        ):
            paths.append(column.path)
    return paths


def check_columns(source: pq.ParquetFile) -> list[str]:
    """Return the contract columns to read; raise naming the fields that do not conform."""
    from risk_model.validation import ContractError, conform

    schema = source.schema_arrow
    try:
        conform(schema.empty_table())
    except ContractError as exc:
        raise InputError(one_line(exc)) from exc
    wanted = [f.name for f in C.PROFILE_FIELDS] + list(C.OPTIONAL_COLUMNS)
    return [name for name in wanted if name in schema.names]


def one_line(error: Exception) -> str:
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines)


def duplicated_ids(source: pq.ParquetFile) -> pa.Array:
    """Account ids that occur more than once in the whole file (one cheap column pass)."""
    ids = source.read(columns=[C.ACCOUNT_ID])[C.ACCOUNT_ID]
    counts = pa.table({"id": ids}).group_by("id").aggregate([([], "count_all")])
    return counts.filter(pc.greater(counts["count_all"], 1))["id"].combine_chunks()


@contextlib.contextmanager
def atomic_writer(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """Parquet writer on a temp file in the target folder, moved into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer = pq.ParquetWriter(tmp, schema)
    try:
        yield writer
        writer.close()
        os.replace(tmp, path)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)


def score_batch(
    predictor, table: pa.Table, start: int, dups: pa.Array, as_of: dt.date, reasons: str
) -> tuple[pa.Table, pa.Table]:
    """Score one batch; rejects carry file row positions."""
    found = pc.fill_null(pc.is_in(table[C.ACCOUNT_ID], value_set=dups), False)
    repeated = found.to_numpy(zero_copy_only=False).astype(bool)
    keep = np.flatnonzero(~repeated)
    # Taking rows copies every nested list: only when some account must be left out.
    kept = table.take(pa.array(keep)) if repeated.any() else table
    scores, rejects = predictor.score_table(kept, as_of, reasons=reasons)
    rejects = rejects.cast(REJECTS_SCHEMA)
    rows = keep[rejects["row"].to_numpy()] + start
    gone = np.flatnonzero(repeated)
    all_rejects = pa.table(
        {
            C.ACCOUNT_ID: pa.concat_arrays(
                [
                    rejects[C.ACCOUNT_ID].combine_chunks(),
                    table[C.ACCOUNT_ID].take(pa.array(gone)).combine_chunks().cast(pa.string()),
                ]
            ),
            "row": pa.array(np.concatenate([rows, gone + start]), pa.int64()),
            "reason": pa.concat_arrays(
                [
                    rejects["reason"].combine_chunks(),
                    pa.array([DUPLICATE_REASON] * len(gone), pa.string()),
                ]
            ),
        },
        schema=REJECTS_SCHEMA,
    ).sort_by("row")
    return scores, all_rejects


Scored = tuple[int, pa.Table, pa.Table]  # (input rows, scores, rejects) of one batch


def numbered_batches(
    source: pq.ParquetFile, batch_rows: int, columns: list[str]
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(file row of the first account, table)`` per batch, in file order."""
    start = 0
    for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
        table = pa.Table.from_batches([batch])
        yield start, table
        start += table.num_rows


def score_in_process(
    predictor, batches: Iterator[tuple[int, pa.Table]], dups: pa.Array, as_of: dt.date, reasons: str
) -> Iterator[Scored]:
    """Score the batches one after the other in this process."""
    for start, table in batches:
        scores, rejects = score_batch(predictor, table, start, dups, as_of, reasons)
        yield table.num_rows, scores, rejects


def score_in_threads(
    predictor,
    batches: Iterator[tuple[int, pa.Table]],
    workers: int,
    dups: pa.Array,
    as_of: dt.date,
    reasons: str,
) -> Iterator[Scored]:
    """Score ``workers`` batches at once in threads, at most ``workers + 1`` in flight.

    Results come back in input order; an error in any batch is raised here and the
    batches still queued are cancelled.
    """
    pending: collections.deque[tuple[int, Future]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score")
    try:
        for start, table in batches:
            future = pool.submit(score_batch, predictor, table, start, dups, as_of, reasons)
            pending.append((table.num_rows, future))
            del table
            if len(pending) > workers:
                rows, future = pending.popleft()
                yield rows, *future.result()
        while pending:
            rows, future = pending.popleft()
            yield rows, *future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(args: argparse.Namespace) -> int:
    from risk_model.validation import ContractError

    out, rejects_path = output_paths(args)
    source = open_input(args.input)
    columns = check_columns(source)
    as_of = args.as_of or dt.date.today()
    total = source.metadata.num_rows
    # Threads for a single batch would only cost.
    workers = max(1, min(args.workers, -(-total // args.batch_rows)))
    # The duplicate-id pass (one column of the whole file) runs while the model loads.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dups") as side:
        dups_found = side.submit(duplicated_ids, source)
        import pipelines._scoring_stack  # noqa: F401  (lightgbm without scikit-learn)
        from risk_model.predict import ModelLoadError, load

        try:
            predictor = load(args.model, tracking_uri=args.tracking_uri, num_threads=args.threads)
        except ModelLoadError as exc:
            raise InputError(str(exc).splitlines()[0]) from exc
    LOG.info(
        "scoring %s: %d accounts at %s with model %s (%d batch(es) at once)",
        args.input,
        total,
        as_of,
        predictor.model_version,
        workers,
    )
    read = scored = rejected = 0
    try:
        dups = dups_found.result()
        batches = numbered_batches(source, args.batch_rows, columns)
        with contextlib.ExitStack() as stack:
            if workers > 1:
                results = score_in_threads(predictor, batches, workers, dups, as_of, args.reasons)
            else:
                results = score_in_process(predictor, batches, dups, as_of, args.reasons)
            # Closed on any error: cancels the batches still queued for the threads.
            results = stack.enter_context(contextlib.closing(results))
            scores_out = stack.enter_context(atomic_writer(out, _output_schema()))
            rejects_out = stack.enter_context(atomic_writer(rejects_path, REJECTS_SCHEMA))
            bar = stack.enter_context(
                tqdm(total=total, unit="acct", file=sys.stderr, mininterval=1.0)
            )
            for rows, scores, rejects in results:
                scores_out.write_table(scores)
                rejects_out.write_table(rejects)
                read += rows
                scored += scores.num_rows
                rejected += rejects.num_rows
                bar.update(rows)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {args.input}: {exc}") from exc
    except ContractError as exc:
        raise InputError(one_line(exc)) from exc
    if read != scored + rejected or read != total:  # pragma: no cover - accounting guard
        raise RuntimeError(
            f"lost accounts: read {read} of {total}, scored {scored}, rejected {rejected}"
        )
    LOG.info(
        "read %d = scored %d + rejected %d; scores: %s; rejects: %s",
        read,
        scored,
        rejected,
        out,
        rejects_path,
    )
    return EXIT_REJECTED if rejected else EXIT_OK


def _output_schema() -> pa.Schema:
    from risk_model.predict import OUTPUT_SCHEMA

    return OUTPUT_SCHEMA


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return int(exc.code or 0)
    try:
        return run(args)
    except InputError as exc:
        print(f"score: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
