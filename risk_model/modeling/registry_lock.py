"""Serialise registry updates so two trainings on one store cannot both promote.

For a SQLite store an exclusive ``fcntl.flock`` on ``<db>.registry.lock`` (beside the
database) is held from reading the champion to setting the alias; every training on this
machine sees the same file. Other stores yield without a lock and the caller does a
compare-and-set instead (re-read the champion right before setting the alias and redo
the decision if it moved).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def lock_path(uri: str) -> Path | None:
    """Lock file of a SQLite store URI, or None for other stores."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    database = Path(uri.removeprefix(SQLITE_PREFIX).split("?", 1)[0])
    return database.with_name(database.name + ".registry.lock")


@contextmanager
def registry_lock(uri: str, *, timeout: float = 900.0, poll: float = 0.1) -> Iterator[bool]:
    """Hold the store's registry lock for the enclosed block.

    Parameters
    ----------
    uri : str
        Tracking URI.
    timeout : float
        Seconds to wait for another training to release the lock (the holder downloads
        and scores the champion, which takes seconds, not minutes).
    poll : float
        Seconds between attempts.

    Yields
    ------
    bool
        True when a lock is held (SQLite), False when the caller must compare-and-set.

    Raises
    ------
    TimeoutError
        When the lock stays held by someone else for ``timeout`` seconds.
    """
    path = lock_path(uri)
    if path is None:
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"registry lock {path} held for {timeout:g} s") from None
                time.sleep(poll)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
