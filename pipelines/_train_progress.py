"""Progress of the LightGBM fits in ``python -m pipelines.train`` (capacity search, final fit).

:class:`FitProgress` is a LightGBM callback handed to
:func:`risk_model.modeling.train.train_model`, which passes it to every fit; the library
itself shows nothing. Each fit is announced in one log line when it ends (trees kept,
selection log loss, seconds). While a fit runs, a terminal gets a tqdm counter of trees on
stderr; logs that are not a terminal get a line every ``heartbeat`` seconds instead. With
``--quiet`` the pipeline does not install it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

log = logging.getLogger("pipelines.train")


class FitProgress:
    """LightGBM callback that shows which fit runs, its trees and its selection log loss.

    Parameters
    ----------
    labels : list of str
        Name of each fit in order (e.g. ``capacity search 1/6`` ..., ``final fit``); fits
        beyond the list are called ``fit N``.
    bar : bool
        Show a tqdm counter (for a terminal); otherwise heartbeat log lines.
    heartbeat : float
        Seconds between log lines of a running fit when ``bar`` is off.
    stream : file, optional
        Where the bar goes (default ``sys.stderr``).
    mininterval : float
        Seconds between redraws of the bar.
    """

    order = 25  # LightGBM runs callbacks by ``order``: before early stopping (30) ends a fit

    def __init__(
        self,
        labels: list[str],
        *,
        bar: bool,
        heartbeat: float = 15.0,
        stream: TextIO | None = None,
        mininterval: float = 0.5,
    ) -> None:
        self.labels = labels
        self.bar = bar
        self.heartbeat = heartbeat
        self.mininterval = mininterval
        self.stream = stream
        self.fits = 0
        self._tqdm: tqdm | None = None
        self._start = self._last_line = 0.0
        self._trees = 0
        self._best = (float("inf"), 0)
        self._shape = ""

    def _label(self) -> str:
        k = self.fits - 1
        return self.labels[k] if k < len(self.labels) else f"fit {self.fits}"

    def _begin(self, params: dict[str, Any]) -> None:
        self.close()
        self.fits += 1
        self._start = self._last_line = time.perf_counter()
        self._trees, self._best = 0, (float("inf"), 0)
        shape = (
            ("max_depth", "depth {}"),
            ("num_leaves", "{} leaves"),
            ("min_data_in_leaf", ">= {} rows/leaf"),
            ("learning_rate", "learning rate {}"),
        )
        self._shape = ", ".join(text.format(params[k]) for k, text in shape if k in params)
        if self.bar:
            self._tqdm = tqdm(
                desc=self._label(),
                unit=" trees",
                file=self.stream or sys.stderr,
                mininterval=self.mininterval,
                leave=False,
            )

    def __call__(self, env: Any) -> None:
        """Record one boosting round (LightGBM callback protocol)."""
        if env.iteration == env.begin_iteration:
            self._begin(env.params)
        self._trees = env.iteration - env.begin_iteration + 1
        loss = next(
            (r[2] for r in env.evaluation_result_list or () if r[0] == "selection"), float("nan")
        )
        if loss < self._best[0]:
            self._best = (loss, self._trees)
        now = time.perf_counter()
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(f"selection log loss {loss:.5f}", refresh=False)
            self._tqdm.update(1)
        elif now - self._last_line >= self.heartbeat:
            self._last_line = now
            log.info(
                "%s: %d trees, selection log loss %.5f, %.0f s",
                self._label(),
                self._trees,
                loss,
                now - self._start,
            )

    def close(self) -> None:
        """End the current fit's display and log its outcome (idempotent)."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        if self._trees:
            loss, best = self._best
            log.info(
                "%s (%s): best selection log loss %.5f at %d trees (%d grown), %.1f s",
                self._label(),
                self._shape,
                loss,
                best,
                self._trees,
                time.perf_counter() - self._start,
            )
            self._trees = 0

    def __enter__(self) -> FitProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fit_labels(capacity_search: bool) -> list[str]:
    """Names of the fits ``train_model`` runs: the search candidates, then the final fit."""
    if not capacity_search:
        return ["fit"]
    from risk_model.modeling.capacity import candidates

    n = len(candidates())
    return [f"capacity search {k}/{n}" for k in range(1, n + 1)] + ["final fit"]


@contextmanager
def fit_progress(capacity_search: bool, *, quiet: bool) -> Iterator[list[FitProgress]]:
    """LightGBM callbacks showing the fits' progress (none when ``quiet``), closed on exit.

    A terminal (stderr) gets a tqdm counter per fit, other logs a heartbeat line.
    """
    shown = [] if quiet else [FitProgress(fit_labels(capacity_search), bar=sys.stderr.isatty())]
    try:
        yield shown
    finally:
        for progress in shown:
            progress.close()


QUIET_LOGGERS = ("pipelines", "risk_model", "mlflow")


def set_log_levels(*, quiet: bool) -> None:
    """Levels of the loggers a training writes to: warnings only when ``quiet``.

    Set on the loggers themselves, not only through ``logging.basicConfig`` (which does
    nothing when the host, e.g. a notebook, already configured logging). matplotlib's INFO
    lines (font cache, unit guesses) are never wanted.
    """
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    for name in QUIET_LOGGERS:
        if quiet:
            logging.getLogger(name).setLevel(logging.WARNING)
        elif name != "mlflow":  # mlflow sets its own level at import: leave it
            logging.getLogger(name).setLevel(logging.NOTSET)
