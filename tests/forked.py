"""Run code in several child processes that share one interpreter start-up.

A race between processes, or a check that a crash stays inside a child, needs separate
processes, not separate imports: a fresh interpreter that imports MLflow costs seconds of
CPU. :func:`run_forked` starts ONE interpreter, runs ``setup`` there (the imports, nothing
that opens a store, a thread pool or a file), then forks one child per body. Each child has
its own PID, its own SQLite connections and its own fate (a segfault kills only it), writes
its own stdout and stderr, and starts its body only once every child is forked, so racers
really race. The result per child is a :class:`subprocess.CompletedProcess`, as
``subprocess.run(..., capture_output=True, text=True)`` would give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# A setup line for children that open an MLflow store: the SQL stores are imported on their
# first use in a process, so the parent imports them once (each child still opens its own).
MLFLOW_SQL_STORES = (
    "import mlflow.store.tracking.sqlalchemy_store\n"
    "import mlflow.store.model_registry.sqlalchemy_store\n"
)

# The driver keeps its own names out of the namespace that setup and the bodies share.
_DRIVER = r"""
import json, os, sys, traceback

def _run(folder, bodies, setup):
    shared = {"__name__": "__main__"}
    exec(compile(setup, "<setup>", "exec"), shared)
    sys.stdout.flush()
    sys.stderr.flush()
    gate, release = os.pipe()
    children = []
    for i, body in enumerate(bodies):
        pid = os.fork()
        if pid == 0:
            os.close(release)
            for fd, name in ((1, "out"), (2, "err")):
                path = f"{folder}/{i}.{name}"
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            code = 0
            try:
                os.read(gate, 1)  # every child is forked before any starts its body
                exec(compile(body, f"<body {i}>", "exec"), dict(shared))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    os.close(gate)
    os.write(release, b"go" * len(bodies))
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]

print(json.dumps(_run(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3])))
"""


def run_forked(
    setup: str,
    bodies: list[str],
    folder: Path,
    *,
    timeout: float = 180,
    env: dict[str, str] | None = None,
    kept: bool = False,
) -> list[subprocess.CompletedProcess]:
    """Run ``setup`` once, then each of ``bodies`` in its own forked child, all at once.

    ``folder`` (empty, created if missing) receives each child's output files; ``env`` is
    the interpreter's environment (default: this one's). With ``kept`` the driver is forked
    from this test process's kept interpreter that has imported MLflow
    (:mod:`fork_server`) instead of a new interpreter. Returns one completed process per
    body, in order; a child killed by a signal has a negative return code, as with
    :mod:`subprocess`. The driver itself failing is an error.
    """
    folder.mkdir(parents=True, exist_ok=True)
    args = [str(folder), json.dumps(bodies), setup]
    if kept:
        from fork_server import drive  # that module imports this one

        driver = drive(args, timeout=timeout, env=env)
    else:
        argv = [sys.executable, "-c", _DRIVER, *args]
        driver = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    assert driver.returncode == 0, f"fork driver failed:\n{driver.stderr[-3000:]}"
    codes = json.loads(driver.stdout.strip().splitlines()[-1])
    return [
        subprocess.CompletedProcess(
            [f"<body {i}>"],
            code,
            (folder / f"{i}.out").read_text(encoding="utf-8"),
            (folder / f"{i}.err").read_text(encoding="utf-8"),
        )
        for i, code in enumerate(codes)
    ]
