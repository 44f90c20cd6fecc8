"""Score a parquet file of account histories: ``python -m pipelines.score input.parquet``.

Streams the input by batches of ``--batch-rows`` accounts (bounded memory), validates each
account against the data contract, writes the scores of the valid accounts to ``--out``
and the rejected accounts with their reasons to ``--rejects``. Account ids that occur
more than once anywhere in the file are rejected in every copy, and accounts with more
than ``--max-statements`` statements or ``--max-transactions`` transactions are rejected
before they are validated (the batch size bounds accounts, these bound one account).
Batches do not depend on the file's row groups or encodings (``pipelines._reading``).

Both outputs are written to temporary files in their folders and published together
only when both are complete: a failure (disk full, Ctrl-C, SIGTERM) leaves the previous
files as they were and no temporary file behind (``pipelines._outputs``). The input is
never overwritten, and an output path that is a directory, FIFO or device (or a symlink
to one) is refused. Output files are byte-identical for any ``--workers`` and
``--batch-rows``.

With ``--workers N`` (default: one per core) N batches are scored at once by threads of
this process, sharing the one verified model, while this thread reads the next batch.
Threads suffice because the heavy work (parquet decoding, Arrow and numpy kernels,
LightGBM) runs in native code that releases the GIL; unlike worker processes they need
no second import of the stack, no copy of each batch between processes and no second
copy of the model. At most N + 1 batches are in flight (bounded memory) and results are
written strictly in input order, so the output files do not depend on N.

Exit codes: 0 every account scored; 3 some accounts rejected (see the rejects file);
2 usage, input or output error (missing / unreadable / non-parquet file, columns that do
not meet the contract, unknown model, output path equal to the input or not a regular
file, output not writable); 130 / 143 interrupted by Ctrl-C / SIGTERM (nothing published).

Without ``--as-of`` the latest month end covered by the file is used (month end of the
latest statement month, or of the latest transaction date for accounts without statements;
never today's date), found in the first pass over the file and logged. ``--closures``
(``CLOSURES_SCHEMA``) rejects the accounts closed on or before the as-of date (``closed``).

Contract warnings (:class:`~risk_model.problems.ContractWarning`: a column or event field
whose name nearly matches a contract name, account ids equal after NFC normalisation, an
inferred or stale as-of date, many dormant accounts: :mod:`risk_model.guards`) are
logged as one WARNING line each (each near miss or twin group once), not printed as
Python warnings.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from pipelines._outputs import PairedOutputs, Terminated, terminate_raises, usable_output
from pipelines._reading import (
    InputError,
    check_columns,
    duplicated_ids,
    file_last_events,
    ignored_columns,
    numbered_batches,
    one_line,
    open_input,
    plain_ids,
    repeated_string_columns,
)
from risk_model import contract as C
from risk_model.limits import DEFAULT_LIMITS, EventLimits
from risk_model.problems import ContractWarning, IdTwinWarning, NearMissNameWarning

if TYPE_CHECKING:
    from risk_model.predict import Predictor

__all__ = [
    "InputError",
    "main",
    "numbered_batches",
    "open_input",
    "repeated_string_columns",
    "score_in_process",
    "score_in_threads",
]

LOG = logging.getLogger("pipelines.score")
# In the working directory (an installed package has no project folder to write into).
DEFAULT_OUT = Path("data/scores")
EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
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
        help="scoring date YYYY-MM-DD (default: the latest month end covered by the input; "
        "pass the extract date)",
    )
    parser.add_argument(
        "--closures",
        type=Path,
        help="closures parquet (account_id, closure_date, cause): accounts closed on or "
        "before the as-of date are rejected (closed)",
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
        "--recourse",
        action="store_true",
        help="add a recourse column: for accounts above the lowest band, the fewest actions "
        "in the holder's control that lower the band, with the new probability",
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
        "--max-statements",
        type=int,
        default=DEFAULT_LIMITS.max_statements,
        help="most statements per account; accounts above are rejected (default %(default)s)",
    )
    parser.add_argument(
        "--max-transactions",
        type=int,
        default=DEFAULT_LIMITS.max_transactions,
        help="most transactions per account; accounts above are rejected (default %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store (default MLFLOW_TRACKING_URI, else ./mlflow.db)",
    )
    spark = parser.add_argument_group("Apache Spark (pip install -e '.[spark]')")
    spark.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: this process (default); spark: tasks on a Spark cluster, outputs are "
        "parquet datasets (pipelines/_score_spark.py)",
    )
    spark.add_argument("--master", help="Spark master (default local[*], or spark-submit's)")
    spark.add_argument("--partitions", type=int, help="least number of scoring tasks")
    spark.add_argument(
        "--overwrite", action="store_true", help="replace existing Spark output datasets"
    )
    args = parser.parse_args(argv)
    if min(args.batch_rows, args.threads, args.workers) < 1:
        parser.error("--batch-rows, --threads and --workers must be >= 1")
    if min(args.max_statements, args.max_transactions) < 1:
        parser.error("--max-statements and --max-transactions must be >= 1")
    return args


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """Resolve the scores and rejects paths; refuse the input and non-regular files.

    A symlink to a regular file resolves to that file (the link is kept).
    """
    stem = args.input.name.removesuffix(".parquet")
    out = args.out or DEFAULT_OUT / f"{stem}.scores.parquet"
    base = out.name.removesuffix(".parquet").removesuffix(".scores")
    rejects = args.rejects or out.with_name(f"{base}.rejects.parquet")
    source = args.input.resolve()
    for label, path in (("--out", out), ("--rejects", rejects)):
        if path.resolve() == source:
            raise InputError(f"{label} {path} is the input file; choose another output path")
    if out.resolve() == rejects.resolve():
        raise InputError("--out and --rejects must be different files")
    return usable_output(out, "--out"), usable_output(rejects, "--rejects")


def score_batch(
    predictor,
    table: pa.Table,
    start: int,
    dups: pa.Array,
    as_of: dt.date,
    reasons: str,
    closures: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Score one batch; rejects carry file row positions."""
    found = pc.fill_null(pc.is_in(table[C.ACCOUNT_ID], value_set=dups), False)
    repeated = found.to_numpy(zero_copy_only=False).astype(bool)
    keep = np.flatnonzero(~repeated)
    # Taking rows copies every nested list: only when some account must be left out.
    kept = table.take(pa.array(keep)) if repeated.any() else table
    scores, rejects = predictor.score_table(kept, as_of, reasons=reasons, closures=closures)
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


