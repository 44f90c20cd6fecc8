import json

import pytest
from mlflow.tracking import MlflowClient

from risk_model.model_source import DEFAULT_MODEL, ModelLoadError, load_model_artefact


@pytest.fixture(scope="module")
def version(model) -> str:
    return json.loads((model.artefact / "spec.json").read_text(encoding="utf-8"))["version"]


def test_every_way_of_naming_the_champion_loads_the_same_artefact(model, version):
    run_id = (
        MlflowClient(model.tracking_uri)
        .get_model_version_by_alias("closure-risk", "champion")
        .run_id
    )
    named = [model.artefact, str(model.artefact), DEFAULT_MODEL, f"runs:/{run_id}/model", run_id]
    for name in named:
        loaded = load_model_artefact(name, tracking_uri=model.tracking_uri)
        assert loaded.spec["version"] == version, name


def test_unknown_models_are_refused_naming_the_store(model, tmp_path):
    with pytest.raises(
        ModelLoadError, match=r"cannot load model 'models:/closure-risk@nope' from sqlite"
    ):
        load_model_artefact("models:/closure-risk@nope", tracking_uri=model.tracking_uri)
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(ModelLoadError, match="closure-risk@champion"):
        load_model_artefact(tracking_uri=empty)
    with pytest.raises(ModelLoadError, match="not found: give an artefact directory"):
        load_model_artefact(tmp_path / "no-such-folder", tracking_uri=model.tracking_uri)
