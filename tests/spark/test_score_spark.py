"""``python -m pipelines.score --engine spark`` against one machine, on the shared session."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from factory import score_argv

from pipelines._spark_parity import KINDS, compare, equal, seed_bad_accounts
from pipelines.score import main
from risk_model import contract as C

BAD = 30  # three of each kind, spread over the file


@pytest.fixture(scope="module")
def bad_file(model, tmp_path_factory):
    """The test world's accounts with 30 seeded bad ones (small row groups)."""
    table, spoiled = seed_bad_accounts(model.histories, BAD, model.as_of, seed=3)
    path = tmp_path_factory.mktemp("spark_input") / "histories.parquet"
    pq.write_table(table, path, row_group_size=250)
    return path, spoiled


def _argv(model, path, out, *extra):
    closures = str(model.world / "closures.parquet")
    # several Arrow batches per task
    return score_argv(model, path, out, "h", "--batch-rows", "97", "--closures", closures, *extra)


@pytest.fixture(scope="module")
def runs(spark, model, bad_file, tmp_path_factory):
    """One machine's and Spark's outputs for the same file (exit codes too)."""
    path, _ = bad_file
    local, spark_out = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("spark")
    code_local = main(_argv(model, path, local))
    code_spark = main(_argv(model, path, spark_out, "--engine", "spark", "--partitions", "3"))
    return (code_local, local), (code_spark, spark_out)


def test_spark_scores_and_rejects_equal_one_machine(runs, bad_file):
    (code_local, local), (code_spark, spark_out) = runs
    assert code_local == code_spark == 3
    report = compare(
        local / "h.scores.parquet",
        local / "h.rejects.parquet",
        spark_out / "h.scores.parquet",
        spark_out / "h.rejects.parquet",
    )
    assert equal(report), report
    assert report["probability_exact"] == 1.0
    assert report["accounts"] > 1000
    # every seeded account is rejected with its own code (and the duplicated ids' partners)
    rejects = pq.read_table(spark_out / "h.rejects.parquet")
    reasons = dict(zip(rejects["row"].to_pylist(), rejects["reason"].to_pylist(), strict=True))
    codes = dict(KINDS)
    _, spoiled = bad_file
    nulls = sum(k == "null_id" for k in spoiled.values())
    for row, kind in spoiled.items():
        # null ids are rejected as null, or, when the file has several, as repeated ids
        code = "[duplicate_id]" if kind == "null_id" and nulls > 1 else codes[kind]
        assert code in reasons[row], (kind, reasons[row])
    repeated = 2 * sum(k == "duplicate_id" for k in spoiled.values()) + (nulls if nulls > 1 else 0)
    assert sum("[duplicate_id]" in r for r in reasons.values()) == repeated


def test_spark_outputs_are_datasets_and_refuse_to_be_overwritten(runs, model, bad_file, capsys):
    _, (_, spark_out) = runs
    scores = spark_out / "h.scores.parquet"
    assert scores.is_dir() and (scores / "_SUCCESS").is_file()
    assert not [p for p in spark_out.iterdir() if p.name.startswith(".")]  # no temp left
    before = sorted(p.name for p in scores.iterdir())
    path, _ = bad_file
    capsys.readouterr()
    assert main(_argv(model, path, spark_out, "--engine", "spark")) == 2
    err = capsys.readouterr().err
    assert "exists; pass --overwrite to replace it" in err
    assert sorted(p.name for p in scores.iterdir()) == before  # untouched
    assert main(_argv(model, path, spark_out, "--engine", "spark", "--overwrite")) == 3
    after = sorted(p.name for p in scores.iterdir())
    assert after != before  # new part files
    assert not [p for p in spark_out.iterdir() if p.name.startswith(".")]
    total = pq.read_table(scores).num_rows + pq.read_table(spark_out / "h.rejects.parquet").num_rows
    assert total == pq.read_metadata(path).num_rows


@pytest.mark.parametrize("damage", ["altered", "missing"])
def test_a_bad_artefact_fails_before_scoring_with_one_machines_message(
    spark, model, bad_file, tmp_path, capsys, damage
):
    artefact = tmp_path / "model"
    shutil.copytree(model.artefact, artefact)
    if damage == "altered":
        with (artefact / "model.txt").open("a") as handle:
            handle.write("\n")
    else:
        (artefact / "spec.json").unlink()
    path, _ = bad_file
    messages = []
    for engine in ("local", "spark"):
        out = tmp_path / engine
        argv = _argv(model, path, out, "--engine", engine)
        argv[argv.index("--model") + 1] = str(artefact)
        capsys.readouterr()
        assert main(argv) == 2
        messages.append(capsys.readouterr().err.strip().splitlines()[-1])
        assert not out.exists()  # nothing written
    assert messages[0] == messages[1]
    assert messages[0].startswith("score: error: ")


def test_an_unknown_model_fails_like_one_machine(spark, model, bad_file, tmp_path, capsys):
    path, _ = bad_file
    messages = []
    for engine in ("local", "spark"):
        argv = _argv(model, path, tmp_path / engine, "--engine", engine)
        argv[argv.index("--model") + 1] = str(tmp_path / "no-such-model")
        capsys.readouterr()
        assert main(argv) == 2
        messages.append(capsys.readouterr().err.strip().splitlines()[-1])
    assert messages[0] == messages[1]


def test_inferred_as_of_and_row_numbers_of_a_dataset_of_files(spark, model, tmp_path):
    """Two files in a folder: rows numbered through the files; as-of inferred as one machine."""
    table, spoiled = seed_bad_accounts(model.histories.slice(0, 400), 10, model.as_of, seed=5)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 150), folder / "part-0.parquet")
    pq.write_table(table.slice(150), folder / "part-1.parquet")
    common = ["--model", str(model.artefact), "--batch-rows", "64"]
    local, remote = tmp_path / "local", tmp_path / "spark"

    def outputs(folder):
        return ["--out", str(folder / "s.parquet"), "--rejects", str(folder / "r.parquet")]

    assert main([str(whole), *common, *outputs(local)]) == 3
    assert main([str(folder), *common, "--engine", "spark", *outputs(remote)]) == 3
    report = compare(
        local / "s.parquet", local / "r.parquet", remote / "s.parquet", remote / "r.parquet"
    )
    assert equal(report), report
    rows = pq.read_table(remote / "r.parquet")["row"].to_pylist()
    assert set(spoiled) <= set(rows)
    assert any(r >= 150 for r in spoiled)  # numbered past the first file


def test_duplicated_ids_and_twins_found_over_the_whole_input(spark, model):
    import pyarrow as pa
    from pyspark.sql import functions as F

    from pipelines._score_spark import duplicated_ids

    ids = ["a", "b", "a", "c", None, None, "c", "c"]
    # Built in the JVM: a DataFrame of Python rows needs a Python worker of its own (seconds
    # to start). Two partitions of four rows each: "c" is repeated within and across them.
    column = F.array(*[F.lit(i).cast("string") for i in ids])
    df = spark.range(0, len(ids), numPartitions=2).select(
        F.element_at(column, F.col("id").cast("int") + 1).alias(C.ACCOUNT_ID)
    )
    layout = df.select(F.spark_partition_id().alias("p"), C.ACCOUNT_ID).collect()
    assert [(r.p, r[C.ACCOUNT_ID]) for r in layout] == [(i // 4, v) for i, v in enumerate(ids)]
    found = duplicated_ids(df)
    assert sorted(found.to_pylist(), key=str) == sorted(["a", "c", None], key=str)
    assert found.type == pa.string()
