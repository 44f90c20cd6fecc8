"""Worker processes for ``python -m pipelines.score --workers N`` (N > 1).

Workers are forked from a fork server that imported the scoring modules once (never
from the scoring process itself, whose OpenMP runtime may be in use: forking that
hangs). Each loads the model from the verified artefact directory, never from a pickle,
and scores whole batches; batches and results travel as Arrow tables. At most N + 1
batches are in flight and results come back in input order.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import multiprocessing.forkserver
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa

from pipelines.score import InputError, Scored, one_line, score_batch, score_in_process

# Worker processes: the predictor and run settings, set once by the pool initializer.
_WORKER: dict[str, object] = {}
# Imported once by the fork server; not pipelines.score itself, which may be __main__.
_WORKER_MODULES = ["risk_model.predict", "risk_model.features", "lightgbm"]


def _init_worker(
    model_dir: str, version: str, threads: int, dups: pa.Array, as_of: dt.date, reasons: str
) -> None:
    from risk_model.predict import load

    predictor = load(model_dir, num_threads=threads)  # verifies the checksums again
    if predictor.model_version != version:
        raise RuntimeError(f"worker loaded model {predictor.model_version}, expected {version}")
    _WORKER.update(predictor=predictor, dups=dups, as_of=as_of, reasons=reasons)


def _score_in_worker(table: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
    from risk_model.validation import ContractError

    w = _WORKER
    try:
        return score_batch(w["predictor"], table, start, w["dups"], w["as_of"], w["reasons"])
    except ContractError as exc:  # sent back as a plain one-line error (always picklable)
        raise InputError(one_line(exc)) from None


@contextlib.contextmanager
def artefact_dir(artefact) -> Iterator[Path]:
    """Yield the verified artefact's directory (a temporary copy when it was downloaded)."""
    from risk_model.modeling.artefact import save_artefact

    if artefact.path is not None and Path(artefact.path).is_dir():
        yield Path(artefact.path)
        return
    with tempfile.TemporaryDirectory(prefix="closure-risk-score-") as tmp:
        yield save_artefact(
            Path(tmp) / "artefact",
            booster=artefact.booster,
            spec=artefact.spec,
            merchant_risk=artefact.merchant_risk,
        )


def start_fork_server() -> multiprocessing.context.BaseContext:
    """Start (without waiting) the fork server the workers come from.

    It imports the scoring modules once, in parallel with whatever this process does
    next; workers are forked from it (never from this process, whose OpenMP runtime may
    be in use: forking that hangs).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # inherited by the fork server
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_MODULES)
    multiprocessing.forkserver.ensure_running()
    return context


@contextlib.contextmanager
def worker_pool(
    predictor, workers: int, threads: int, dups: pa.Array, as_of: dt.date, reasons: str
) -> Iterator[ProcessPoolExecutor]:
    """Yield a pool of ``workers`` processes, each holding its own predictor.

    Each worker loads the model from the verified artefact directory, never from a pickle.
    """
    context = start_fork_server()
    with artefact_dir(predictor.artefact) as model_dir:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(str(model_dir), predictor.model_version, threads, dups, as_of, reasons),
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def score_in_workers(
    predictor,
    batches: Iterator[tuple[int, pa.Table]],
    workers: int,
    threads: int,
    dups: pa.Array,
    as_of: dt.date,
    reasons: str,
) -> Iterator[Scored]:
    """Score the batches in worker processes, at most ``workers + 1`` in flight, in order.

    The first batch is scored in this process while the fork server starts up.
    """
    batches = iter(batches)
    yield from score_in_process(predictor, itertools.islice(batches, 1), dups, as_of, reasons)
    with worker_pool(predictor, workers, threads, dups, as_of, reasons) as pool:
        pending: collections.deque[tuple[int, Future]] = collections.deque()
        for start, table in batches:
            pending.append((table.num_rows, pool.submit(_score_in_worker, table, start)))
            del table  # the pool holds its own copy until the batch is sent
            if len(pending) > workers:
                rows, future = pending.popleft()
                yield rows, *future.result()
        while pending:
            rows, future = pending.popleft()
            yield rows, *future.result()
