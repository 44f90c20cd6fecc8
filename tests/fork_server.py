"""The kept interpreter behind ``forked.run_forked(..., kept=True)``, one per test process.

Each plain call of :func:`forked.run_forked` starts an interpreter and imports what its children
need; for the MLflow registry tests that is MLflow, its SQL stores and the tracking wiring,
seconds of CPU per call, far more than the children's own work. Here one server
interpreter per test process (each xdist worker has its own) imports :data:`BASE` once and
then waits for requests. For each call it forks an intermediate process that takes the
caller's environment and working directory and runs :mod:`forked`'s own driver, unchanged
(``setup`` in its namespace, then one child per body, all released at once). The server
itself runs nothing but :data:`BASE`: every call starts from the same freshly imported state,
and no call sees what another did.

Use it where the children need a separate process with MLflow imported, not where the
subject is what a fresh interpreter imports (those tests start ``python`` themselves).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from forked import _DRIVER, MLFLOW_SQL_STORES

# What the registry tests' children import (their setups repeat it, so they read the same
# with forked.run_forked): MLflow with its SQL stores, the tracking wiring, the loader.
BASE = (
    "import pandas\n"
    "from risk_model.modeling import tracking\n"
    "from risk_model.modeling.promotion import PromotionConfig\n"
    "from risk_model.predict import load\n"
    f"{MLFLOW_SQL_STORES}"
)

# The server: BASE once, then per request line a forked intermediate that becomes the
# request's driver (its own process group, so that a timeout can stop it and its children).
_SERVER = r"""
import json, os, sys
exec(compile(sys.argv[1], "<base>", "exec"), {"__name__": "__base__"})
driver = sys.argv[2]
replies = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the requests' output goes to their files
print("ready", file=replies, flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        replies.close()
        folder = request["args"][0]  # the driver's output folder, its first argument
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "driver.out"), (2, "driver.err")):
            os.dup2(os.open(f"{folder}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["-c", *request["args"]]
        code = 1  # the driver (or the setup it runs) raised: its traceback is in driver.err
        try:
            exec(compile(driver, "<driver>", "exec"), {"__name__": "__main__"})
            code = 0
        except BaseException:
            __import__("traceback").print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print("pid", pid, file=replies, flush=True)
    print("done", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), file=replies, flush=True)
"""

_server: subprocess.Popen | None = None
_log = None  # the server's stderr (a temporary file), read when it fails


def _start() -> subprocess.Popen:
    """Start the server (once per process) and wait until :data:`BASE` is imported."""
    global _server, _log
    if _server is not None and _server.poll() is None:
        return _server
    _log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open while the server runs)
    argv = [sys.executable, "-c", _SERVER, BASE, _DRIVER]
    # Unbuffered pipes: select() must see every reply line the server has written.
    _server = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=_log, bufsize=0
    )
    atexit.register(_stop, _server, _log)
    _expect(_server, "ready", timeout=120)
    return _server


def _stop(server: subprocess.Popen, log) -> None:
    server.stdin.close()  # the server ends at the end of its input
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    server.stdout.close()
    log.close()


def _expect(server: subprocess.Popen, word: str, *, timeout: float) -> str:
    """The rest of the next reply line of ``server``, which must start with ``word``."""
    ready, _, _ = select.select([server.stdout], [], [], timeout)
    if not ready:
        raise subprocess.TimeoutExpired(server.args, timeout)
    line = server.stdout.readline().decode()
    if not line.startswith(word):
        _log.seek(0)
        raise AssertionError(f"fork server: {line!r}\n{_log.read().decode()[-3000:]}")
    return line[len(word) :].strip()


def drive(
    args: list[str], *, timeout: float, env: dict[str, str] | None
) -> subprocess.CompletedProcess:
    """Run :mod:`forked`'s driver with ``args`` in a process forked from the kept interpreter.

    ``env`` (default: this process's environment now) and the working directory are set
    in that process before the driver runs; what :data:`BASE` read at import came from the
    environment the server started with. The driver's output goes to its output folder, its
    first argument (``driver.out``, ``driver.err``), and is returned as a completed process.
    A call that outlives ``timeout`` is killed with its children and raises
    :class:`subprocess.TimeoutExpired`.
    """
    server = _start()
    request = {
        "args": args,
        "env": dict(os.environ if env is None else env),
        "cwd": os.getcwd(),
    }
    server.stdin.write(json.dumps(request).encode() + b"\n")
    pid = int(_expect(server, "pid", timeout=30))
    try:
        code = int(_expect(server, "done", timeout=timeout))
    except subprocess.TimeoutExpired:
        os.killpg(pid, signal.SIGKILL)
        _expect(server, "done", timeout=30)
        raise
    folder = Path(args[0])
    out, err = ((folder / f"driver.{name}").read_text(encoding="utf-8") for name in ("out", "err"))
    return subprocess.CompletedProcess(["<driver>"], code, out, err)
