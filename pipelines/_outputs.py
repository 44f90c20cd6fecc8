"""Writing the scoring command's outputs: scores and rejects, published together or not at all.

Both files are written to temporary files beside their targets and renamed into place
only when both are complete. A target that already exists is first hard-linked (or, where
links are not supported, renamed) to a backup, so a failure of the second rename restores
the first file's previous version: a new rejects file never sits beside old scores.
Temporary files and backups are removed on every exit path, including exceptions,
Ctrl-C and SIGTERM (see :func:`terminate_raises`).

Rows are written in row groups of :data:`GROUP_ROWS` whatever the batches they came in,
so the files are byte-identical for any ``--batch-rows`` and ``--workers``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines._reading import InputError

LOG = logging.getLogger("pipelines.score")
GROUP_ROWS = 65_536  # rows per output row group: a few tens of MB of scores with reasons
_rename = os.replace  # module level, so tests can make a publishing rename fail


class OutputError(InputError):
    """An output path that cannot be used or written (reported in one line, exit 2)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up code runs (like Ctrl-C)."""


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def usable_output(path: Path, label: str) -> Path:
    """Return the regular file to publish ``path`` at (a symlink's target); refuse others.

    Raises
    ------
    OutputError
        When ``path`` is (or links to) a directory, FIFO, device or socket, or its folder
        is not a directory.
    """
    target = path.resolve() if path.is_symlink() else path
    via = f" (symlink to {target})" if target != path else ""
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        parent = target.parent
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{label} {path}: {parent} is not a directory") from None
        return target
    except OSError as exc:
        raise OutputError(f"{label} {path}{via}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"{label} {path}{via} is {_kind(mode)}, not a regular file; "
            "give the path of a parquet file to create or replace"
        )
    return target


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


class _Output:
    """One output: temporary parquet file, row-group buffer, target and its backup."""

    def __init__(self, target: Path, schema: pa.Schema, label: str) -> None:
        self.target, self.label = target, label
        token = f"{os.getpid()}.{secrets.token_hex(4)}"
        self.tmp = target.with_name(f".{target.name}.{token}.tmp")
        self.backup: Path | None = None
        self.held: list[pa.Table] = []
        self.rows = 0
        with self.failing("create"):
            target.parent.mkdir(parents=True, exist_ok=True)
            self.writer: pq.ParquetWriter | None = pq.ParquetWriter(self.tmp, schema)

    @contextlib.contextmanager
    def failing(self, action: str) -> Iterator[None]:
        """Report an OS or Arrow error as this output's, not the input's."""
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutputError(f"cannot {action} {self.label} {self.target}: {text}") from exc

    def add(self, table: pa.Table) -> None:
        self.held.append(table)
        self.rows += table.num_rows
        while self.rows >= GROUP_ROWS:
            whole = pa.concat_tables(self.held)
            self._write(whole.slice(0, GROUP_ROWS))
            rest = whole.slice(GROUP_ROWS)
            self.held, self.rows = [rest], rest.num_rows

    def finish(self) -> None:
        """Write the last row group, close and sync the temporary file."""
        if self.rows:
            self._write(pa.concat_tables(self.held))
            self.held, self.rows = [], 0
        with self.failing("write"):
            self.writer.close()
            self.writer = None
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _write(self, table: pa.Table) -> None:
        # One chunk per group: page boundaries then do not depend on how batches were cut.
        with self.failing("write"):
            write_group(self.writer, table.combine_chunks())

    def discard(self) -> None:
        """Close and remove the temporary file (on any exit path; never raises)."""
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer = None
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)


def write_group(writer: pq.ParquetWriter, table: pa.Table) -> None:
    """Write one row group (module level, so tests can simulate a full disk)."""
    writer.write_table(table, row_group_size=GROUP_ROWS)


class PairedOutputs:
    """Context manager writing several parquet outputs, published together on success.

    Parameters
    ----------
    outputs : sequence of (path, schema, label)
        Targets (regular files or absent), their schemas and names for messages.
    """

    def __init__(self, outputs: Sequence[tuple[Path, pa.Schema, str]]) -> None:
        self._specs = list(outputs)
        self._outputs: list[_Output] = []

    def __enter__(self) -> PairedOutputs:
        try:
            for target, schema, label in self._specs:
                self._outputs.append(_Output(target, schema, label))
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, *tables: pa.Table) -> None:
        """Append one table to each output, in the order the outputs were given."""
        for output, table in zip(self._outputs, tables, strict=True):
            output.add(table)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                for output in self._outputs:
                    output.finish()
                _publish(self._outputs)
        finally:
            self._discard()

    def _discard(self) -> None:
        for output in self._outputs:
            output.discard()


def _publish(outputs: list[_Output]) -> None:
    """Rename every temporary file into place, or restore every target as it was."""
    done: list[_Output] = []
    try:
        for output in outputs:
            with output.failing("replace"):
                output.backup = _set_aside(output.target)
        for output in outputs:
            with output.failing("publish"):
                _rename(output.tmp, output.target)
            done.append(output)
    except BaseException:
        _roll_back(outputs, done)
        raise
    finally:
        for output in outputs:
            if output.backup is not None:
                with contextlib.suppress(OSError):
                    output.backup.unlink(missing_ok=True)


def _set_aside(target: Path) -> Path | None:
    """Keep the existing target under a backup name; the target stays in place if linkable."""
    if not os.path.lexists(target):
        return None
    backup = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.old")
    try:
        os.link(target, backup)
    except OSError:  # no hard links on this file system: move it instead
        os.replace(target, backup)
    return backup


def _roll_back(outputs: list[_Output], done: list[_Output]) -> None:
    """Put back each target's previous file; remove targets that did not exist before."""
    for output in outputs:
        try:
            if output.backup is not None:
                # rename() between two links of one file does nothing: drop the link then.
                if os.path.lexists(output.target) and os.path.samefile(
                    output.backup, output.target
                ):
                    output.backup.unlink()
                else:
                    os.replace(output.backup, output.target)
                output.backup = None
            elif output in done:
                output.target.unlink(missing_ok=True)
        except OSError as exc:  # pragma: no cover - a second failure while undoing
            LOG.error("could not restore %s: %s", output.target, exc)
