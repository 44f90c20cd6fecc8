import subprocess
import sys

PROBE = (
    "import sys, lightgbm.compat as c; print(c.SKLEARN_INSTALLED, 'sklearn' in sys.modules); "
    "import sklearn; print(sklearn.__name__)"
)


def _run(code: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return proc.stdout.split()


def test_scoring_stack_imports_lightgbm_without_scikit_learn():
    out = _run("import pipelines._scoring_stack; " + PROBE)
    # lightgbm without its wrappers, scikit-learn not loaded, yet importable afterwards
    assert out == ["False", "False", "sklearn"]


def test_a_process_that_has_scikit_learn_keeps_lightgbm_whole():
    out = _run("import sklearn, pipelines._scoring_stack; " + PROBE)
    assert out[:2] == ["True", "True"]