def score_in_process(
    predictor,
    batches: Iterator[tuple[int, pa.Table]],
    dups: pa.Array,
    as_of: dt.date,
    reasons: str,
    closures: pa.Table | None = None,
) -> Iterator[Scored]:
    """Score the batches one after the other in this process."""
    for start, table in batches:
        scores, rejects = score_batch(predictor, table, start, dups, as_of, reasons, closures)
        yield table.num_rows, scores, rejects


def score_in_threads(
    predictor,
    batches: Iterator[tuple[int, pa.Table]],
    workers: int,
    dups: pa.Array,
    as_of: dt.date,
    reasons: str,
    closures: pa.Table | None = None,
) -> Iterator[Scored]:
    """Score ``workers`` batches at once in threads, at most ``workers + 1`` in flight.

    Results come back in input order; an error in any batch is raised here and the
    batches still queued are cancelled.
    """
    pending: collections.deque[tuple[int, Future]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score")
    try:
        for start, table in batches:
            future = pool.submit(
                score_batch, predictor, table, start, dups, as_of, reasons, closures
            )
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
    """Score ``args.input`` into the scores and rejects files; return the exit code."""
    from risk_model.validation import ContractError

    if args.engine == "spark":
        from pipelines._score_spark import run_spark

        return run_spark(args)
    out, rejects_path = output_paths(args)
    source = open_input(args.input)
    columns = check_columns(source)
    ignored = ignored_columns(source)
    if ignored:  # not silently: a user's extra attributes have no place in the contract yet
        LOG.info("input column(s) not in the data contract, ignored: %s", ignored)
    closures = _closures(args.closures)
    total = source.metadata.num_rows
    # Threads for a single batch would only cost.
    workers = max(1, min(args.workers, -(-total // args.batch_rows)))
    predictor, dups, last_days = _load_model(args, source)
    scale = predictor.artefact.scale  # a model older than derived edges is worth a warning
    (LOG.info if scale.band_origin else LOG.warning)("bands: %s", scale.band_note())
    if args.recourse:
        from risk_model.recourse import WithRecourse

        predictor = WithRecourse(predictor)
    as_of = _as_of(args.as_of, last_days, closures is not None)
    LOG.info(
        "scoring %s: %d accounts at %s with model %s (%d batch(es) at once)",
        args.input,
        total,
        as_of,
        predictor.model_version,
        workers,
    )
    batches = numbered_batches(source, args.batch_rows, columns, args.input)
    if workers > 1:
        results = score_in_threads(predictor, batches, workers, dups, as_of, args.reasons, closures)
    else:
        results = score_in_process(predictor, batches, dups, as_of, args.reasons, closures)
    outputs = [
        (out, _output_schema(args.recourse), "scores"),
        (rejects_path, REJECTS_SCHEMA, "rejects"),
    ]
    try:
        read, scored, rejected = _write_results(results, outputs, total)
    except (OSError, pa.ArrowException) as exc:  # reading errors are InputError already
        raise InputError(f"cannot score {args.input}: {exc}") from exc
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


def _load_model(
    args: argparse.Namespace, source: pq.ParquetFile
) -> tuple[Predictor, pa.Array, np.ndarray]:
    """Load the predictor while another thread finds the duplicated ids of the file.

    The same thread then reads each account's last event date (for the as-of guards).
    """
    limits = EventLimits(args.max_statements, args.max_transactions)
    # The duplicate-id pass (one column of the whole file) runs while the model loads.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dups") as side:
        dups_found = side.submit(_file_id_checks, source, args.input)
        last_events = side.submit(file_last_events, source, args.batch_rows)
        import pipelines._scoring_stack  # noqa: F401  (lightgbm without scikit-learn)
        from risk_model.predict import ModelLoadError, load

        try:
            predictor = load(
                args.model, tracking_uri=args.tracking_uri, num_threads=args.threads, limits=limits
            )
        except ModelLoadError as exc:
            raise InputError(str(exc).splitlines()[0]) from exc
        return predictor, dups_found.result(), last_events.result()


def _closures(path: Path | None) -> pa.Table | None:
    """Read and validate the ``--closures`` file (None without the flag)."""
    if path is None:
        return None
    from risk_model.guards import closures_table
    from risk_model.validation import ContractError

    if not path.is_file():
        raise InputError(f"--closures file not found: {path}")
    try:
        return closures_table(pq.read_table(path))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read --closures {path} as parquet: {exc}") from exc
    except ContractError as exc:
        raise InputError(one_line(exc)) from exc


def _as_of(given: dt.date | None, last_days: np.ndarray, closures: bool) -> dt.date:
    """Return the as-of date (given, or inferred from the file); the recency guards warn."""
    from risk_model.guards import resolve_as_of

    try:
        return resolve_as_of(None, given, closures_given=closures, last_days=last_days)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _file_id_checks(source: pq.ParquetFile, path: Path) -> pa.Array:
    """Return the ids repeated in the file; warn about NFC twin ids anywhere in it.

    Validation warns about twins within one batch only; twins in different batches are
    found here, on the whole id column.
    """
    dups = duplicated_ids(source, path)
    from risk_model._names import id_text_checks

    try:
        ids = plain_ids(source.read(columns=[C.ACCOUNT_ID])[C.ACCOUNT_ID])
    except (OSError, pa.ArrowException):
        return dups  # the batches report a file that cannot be read
    if pa.types.is_string(ids.type):
        # Invisible ids are reported per account by validation: only the twins here.
        id_text_checks(pa.table({C.ACCOUNT_ID: ids}), lambda *problem: None)
    return dups


def _write_results(
    results: Iterator[Scored], outputs: list[tuple[Path, pa.Schema, str]], total: int
) -> tuple[int, int, int]:
    """Write every batch's scores and rejects; publish both files only at the end."""
    read = scored = rejected = 0
    with contextlib.ExitStack() as stack:
        # Closed on any error: cancels the batches still queued for the threads.
        results = stack.enter_context(contextlib.closing(results))
        files = stack.enter_context(PairedOutputs(outputs))
        bar = stack.enter_context(tqdm(total=total, unit="acct", file=sys.stderr, mininterval=1.0))
        for rows, scores, rejects in results:
            files.write(scores, rejects)
            read += rows
            scored += scores.num_rows
            rejected += rejects.num_rows
            bar.update(rows)
    return read, scored, rejected


def _output_schema(recourse: bool = False) -> pa.Schema:
    from risk_model.predict import OUTPUT_SCHEMA
    from risk_model.recourse import WithRecourse

    return WithRecourse.schema(OUTPUT_SCHEMA) if recourse else OUTPUT_SCHEMA


def warning_lines(warning: Warning) -> list[str]:
    """Return one log line per finding of a contract warning.

    Parameters
    ----------
    warning : Warning
        A :class:`~risk_model.problems.ContractWarning` instance.

    Returns
    -------
    list of str
        One line per near-miss name (name found, contract name, fix), one per group of
        NFC twin ids (the ids, written with escapes so the twins look different, and the
        fix), or the warning's text on one line for any other contract warning.
    """
    if isinstance(warning, NearMissNameWarning):
        return [f"near-miss name: {miss.describe()}" for miss in warning.near_misses]
    if isinstance(warning, IdTwinWarning):
        return [
            "account ids equal after Unicode NFC normalisation: "
            + " / ".join(ascii(i) for i in group)
            + "; both are scored. Fix: normalise ids to NFC where they are written"
            for group in warning.groups
        ]
    return [one_line(warning)]


class _ContractWarningLog:
    """A ``warnings.showwarning`` that logs contract warnings, each line once.

    Validation runs once on the file's schema and once per batch (in scoring threads), so
    the same finding can be warned more than once; it is logged the first time. Other
    warnings go to the previous ``showwarning``.
    """

    def __init__(self, previous: Callable[..., None]) -> None:
        self._previous = previous
        self._seen: set[str] = set()
        self._twins: set[str] = set()  # ids already logged in a twin group
        self._lock = threading.Lock()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        if not (isinstance(category, type) and issubclass(category, ContractWarning)):
            self._previous(message, category, filename, lineno, file, line)
            return
        if not isinstance(message, Warning):  # warned with a text: no findings to list
            message = ContractWarning(str(message))
        if isinstance(message, IdTwinWarning):  # the file's groups come before a batch's
            with self._lock:
                fresh = [g for g in message.groups if not self._twins.issuperset(g)]
                self._twins.update(i for g in fresh for i in g)
            message = IdTwinWarning(fresh)
        for text in warning_lines(message):
            with self._lock:
                if text in self._seen:
                    continue
                self._seen.add(text)
            LOG.warning("%s", text)


@contextlib.contextmanager
def contract_warnings_logged() -> Iterator[None]:
    """Log contract warnings (from any thread) as WARNING lines while the block runs."""
    with warnings.catch_warnings():
        # "always": every batch's warnings reach the log (which drops repeats), and a
        # -W error or ignore setting neither turns them into a traceback nor hides them.
        warnings.simplefilter("always", ContractWarning)
        warnings.showwarning = _ContractWarningLog(warnings.showwarning)
        yield


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (see the module docstring)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return int(exc.code or 0)
    try:
        with terminate_raises(), contract_warnings_logged():
            return run(args)
    except InputError as exc:
        print(f"score: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("score: interrupted; no output published", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("score: terminated (SIGTERM); no output published", file=sys.stderr)
        return EXIT_TERMINATED


if __name__ == "__main__":
    raise SystemExit(main())
