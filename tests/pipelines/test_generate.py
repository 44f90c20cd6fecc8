import hashlib
import json

import pyarrow.parquet as pq
import pytest

from pipelines.generate import main
from risk_model import contract as C
from risk_model.policy import PolicyCalendar
from risk_model.synthetic import WorldConfig, generate_world, iter_world, read_world
from risk_model.synthetic import io as world_io

ARGS = ["--accounts", "120", "--months", "8", "--seed", "4", "--chunk-size", "50", "--quiet"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    path = tmp_path_factory.mktemp("world")
    assert main([*ARGS, "--out", str(path)]) == 0
    return path


def test_writes_files_with_contract_schemas(out):
    expected = {
        "histories.parquet": C.HISTORY_SCHEMA,
        "closures.parquet": C.CLOSURES_SCHEMA,
        "truth.parquet": C.TRUTH_SCHEMA,
        "merchants.parquet": C.MERCHANTS_SCHEMA,
    }
    for name, schema in expected.items():
        table = pq.read_table(out / name)
        assert table.cast(schema).schema.equals(schema, check_metadata=False)
    assert not list(out.glob("*.partial"))


def test_manifest_checksums_and_row_counts(out):
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == C.SCHEMA_VERSION
    assert (manifest["seed"], manifest["months"], manifest["horizon"]) == (4, 8, 3)
    assert manifest["start"] == "2023-01"
    assert set(manifest["versions"]) == {"numpy", "pyarrow", "pandas", "risk_model"}
    assert PolicyCalendar.from_dict(manifest["policy"]).migration_offer is not None
    for entry in manifest["files"].values():
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert pq.read_metadata(out / entry["path"]).num_rows == entry["rows"]
    assert manifest["files"]["histories"]["rows"] == 120


def test_files_equal_the_library_world(out):
    config = WorldConfig(n_accounts=120, n_months=8, seed=4, chunk_size=50)
    world = generate_world(config)
    loaded = read_world(out)
    assert loaded.config == config
    for name in ("histories", "closures", "truth", "merchants"):
        assert getattr(loaded, name).equals(getattr(world, name)), name


def test_read_world_refuses_a_changed_file(out, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in out.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    table = pq.read_table(copy / "closures.parquet")
    pq.write_table(table.slice(1), copy / "closures.parquet")
    with pytest.raises(ValueError, match="does not match the sha256"):
        read_world(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError):
        read_world(copy)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--accounts", "0"], "n_accounts must be a positive integer"),
        (["--months", "-3"], "n_months must be a positive integer"),
        (["--start", "2023/01"], "start must be a month"),
    ],
)
def test_invalid_arguments_exit_with_code_2(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "w"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_non_integer_argument_is_refused(tmp_path):
    with pytest.raises(SystemExit) as error:
        main(["--accounts", "many", "--out", str(tmp_path)])
    assert error.value.code == 2


def test_crashed_run_leaves_no_manifest(out, tmp_path, monkeypatch):
    target = tmp_path / "crash"
    target.mkdir()
    (target / "manifest.json").write_text((out / "manifest.json").read_text())
    config = WorldConfig(n_accounts=120, n_months=8, seed=4, chunk_size=50)

    def failing(config):
        yield next(iter_world(config))
        raise RuntimeError("disk full")

    monkeypatch.setattr(world_io, "iter_world", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        world_io.write_world(config, target)
    assert not (target / "manifest.json").exists()
    assert not (target / "histories.parquet").exists()
