"""``pipelines._scoring_stack`` imports LightGBM without scikit-learn, in a fresh process only.

Both checks need a process that has imported neither LightGBM nor scikit-learn (the second
imports scikit-learn itself, first). They are children forked from one interpreter that
imported numpy, pandas and pyarrow once (none of them imports either package, and the
stack's guard reads only those two names), not two interpreters that each import them
(~0.6 s of CPU); each child imports the scoring stack, LightGBM and scikit-learn afresh.
"""

import pytest
from forked import run_forked

SHARED = "import numpy, pandas, pyarrow\n"
PROBE = (
    "import sys, lightgbm.compat as c; print(c.SKLEARN_INSTALLED, 'sklearn' in sys.modules); "
    "import sklearn; print(sklearn.__name__)\n"
)
NAMES = ("alone", "after_sklearn")
BODIES = (
    "import pipelines._scoring_stack\n" + PROBE,
    "import sklearn, pipelines._scoring_stack\n" + PROBE,
)


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, list[str]]:
    """Each check's printed words, by name (two children of one interpreter)."""
    done = run_forked(SHARED, list(BODIES), tmp_path_factory.mktemp("scoring_stack"))
    for name, child in zip(NAMES, done, strict=True):
        assert child.returncode == 0, f"{name}:\n{child.stderr}"
    return {name: child.stdout.split() for name, child in zip(NAMES, done, strict=True)}


def test_scoring_stack_imports_lightgbm_without_scikit_learn(probes):
    # lightgbm without its wrappers, scikit-learn not loaded, yet importable afterwards
    assert probes["alone"] == ["False", "False", "sklearn"]


def test_a_process_that_has_scikit_learn_keeps_lightgbm_whole(probes):
    assert probes["after_sklearn"][:2] == ["True", "True"]
