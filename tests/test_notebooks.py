"""The notebooks in ``notebooks/`` run from top to bottom without an error.

Each ``NN-topic.py`` (jupytext percent format, the reviewed source) is converted to a
notebook and executed by nbclient in a kernel of this interpreter, in file order, with
``CLOSURE_RISK_NOTEBOOKS`` pointing at one temporary folder shared by the module: notebook
02 trains the small model there and 03 and 04 reuse it instead of training their own (each
still trains it when run alone). The kernel's working directory is an empty temporary
folder that must stay empty, no entry may appear at the checkout's top level (``mlflow.db``,
``mlruns/``) and nothing in ``data/`` may change: a notebook writes only under
``CLOSURE_RISK_NOTEBOOKS``.

Every figure a notebook draws is saved as PNG in ``<that folder>/figures/`` beside the
executed ``.ipynb`` (run with ``--basetemp DIR`` to keep and look at them).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.py"))
KERNEL = "closure-risk-python3"
CELL_TIMEOUT = 600  # seconds; the whole module takes about a minute and a half
# The kernel shuts down as a user's does (a shutdown request, then every atexit hook), but
# freezes its objects first: IPython's reset at exit and the interpreter's final
# collections then skip the half million objects of the imported stack, which they would
# walk only to free memory the system frees anyway (about 1.5 s of CPU for 02 and for 04).
# Run at start-up, before the notebook, so its hook runs after the notebook's own; the
# ``if`` block leaves no name, output or history behind (``exec_lines`` is IPython's
# start-up code option).
EXIT_FREEZE = (
    "--IPKernelApp.exec_lines=if 1: __import__('atexit').register(__import__('gc').freeze)"
)


def test_the_four_notebooks_are_there_and_listed_in_the_readmes():
    assert [p.stem for p in NOTEBOOKS] == [
        "01-world-tour",
        "02-train-and-evaluate",
        "03-explain-an-account",
        "04-score-and-monitor",
    ]
    for readme in (ROOT / "README.md", ROOT / "notebooks" / "README.md"):
        text = readme.read_text(encoding="utf-8")
        for path in NOTEBOOKS:
            assert path.name in text, f"{readme} does not link {path.name}"


def test_the_library_never_imports_from_notebooks():
    for folder in ("risk_model", "pipelines"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "import notebooks" not in text and "from notebooks" not in text, path


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The notebooks' shared folder (world, model, MLflow store, figures)."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory) -> Path:
    """A kernel spec that runs this interpreter (the stock one runs ``python`` from PATH)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", EXIT_FREEZE]
    kernel = {"argv": argv, "display_name": "closure-risk", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


def _entries(folder: Path) -> dict[str, int]:
    """Names and modification times of a folder's entries (what a stray write would change)."""
    if not folder.is_dir():
        return {}
    return {entry.name: entry.stat().st_mtime_ns for entry in folder.iterdir()}


def _save_figures(nb, stem: str, folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    saved = []
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if "image/png" in data:
                path = folder / f"{stem}-cell{i:02d}-{j}.png"
                path.write_bytes(base64.b64decode(data["image/png"]))
                saved.append(path)
    return saved


class Run:
    """Executes notebooks in a kernel of this interpreter and checks where they wrote."""

    def __init__(self, work: Path, kernel_path: Path, tmp_path: Path, monkeypatch) -> None:
        monkeypatch.setenv("CLOSURE_RISK_NOTEBOOKS", str(work))
        monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
        # Connection files and IPython's history go to temporary folders, not the home folder.
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
        # The kernel imports this checkout's package whatever is installed.
        paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        self.cwd = tmp_path / "cwd"
        self.cwd.mkdir()
        # Top level: names only (importing the package may add __pycache__ inside its folders).
        self.top, self.data = set(_entries(ROOT)), _entries(ROOT / "data")

    def execute(self, nb) -> float:
        """Run every cell; return the seconds taken (CellExecutionError on any error)."""
        client = NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(self.cwd)}},
        )
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start

    def stray_writes(self) -> list[str]:
        """What was written outside ``CLOSURE_RISK_NOTEBOOKS`` (empty when nothing was)."""
        out = [f"working directory: {p.name}" for p in self.cwd.iterdir()]
        out += [f"checkout: {name}" for name in sorted(set(_entries(ROOT)) - self.top)]
        if _entries(ROOT / "data") != self.data:
            out.append("checkout: data/")
        return out


@pytest.mark.slow
@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(source: Path, work: Path, kernel_path: Path, tmp_path, monkeypatch):
    run = Run(work, kernel_path, tmp_path, monkeypatch)
    nb = jupytext.read(source)
    seconds = run.execute(nb)
    (work / f"{source.stem}.ipynb").write_text(jupytext.writes(nb, "ipynb"), encoding="utf-8")
    figures = _save_figures(nb, source.stem, work / "figures")
    print(f"{source.stem}: {seconds:.1f} s, {len(figures)} figures in {work / 'figures'}")
    assert figures, f"{source.name} drew no figure"
    assert run.stray_writes() == [], f"{source.name} wrote outside CLOSURE_RISK_NOTEBOOKS"


def test_an_error_fails_the_run_and_a_stray_write_is_seen(
    work: Path, kernel_path: Path, tmp_path, monkeypatch
):
    run = Run(work, kernel_path, tmp_path, monkeypatch)
    cells = "# %%\nfrom pathlib import Path\nPath('stray.txt').write_text('x')\n\n# %%\n1 / 0\n"
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run.execute(jupytext.reads(cells, fmt="py:percent"))
    assert run.stray_writes() == ["working directory: stray.txt"]
