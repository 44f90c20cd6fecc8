"""Hostile artefacts: crafted model text, inconsistent specs, swapped files, signatures.

Every hostile file is "resealed" (``checksums.json`` rewritten to match it), as an
attacker able to write the folder would do, so the checks after the checksums are what
refuses it. Model texts are loaded in a subprocess: LightGBM aborts the process on some
malformed texts, and an abort must fail a test, not kill pytest.
"""

import json
import math
import re
import shutil
import subprocess
import sys

import pyarrow as pa
import pytest

from modeling.modeling_helpers import CATALOGUE, FEATURES
from risk_model.features.merchant_table import MERCHANT_RISK_SCHEMA
from risk_model.model_source import load_model_artefact
from risk_model.modeling import artefact_files
from risk_model.modeling.artefact import load_artefact, save_artefact
from risk_model.modeling.errors import ArtefactError, ModelLoadError
from risk_model.modeling.signing import ENV_VAR, SIGNATURE_FILE
from risk_model.modeling.spec import build_spec
from risk_model.policy import PolicyCalendar


@pytest.fixture(scope="module")
def spec(trained, small_config):
    return build_spec(
        result=trained,
        feature_names=FEATURES,
        catalogue=CATALOGUE,
        config=small_config,
        policy=PolicyCalendar(),
        merchant_risk_as_of=None,
        version="v-test",
        data_fingerprint="abc",
        code="unknown",
    )


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture()
def saved(tmp_path, trained, spec):
    return save_artefact(tmp_path / "art", booster=trained.booster, spec=spec, merchant_risk=None)


def reseal(folder):
    """Rewrite checksums.json to match the folder's files (what an attacker can do)."""
    names = [p.name for p in folder.iterdir() if p.name in artefact_files.KNOWN_FILES]
    files = {name: (folder / name).read_bytes() for name in names}
    (folder / "checksums.json").write_bytes(artefact_files.checksums_bytes(files))


def write_spec(folder, spec):
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    reseal(folder)


# --- model.txt -------------------------------------------------------------------------


def resize(text):
    """Recompute tree_sizes, so a corruption inside a tree reaches the tree checks."""
    starts = [m.start() for m in re.finditer(r"^Tree=", text, re.M)]
    ends = [*starts[1:], text.index("end of trees")]
    sizes = " ".join(str(b - a) for a, b in zip(starts, ends, strict=True))
    return re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", text, count=1, flags=re.M)


def in_tree0(key, value):
    """Set one key of Tree=0 and keep tree_sizes consistent."""

    def edit(text):
        head, _, rest = text.partition("Tree=0\n")
        rest = re.sub(rf"^{key}=.*$", f"{key}={value}", rest, count=1, flags=re.M)
        return resize(head + "Tree=0\n" + rest)

    return edit


def first_values(key, new):
    """Replace the first value of a Tree=0 array."""

    def edit(text):
        head, _, rest = text.partition("Tree=0\n")
        match = re.search(rf"^{key}=(\S+)", rest, flags=re.M)
        rest = rest[: match.start(1)] + new + rest[match.end(1) :]
        return resize(head + "Tree=0\n" + rest)

    return edit


def header(key, value):
    return lambda t: re.sub(rf"^{key}=.*$", f"{key}={value}", t, count=1, flags=re.M)


