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

from risk_model.features.merchant_table import MERCHANT_RISK_SCHEMA
from risk_model.model_source import load_model_artefact
from risk_model.modeling import artefact_files
from risk_model.modeling.artefact import load_artefact, save_artefact
from risk_model.modeling.errors import ArtefactError, ModelLoadError
from risk_model.modeling.signing import ENV_VAR, SIGNATURE_FILE


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
# The child imports what the scoring command imports before it loads a model (LightGBM
# without scikit-learn: ~1 s less CPU than LightGBM's own import), then loads each folder.
_LOADER = """
import json, sys
import pipelines._scoring_stack
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


# --- spec.json -------------------------------------------------------------------------


def _set(path, value):
    """Return an edit setting a dotted key ("scale.base_odds") of the spec."""

    def edit(spec):
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _drop(key):
    return lambda spec: spec.pop(key)


ISOTONIC = {"method": "isotonic", "x": [-2.0, 0.0, 1.0], "y": [0.01, 0.1, 0.3]}
SPEC_CORRUPTIONS = {  # name: (edit, field named in the error)
    "missing_key": (_drop("calibration"), "calibration"),
    "format_version_bool": (_set("format_version", True), "format_version"),
    "version_newline": (_set("version", "v1\n2024 INFO model ok"), "version"),
    "version_ansi": (_set("version", "v1\x1b[2J"), "version"),
    "feature_names_not_list": (_set("feature_names", "f_up"), "feature_names"),
    "feature_names_duplicate": (_set("feature_names.1", "f_up"), "feature_names"),
    "feature_name_not_string": (_set("feature_names.0", 7), r"feature_names\[0\]"),
    "monotone_misaligned": (_set("monotone_constraints", [1, -1]), "monotone_constraints"),
    "monotone_value": (_set("monotone_constraints.0", 5), "monotone_constraints"),
    "calibration_method": (_set("calibration.method", "magic"), r"calibration\.method"),
    "calibration_a_nan": (
        _set("calibration", {"method": "sigmoid", "a": math.nan, "b": 0}),
        r"calibration\.a",
    ),
    "isotonic_x_decreasing": (
        _set("calibration", {**ISOTONIC, "x": [1.0, 0.0, 2.0]}),
        r"calibration\.x",
    ),
    "isotonic_lengths": (_set("calibration", {**ISOTONIC, "y": [0.1]}), r"calibration\.y"),
    "isotonic_y_above_one": (
        _set("calibration", {**ISOTONIC, "y": [0.1, 0.2, 1.5]}),
        r"calibration\.y",
    ),
    "base_odds_nan": (_set("scale.base_odds", math.nan), r"scale\.base_odds"),
    "pdo_negative": (_set("scale.pdo", -50.0), r"scale\.pdo"),
    "points_reversed": (_set("scale.min_points", 2000.0), r"scale\.min_points"),
    "thresholds_descending": (
        _set("scale.band_thresholds", [0.2, 0.08, 0.03, 0.01]),
        r"scale\.band_thresholds",
    ),
    "threshold_above_one": (
        _set("scale.band_thresholds", [0.01, 0.03, 0.08, 1.5]),
        r"scale\.band_thresholds",
    ),
    "band_names_count": (_set("scale.band_names", ["a", "b"]), r"scale\.band_names"),
    "band_name_escape": (_set("scale.band_names.0", "low\x1b[31m"), r"scale\.band_names"),
    "band_origin_rule": (_set("scale.band_origin", {"rule": "guess"}), r"scale\.band_origin"),
    "band_origin_why_escape": (
        _set("scale.band_origin", {"rule": "fixed", "why": "x\x1b[2J"}),
        r"scale\.band_origin\.why",
    ),
    "band_origin_rows": (
        _set(
            "scale.band_origin",
            {"rule": "quantiles", "window": "selection", "rows": 0, "base_rate": 0.1},
        ),
        r"scale\.band_origin\.rows",
    ),
    "band_origin_shares": (
        _set(
            "scale.band_origin",
            {
                "rule": "quantiles",
                "window": "selection",
                "rows": 9,
                "base_rate": 0.1,
                "shares": [0.5, 0.5],
                "observed": [0.5, 0.5],
            },
        ),
        r"scale\.band_origin\.shares",
    ),
    "transform_nan": (
        _set("feature_transforms", {"clip_max": {"f_up": math.nan}}),
        r"feature_transforms\.clip_max",
    ),
    "transform_unknown_feature": (
        _set("feature_transforms", {"fill_missing": {"nope": 1.0}}),
        r"feature_transforms\.fill_missing",
    ),
    "transform_unknown_kind": (_set("feature_transforms", {"explode": {}}), "feature_transforms"),
    "horizon_zero": (_set("horizon_months", 0), "horizon_months"),
    "horizon_string": (_set("horizon_months", "3"), "horizon_months"),
    "horizon_huge": (_set("horizon_months", 10**6), "horizon_months"),
    "policy_bad_date": (_set("policy", {"regulatory_sweeps": ["someday"]}), "policy"),
    "policy_unknown_key": (_set("policy", {"sweeps": []}), "policy"),
    "policy_not_object": (_set("policy", [1]), "policy"),
    "catalogue_no_cause": (lambda s: s["catalogue"][0].pop("cause"), r"catalogue\[0\]\.cause"),
    "catalogue_name_not_string": (_set("catalogue.0.name", ["f_up"]), r"catalogue\[0\]\.name"),
    "catalogue_missing_feature": (lambda s: s["catalogue"].pop(), "catalogue"),
    "template_attribute_walk": (
        _set("catalogue.0.reason", "{value.__class__}"),
        r"catalogue\[0\]\.reason",
    ),
    "template_huge_width": (
        _set("catalogue.0.reason", "{value:>999999999}"),
        r"catalogue\[0\]\.reason",
    ),
    "template_not_string": (_set("catalogue.0.reason", 12), r"catalogue\[0\]\.reason"),
    "merchant_as_of_bad": (_set("merchant_risk_as_of", "yesterday"), "merchant_risk_as_of"),
}


@pytest.mark.parametrize("name", sorted(SPEC_CORRUPTIONS))
def test_inconsistent_spec_is_a_model_load_error_naming_file_and_field(saved, spec, name):
    hostile = json.loads(json.dumps(spec))
    edit, field = SPEC_CORRUPTIONS[name]
    edit(hostile)
    write_spec(saved, hostile)
    with pytest.raises(ModelLoadError, match=rf"spec\.json: [^:]*{field}") as caught:
        load_artefact(saved)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


SPEC_VALID_EDGES = {
    "horizon_24": _set("horizon_months", 24),
    "no_transforms": _set("feature_transforms", None),
    "isotonic_step_map": _set("calibration", ISOTONIC),
    "safe_template": _set("catalogue.0.reason", "{value:+z.1%} more than usual"),
    "policy_dates": _set("policy", {"regulatory_sweeps": ["2024-01-01"]}),
    "version_dots": _set("version", "2024.1_rc-2"),
}


@pytest.mark.parametrize("name", sorted(SPEC_VALID_EDGES))
def test_valid_edge_values_still_load(saved, spec, name):
    valid = json.loads(json.dumps(spec))
    SPEC_VALID_EDGES[name](valid)
    write_spec(saved, valid)
    assert load_artefact(saved).spec == valid


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe", b"[1, 2]", b"[" * 100_000])
def test_unparseable_spec_is_a_model_load_error(saved, data):
    (saved / "spec.json").write_bytes(data)
    reseal(saved)
    with pytest.raises(ModelLoadError, match=r"spec\.json: "):
        load_artefact(saved)


def test_model_load_error_passes_through_model_source(saved, spec):
    write_spec(saved, {**spec, "horizon_months": 0})
    with pytest.raises(ModelLoadError, match=r"spec\.json: horizon_months"):
        load_model_artefact(saved)
    write_spec(saved, spec)
    assert load_model_artefact(saved).horizon_months == spec["horizon_months"]


# --- files read once, merchant-risk table -----------------------------------------------


def test_each_file_is_read_once_and_a_swap_after_the_check_is_not_used(saved, spec, monkeypatch):
    reads = []
    real = artefact_files.read_bounded

    def read_then_swap(path, limit):
        data = real(path, limit)
        reads.append(path.name)
        if path.name == "spec.json":  # an attacker swaps the file right after it was read
            path.write_text(json.dumps({**spec, "version": "swapped"}), encoding="utf-8")
        return data

    monkeypatch.setattr(artefact_files, "read_bounded", read_then_swap)
    art = load_artefact(saved)
    assert art.version == "v-test"
    assert sorted(reads) == ["checksums.json", "model.txt", "spec.json"]


def test_a_swap_before_the_read_is_a_checksum_mismatch(saved, spec):
    (saved / "spec.json").write_text(json.dumps({**spec, "version": "swapped"}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"checksum mismatch for spec\.json"):
        load_artefact(saved)


@pytest.fixture()
def with_merchants(tmp_path, trained, spec):
    dated = {**spec, "merchant_risk_as_of": "2024-12-31"}
    table = MERCHANT_RISK_SCHEMA.empty_table()
    return save_artefact(tmp_path / "m", booster=trained.booster, spec=dated, merchant_risk=table)


def test_merchant_table_named_by_the_spec_loads(with_merchants):
    assert load_artefact(with_merchants).merchant_risk.schema.equals(MERCHANT_RISK_SCHEMA)


def test_missing_merchant_table_the_spec_dates_is_refused(with_merchants):
    (with_merchants / "merchant_risk.parquet").unlink()
    reseal(with_merchants)
    with pytest.raises(ModelLoadError, match=r"merchant_risk\.parquet: .*missing"):
        load_artefact(with_merchants)


@pytest.mark.parametrize("data", [b"PAR1 not parquet PAR1", None])
def test_unreadable_or_foreign_merchant_table_is_refused(with_merchants, data):
    if data is None:  # a readable table of the wrong schema
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"merchant_id": ["m1"], "risk": [0.1]}), sink)
        data = sink.getvalue().to_pybytes()
    (with_merchants / "merchant_risk.parquet").write_bytes(data)
    reseal(with_merchants)
    with pytest.raises(ModelLoadError, match=r"merchant_risk\.parquet: "):
        load_artefact(with_merchants)


def test_save_refuses_a_dated_merchant_table_it_is_not_given(tmp_path, trained, spec):
    dated = {**spec, "merchant_risk_as_of": "2024-12-31"}
    with pytest.raises(ArtefactError, match="merchant"):
        save_artefact(tmp_path / "x", booster=trained.booster, spec=dated, merchant_risk=None)


def test_checksums_may_not_name_files_outside_the_artefact(saved):
    sums = json.loads((saved / "checksums.json").read_text())
    sums["files"]["../../etc/passwd"] = "0" * 64
    (saved / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ModelLoadError, match=r"checksums\.json: files"):
        load_artefact(saved)


# --- signing ----------------------------------------------------------------------------


@pytest.fixture()
def signed(tmp_path, trained, spec, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "s3cret")
    return save_artefact(tmp_path / "s", booster=trained.booster, spec=spec, merchant_risk=None)


def test_signed_artefact_loads_with_its_key(signed):
    body = json.loads((signed / SIGNATURE_FILE).read_text())
    assert body["algorithm"] == "hmac-sha256" and len(body["hmac"]) == 64
    assert load_artefact(signed).version == "v-test"


def test_wrong_key_is_refused(signed, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "other")
    with pytest.raises(ModelLoadError, match=r"signature\.json: hmac"):
        load_artefact(signed)


def test_resealed_tampering_breaks_the_signature(signed, spec):
    write_spec(signed, {**spec, "version": "evil"})
    with pytest.raises(ModelLoadError, match=r"signature\.json: hmac"):
        load_artefact(signed)


def test_missing_signature_is_refused_when_a_key_is_set(signed):
    (signed / SIGNATURE_FILE).unlink()
    with pytest.raises(ModelLoadError, match=r"signature\.json: .*missing"):
        load_artefact(signed)


def test_without_a_key_nothing_is_signed_and_a_signature_is_ignored(
    signed, tmp_path, trained, spec, monkeypatch
):
    monkeypatch.delenv(ENV_VAR)
    plain = save_artefact(tmp_path / "p", booster=trained.booster, spec=spec, merchant_risk=None)
    assert not (plain / SIGNATURE_FILE).exists()
    assert load_artefact(plain).version == "v-test"
    (signed / SIGNATURE_FILE).write_text("garbage")
    assert load_artefact(signed).version == "v-test"


def test_an_empty_key_is_an_error_not_no_key(saved, tmp_path, trained, spec, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    with pytest.raises(ArtefactError, match=ENV_VAR):
        load_artefact(saved)
    with pytest.raises(ArtefactError, match=ENV_VAR):
        save_artefact(tmp_path / "e", booster=trained.booster, spec=spec, merchant_risk=None)
    assert not (tmp_path / "e").exists()
