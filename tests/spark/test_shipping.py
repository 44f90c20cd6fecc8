"""The artefact reaches the executors once and is verified there before any scoring."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from risk_model.predict import ModelLoadError, load
from risk_model.spark.shipping import ShippedModel, executor_predictor, model_error, ship_model


def _copy_under_spark_files(artefact, name):
    """A copy where executors look for shipped files (not registered: Spark ignores it)."""
    from pyspark import SparkFiles

    target = SparkFiles.get(name)
    shutil.copytree(artefact, target)
    return target


def _fingerprint(folder) -> str:
    return hashlib.sha256((folder / "checksums.json").read_bytes()).hexdigest()


def test_ship_model_adds_the_verified_folder_once(spark, model):
    shipped = ship_model(spark, model.artefact)
    assert shipped.source == str(model.artefact)
    assert shipped.fingerprint == _fingerprint(model.artefact)
    assert shipped.version == load(model.artefact).model_version
    assert any(shipped.name in f for f in spark.sparkContext.listFiles)

    def versions(batches):
        predictor = executor_predictor(shipped)
        for batch in batches:
            # the same object for every batch and task of this worker: loaded once
            yield pa.RecordBatch.from_pydict(
                {
                    "v": [predictor.model_version] * batch.num_rows,
                    "id": [id(predictor)] * batch.num_rows,
                }
            )

    rows = spark.range(0, 40, numPartitions=4).mapInArrow(versions, "v string, id long").collect()
    assert {r.v for r in rows} == {shipped.version}
    assert len({r.id for r in rows}) <= spark.sparkContext.defaultParallelism


@pytest.mark.fails_a_task
@pytest.mark.parametrize("damage", ["model.txt", "checksums.json"])
def test_an_executor_refuses_an_altered_copy_naming_the_drivers_folder(
    spark, model, tmp_path, damage
):
    """A copy altered on the executor fails the task, with one machine's message."""
    name = f"altered-{uuid.uuid4().hex[:8]}"
    local = _copy_under_spark_files(model.artefact, name)
    reference = tmp_path / "reference"
    shutil.copytree(model.artefact, reference)
    for folder in (local, reference):
        folder = Path(folder)
        if damage == "model.txt":
            with (folder / "model.txt").open("a") as handle:
                handle.write("\n")
        else:  # a consistent re-listing: files and checksums agree, but not the driver's
            sums = json.loads((folder / "checksums.json").read_text())
            spec = (folder / "spec.json").read_bytes() + b" "
            (folder / "spec.json").write_bytes(spec)
            sums["files"]["spec.json"] = hashlib.sha256(spec).hexdigest()
            (folder / "checksums.json").write_text(json.dumps(sums))
    shipped = ShippedModel(name, str(reference), _fingerprint(model.artefact), "v")

    def score(batches):
        executor_predictor(shipped)
        yield from batches

    # One task: it fails the job, and a Python worker whose task failed exits (a later task
    # would start a new one, re-importing the scoring stack: seconds of CPU; hence the mark).
    with pytest.raises(Exception) as failed:
        spark.range(0, 4, numPartitions=1).mapInArrow(score, "id long").collect()
    message = model_error(failed.value)
    if damage == "model.txt":
        with pytest.raises(ModelLoadError) as one_machine:
            load(reference)
        assert message == str(one_machine.value).splitlines()[0]
    else:
        assert message.startswith(f"{reference}/checksums.json: sha256: checksums differ")


def test_driver_side_load_errors_are_one_machines(spark, tmp_path):
    with pytest.raises(ModelLoadError) as spark_error:
        ship_model(spark, tmp_path / "none")
    with pytest.raises(ModelLoadError) as local_error:
        load(tmp_path / "none")
    assert str(spark_error.value) == str(local_error.value)


def test_a_registered_model_is_downloaded_verified_and_shipped(spark, model):
    uri = "models:/closure-risk@champion"
    shipped = ship_model(spark, uri, tracking_uri=model.tracking_uri)
    assert shipped.version == load(uri, tracking_uri=model.tracking_uri).model_version

    def version(batches):
        for batch in batches:
            yield pa.RecordBatch.from_pydict(
                {"v": [executor_predictor(shipped).model_version] * batch.num_rows}
            )

    rows = spark.range(0, 2, numPartitions=1).mapInArrow(version, "v string").collect()
    assert {r.v for r in rows} == {shipped.version}