MODEL_CORRUPTIONS = {  # name: (edit, field named in the error)
    "num_leaves_too_big": (in_tree0("num_leaves", "9"), r"Tree=0\.\w+"),
    "num_leaves_zero": (in_tree0("num_leaves", "0"), r"Tree=0\.num_leaves"),
    "left_child_out_of_range": (first_values("left_child", "99"), r"Tree=0\.left_child"),
    "right_child_bad_leaf": (first_values("right_child", "-99"), r"Tree=0\.left_child"),
    "child_cycle": (first_values("left_child", "0"), r"Tree=0\.left_child"),
    "split_feature_out_of_range": (first_values("split_feature", "7"), r"Tree=0\.split_feature"),
    "threshold_nan": (first_values("threshold", "nan"), r"Tree=0\.threshold"),
    "leaf_value_inf": (first_values("leaf_value", "1e999"), r"Tree=0\.leaf_value"),
    "categorical_split": (first_values("decision_type", "1"), r"Tree=0\.decision_type"),
    "num_cat": (in_tree0("num_cat", "1"), r"Tree=0\.num_cat"),
    "linear_tree": (in_tree0("is_linear", "1"), r"Tree=0\.is_linear"),
    "short_array": (in_tree0("leaf_count", "1"), r"Tree=0\.leaf_count"),
    "tree_sizes_wrong": (lambda t: re.sub(r"tree_sizes=(\d+)", "tree_sizes=9\\1", t), "tree_sizes"),
    "max_feature_idx": (header("max_feature_idx", "10"), "max_feature_idx"),
    "num_class": (header("num_class", "3"), "num_class"),
    "objective_multiclass": (header("objective", "multiclass num_class:3"), "objective"),
    "objective_sigmoid_nan": (header("objective", "binary sigmoid:nan"), "objective"),
    "version_v3": (header("version", "v3"), "version"),
    "feature_names": (header("feature_names", "f_up f_down other"), "feature_names"),
    "feature_infos_count": (header("feature_infos", "none"), "feature_infos"),
    "header_line": (lambda t: t.replace("tree\n", "forest\n", 1), "header"),
    "unknown_header_key": (lambda t: t.replace("version=v4\n", "version=v4\nzz=1\n", 1), "header"),
    "tree_order": (lambda t: resize(t.replace("Tree=0\n", "Tree=5\n", 1)), "Tree=0"),
    "truncated": (lambda t: t[: len(t) // 2], "end of trees"),
    "non_ascii": (lambda t: t.replace("tree\n", "tr\u00e9e\n", 1), "text"),
    "pandas_categorical": (
        lambda t: t.replace("pandas_categorical:null", 'pandas_categorical:[["a"]]'),
        "tail",
    ),
}
_LOADER = """
import json, sys
from risk_model.modeling.artefact import load_artefact
from risk_model.modeling.errors import ModelLoadError
for folder in sys.argv[1:]:
    try:
        load_artefact(folder)
        outcome = "loaded"
    except ModelLoadError as exc:
        outcome = "ModelLoadError: " + str(exc)
    except Exception as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    print(json.dumps([folder, outcome]), flush=True)
"""


@pytest.fixture(scope="module")
def model_outcomes(tmp_path_factory, trained, spec):
    root = tmp_path_factory.mktemp("hostile_models")
    base = save_artefact(root / "base", booster=trained.booster, spec=spec, merchant_risk=None)
    text = (base / "model.txt").read_text(encoding="utf-8")
    folders = {"untouched": base}
    edits = {name: edit for name, (edit, _) in MODEL_CORRUPTIONS.items()}
    edits["threshold_inf"] = first_values("threshold", "inf")  # LightGBM writes these
    for name, edit in edits.items():
        folder = root / name
        shutil.copytree(base, folder)
        corrupted = edit(text)
        assert corrupted != text, name
        (folder / "model.txt").write_text(corrupted, encoding="utf-8")
        reseal(folder)
        folders[name] = folder
    run = subprocess.run(
        [sys.executable, "-c", _LOADER, *map(str, folders.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"loader died ({run.returncode}): {run.stderr[-2000:]}"
    by_folder = dict(json.loads(line) for line in run.stdout.splitlines())
    return {name: by_folder[str(folder)] for name, folder in folders.items()}


@pytest.mark.parametrize("name", sorted(MODEL_CORRUPTIONS))
def test_crafted_model_text_is_refused_naming_file_and_field(model_outcomes, name):
    outcome = model_outcomes[name]
    assert outcome.startswith("ModelLoadError: "), outcome
    field = MODEL_CORRUPTIONS[name][1]
    assert re.search(rf"model\.txt: [^:]*{field}", outcome), outcome


def test_untouched_resealed_model_text_loads(model_outcomes):
    assert model_outcomes["untouched"] == "loaded"
    assert model_outcomes["threshold_inf"] == "loaded"
