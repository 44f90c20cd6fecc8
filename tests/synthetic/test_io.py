import dataclasses
import json

import pytest

from risk_model.synthetic import WorldConfig, ensure_world, generate_world, read_world, write_world
from risk_model.synthetic.io import MANIFEST_FILE

TINY = WorldConfig(n_accounts=150, n_months=9, seed=12, block_size=50, chunk_size=50)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    manifest, stats = write_world(TINY, out)
    return out, manifest, stats


def test_a_written_world_reads_back_equal_to_the_generated_one(written):
    out = written[0]
    back, made = read_world(out), generate_world(TINY)
    assert back.config == TINY
    for name in ("histories", "closures", "truth", "merchants"):
        assert getattr(back, name).equals(getattr(made, name)), name
    assert back.cashout_accounts == made.cashout_accounts
    assert not list(out.glob("*.partial"))  # temporary names all renamed


def test_the_manifest_names_each_file_with_rows_and_checksum(written):
    out, manifest, stats = written
    assert json.loads((out / MANIFEST_FILE).read_text()) == json.loads(json.dumps(manifest))
    assert manifest["files"]["histories"]["rows"] == TINY.n_accounts
    assert manifest["summary"] == stats.overall(TINY)
    assert manifest["parameters"] == TINY.to_dict() and manifest["months"] == TINY.n_months


def test_an_altered_file_is_refused_unless_verification_is_off(written, tmp_path):
    out, _, _ = written
    for path in out.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["files"]["closures"]["sha256"] = "0" * 64
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"closures\.parquet does not match the sha256"):
        read_world(tmp_path)
    assert read_world(tmp_path, verify=False).closures.num_rows > 0
    (tmp_path / MANIFEST_FILE).unlink()  # a crashed run leaves no manifest
    with pytest.raises(FileNotFoundError):
        read_world(tmp_path)


def test_ensure_world_reuses_a_matching_world_and_rewrites_another(tmp_path):
    first = ensure_world(TINY, tmp_path)
    stamp = (tmp_path / MANIFEST_FILE).stat().st_mtime_ns
    assert ensure_world(TINY, tmp_path).histories.equals(first.histories)
    assert (tmp_path / MANIFEST_FILE).stat().st_mtime_ns == stamp  # not written again
    other = dataclasses.replace(TINY, seed=13)
    assert ensure_world(other, tmp_path).config == other
    assert read_world(tmp_path).config == other
