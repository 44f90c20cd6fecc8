"""The features-and-labels cache: same inputs and code hit, any change misses, damage recomputes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from risk_model.features import fit_merchant_risk
from risk_model.modeling import stage_cache
from risk_model.modeling.config_load import load_config
from risk_model.modeling.data_dir import load_inputs
from risk_model.modeling.dataset import history_window, labelled_as_of_dates
from risk_model.modeling.snapshots import served_frame, snapshot_frame
from risk_model.modeling.spec import frame_fingerprint
from risk_model.modeling.stage_cache import (
    StageCache,
    cached_served_frame,
    cached_snapshot_frame,
    code_files,
    input_fingerprint,
    open_cache,
    stage_key,
)
from risk_model.modeling.train import split_rows
from risk_model.synthetic import WorldConfig, write_world

CONFIG = load_config()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache_world")
    write_world(WorldConfig(n_accounts=400, n_months=14, seed=3, n_merchants=120), out)
    return out


@pytest.fixture(scope="module")
def expected(world):
    """The frame and served rows computed without any cache."""
    inputs = load_inputs(world)
    dates = _dates(inputs)
    frame = snapshot_frame(
        inputs.histories,
        inputs.closures,
        dates,
        horizon_months=3,
        policy=inputs.policy,
        truth=inputs.truth,
    )
    split = split_rows(frame, CONFIG)
    served, table, table_as_of = served_frame(
        inputs.histories, frame, split, policy=inputs.policy, horizon_months=3
    )
    return frame, served, table, table_as_of


def _dates(inputs):
    dates, _ = labelled_as_of_dates(
        inputs.histories, inputs.closures, 3, label_end=inputs.label_end
    )
    return dates


def _frame(cache, directory: Path):
    inputs = load_inputs(directory)
    return cached_snapshot_frame(
        cache,
        directory,
        inputs.histories,
        inputs.closures,
        _dates(inputs),
        horizon_months=3,
        policy=inputs.policy,
        truth=inputs.truth,
    )


def _served(cache, directory: Path, frame, key, config=CONFIG, production_as_of=None):
    inputs = load_inputs(directory)
    split = split_rows(frame, config)
    return cached_served_frame(
        cache,
        key,
        inputs.histories,
        frame,
        split,
        policy=inputs.policy,
        horizon_months=3,
        production_as_of=production_as_of or history_window(inputs.histories)[1],
    )


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert frame_fingerprint(a) == frame_fingerprint(b)


def test_second_read_hits_and_gives_the_identical_frame(world, expected, tmp_path):
    cache = StageCache(tmp_path / "cache")
    first, key, hit = _frame(cache, world)
    assert not hit
    again, key_again, hit_again = _frame(cache, world)
    assert hit_again and key_again == key
    _same_frame(first, expected[0])
    _same_frame(again, expected[0])


def test_served_rows_hit_under_another_model_configuration(world, expected, tmp_path):
    cache = StageCache(tmp_path / "cache")
    frame, key, _ = _frame(cache, world)
    served, table, table_as_of, production, hit = _served(cache, world, frame, key)
    assert not hit
    other = load_config(overrides={"model.learning_rate": 0.2, "model.num_leaves": 4})
    again = _served(cache, world, frame, key, other)
    assert again[-1]
    histories = load_inputs(world).histories
    artefact_table = fit_merchant_risk(histories, history_window(histories)[1])
    for got, got_table, got_date, got_production, _ in (
        (served, table, table_as_of, production, hit),
        again,
    ):
        _same_frame(got, expected[1])
        assert got_table.equals(expected[2], check_metadata=True)
        assert got_date == expected[3]
        assert got_production.equals(artefact_table, check_metadata=True)
    assert not production.equals(table)  # another date, another table
    # the entry holds the rebuilt rows, not a second copy of the frame
    (entry,) = (tmp_path / "cache" / "served").iterdir()
    names = {p.name for p in entry.iterdir()}
    assert names == {
        f"{n}.arrow" for n in ("served_rows", "merchant_risk", "production_merchant_risk")
    } | {"entry.json"}
    rows = pd.read_feather(entry / "served_rows.arrow")
    split = split_rows(frame, CONFIG)
    assert len(rows) == (split.mask("val") | split.mask("oot")).sum() < len(frame)


def test_another_artefact_table_date_misses(world, tmp_path):
    cache = StageCache(tmp_path / "cache")
    frame, key, _ = _frame(cache, world)
    *_, production, _ = _served(cache, world, frame, key)
    earlier = history_window(load_inputs(world).histories)[1] - dt.timedelta(days=31)
    *_, production2, hit = _served(cache, world, frame, key, production_as_of=earlier)
    assert not hit
    assert production2.schema.metadata != production.schema.metadata


def test_another_split_misses_the_served_rows(world, tmp_path):
    cache = StageCache(tmp_path / "cache")
    frame, key, _ = _frame(cache, world)
    _served(cache, world, frame, key)
    other = load_config(overrides={"split.val_fraction": 0.3})
    assert (split_rows(frame, other).part != split_rows(frame, CONFIG).part).any()
    *_, hit = _served(cache, world, frame, key, other)
    assert not hit


def test_a_config_change_that_keeps_the_split_hits(world, tmp_path):
    cache = StageCache(tmp_path / "cache")
    frame, key, _ = _frame(cache, world)
    _served(cache, world, frame, key)
    other = load_config(overrides={"split.oot_months": 2})  # a split by account: no effect
    assert (split_rows(frame, other).part == split_rows(frame, CONFIG).part).all()
    *_, hit = _served(cache, world, frame, key, other)
    assert hit


def test_a_changed_input_byte_misses(world, tmp_path):
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    cache = StageCache(tmp_path / "cache")
    _, key, _ = _frame(cache, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["note"] = "x"  # one more field: bytes change, the tables do not
    (copy / "manifest.json").write_text(json.dumps(manifest))
    _, key2, hit = _frame(cache, copy)
    assert not hit and key2 != key
    _, key3, hit3 = _frame(cache, copy)
    assert hit3 and key3 == key2


def test_a_changed_feature_code_version_misses(world, tmp_path, monkeypatch):
    cache = StageCache(tmp_path / "cache")
    _, key, _ = _frame(cache, world)
    monkeypatch.setattr(stage_cache, "feature_code_version", lambda: "another version")
    _, key2, hit = _frame(cache, world)
    assert not hit and key2 != key


def test_another_account_sample_misses(world, tmp_path):
    cache = StageCache(tmp_path / "cache")
    inputs = load_inputs(world)
    _, key, _ = _frame(cache, world)
    half = inputs.histories.slice(0, inputs.histories.num_rows // 2)
    _, key2, hit = cached_snapshot_frame(
        cache, world, half, inputs.closures, _dates(inputs), horizon_months=3, policy=inputs.policy
    )
    assert not hit and key2 != key


@pytest.mark.parametrize("damage", ["truncate", "flip", "no_entry_file"])
def test_a_damaged_entry_is_recomputed(world, expected, tmp_path, damage):
    cache = StageCache(tmp_path / "cache")
    _, key, _ = _frame(cache, world)
    folder = tmp_path / "cache" / "features" / key
    data = folder / "frame.arrow"
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "flip":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    else:
        (folder / "entry.json").unlink()
    frame, key2, hit = _frame(cache, world)
    assert not hit and key2 == key
    _same_frame(frame, expected[0])
    again, _, hit_again = _frame(cache, world)  # the damaged entry was replaced
    assert hit_again
    _same_frame(again, expected[0])


def test_an_unwritable_cache_warns_and_computes(world, expected, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.warns(RuntimeWarning, match="features cache not written"):
        frame, _, hit = _frame(StageCache(blocker), world)
    assert not hit
    _same_frame(frame, expected[0])


def test_no_cache_computes_and_writes_nothing(world, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = open_cache(enabled=False)
    frame, key, hit = _frame(cache, world)
    served, *_, served_hit = _served(cache, world, frame, key)
    assert not hit and not served_hit and key == ""
    _same_frame(frame, expected[0])
    _same_frame(served, expected[1])
    assert list(tmp_path.iterdir()) == []


def test_a_relative_cache_folder_is_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stage_cache, "DEFAULT_DIR", Path("data") / "cache")
    open_cache().save("features", "k1", {"t": pd.DataFrame({"x": [1.0]})}, {"p": 1})
    assert (tmp_path / "data" / "cache" / "features" / "k1" / "t.arrow").is_file()
    open_cache(tmp_path / "elsewhere").save("features", "k1", {"t": pd.DataFrame()}, {})
    assert (tmp_path / "elsewhere" / "features" / "k1" / "entry.json").is_file()


def test_key_depends_on_every_part_and_not_on_their_order():
    parts = {"a": 1, "b": [1, 2]}
    assert stage_key(parts) == stage_key({"b": [1, 2], "a": 1})
    assert stage_key(parts) != stage_key({"a": 1, "b": [2, 1]})
    assert stage_key(parts) != stage_key({"a": 2, "b": [1, 2]})


def test_input_fingerprint_covers_the_files_that_are_read(world):
    names = set(input_fingerprint(world))
    assert {"histories.parquet", "closures.parquet", "manifest.json", "truth.parquet"} <= names
    assert "merchants.parquet" not in names  # not read by training


def test_code_version_follows_the_imports_of_the_stage():
    names = set(code_files())
    assert {
        "risk_model.features.build",
        "risk_model.features.merchant_risk",
        "risk_model.policy",
        "risk_model.modeling.snapshots",
        "risk_model.modeling.dataset",
        "risk_model.validation",
    } <= names
    assert "risk_model.modeling.train" not in names  # the model's code does not key features
    assert "risk_model.predict" not in names
