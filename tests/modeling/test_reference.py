import json

import numpy as np
import pandas as pd
import pytest

from modeling.modeling_helpers import FEATURES
from risk_model.modeling.artefact import load_artefact, save_artefact
from risk_model.modeling.artefact_files import CHECKSUMS_FILE, REFERENCE_FILE, checksums_bytes
from risk_model.modeling.errors import ModelLoadError
from risk_model.modeling.metrics import psi_edges
from risk_model.modeling.package import in_memory_artefact
from risk_model.modeling.reference import build_reference, parse_reference, reference_of_rows

BANDS = ("very_low", "low", "medium", "high", "very_high")


def _rows(frame):
    rows = frame.loc[frame["as_of"] == frame["as_of"].max()].copy()
    rows.loc[rows.index[:100], "f_noise"] = np.nan  # some missing values
    return rows


@pytest.fixture(scope="module")
def reference(trained, spec, frame):
    art = in_memory_artefact(trained.booster, spec, None)
    return reference_of_rows(art, _rows(frame), window="sel")


def test_reference_describes_the_rows_it_was_built_from(reference, trained, spec, frame):
    rows = _rows(frame)
    art = in_memory_artefact(trained.booster, spec, None)
    prob = art.predict_proba(art.matrix(rows))
    assert reference.rows == len(rows) == 1500
    assert reference.as_of == (str(rows["as_of"].max())[:10],) * 2
    # The stored bins are training's PSI bins of these probabilities.
    assert np.array_equal(reference.score.edges, psi_edges(prob))
    assert reference.score.shares_of(prob).tolist() == list(reference.score.shares)
    assert reference.feature("f_noise").missing_rate == pytest.approx(100 / 1500)
    assert reference.feature("f_up").missing_rate == 0.0
    bands = art.bands(prob)
    assert reference.band_shares == tuple(float(np.mean(bands == b)) for b in BANDS)
    assert sum(reference.band_shares) == pytest.approx(1.0)


def _saved(tmp_path, trained, spec, reference):
    art = dict(booster=trained.booster, spec=spec, merchant_risk=None, reference=reference)
    return save_artefact(tmp_path / "art", **art)


def test_artefact_round_trips_the_reference_under_its_checksum(tmp_path, trained, spec, reference):
    path = _saved(tmp_path, trained, spec, reference)
    assert REFERENCE_FILE in json.loads((path / CHECKSUMS_FILE).read_text())["files"]
    assert load_artefact(path).reference == reference
    # Negative twin: one changed share is refused by the checksum.
    text = (path / REFERENCE_FILE).read_text().replace('"rows": 1500', '"rows": 1501')
    (path / REFERENCE_FILE).write_text(text)
    with pytest.raises(ModelLoadError, match=r"checksum mismatch for reference\.json"):
        load_artefact(path)


def test_artefact_without_reference_loads_and_scores(tmp_path, trained, spec, frame):
    path = save_artefact(tmp_path / "old", booster=trained.booster, spec=spec, merchant_risk=None)
    assert not (path / REFERENCE_FILE).exists()
    art = load_artefact(path)
    assert art.reference is None
    x = art.matrix(frame.head(50))
    assert np.isfinite(art.predict_proba(x)).all()


def test_reference_added_without_checksum_is_refused(tmp_path, trained, spec, reference):
    path = save_artefact(tmp_path / "art", booster=trained.booster, spec=spec, merchant_risk=None)
    (path / REFERENCE_FILE).write_bytes(reference.to_bytes())
    with pytest.raises(ModelLoadError, match="unexpected file"):
        load_artefact(path)


def _resigned(path, body):
    """Rewrite reference.json and its checksum (a consistent but malformed artefact)."""
    (path / REFERENCE_FILE).write_text(json.dumps(body))
    files = {p.name: p.read_bytes() for p in path.iterdir() if p.name != CHECKSUMS_FILE}
    (path / CHECKSUMS_FILE).write_bytes(checksums_bytes(files))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["score"].update(shares=[0.5] * len(b["score"]["shares"])), "add up to 1"),
        (lambda b: b["score"].update(edges=b["score"]["edges"][::-1]), "strictly increasing"),
        (lambda b: b["features"].reverse(), "model's feature_names"),
        (lambda b: b["bands"].update(names=["a", "b"]), "model's bands"),
        (lambda b: b.update(format_version=2), "unsupported format"),
        (lambda b: b["features"][0].update(missing_rate=1.5), r"in \[0.0, 1.0\]"),
        (lambda b: b["features"][1].update(edges=None, shares=None), "no bins"),
    ],
)
def test_malformed_reference_is_refused_on_load(
    tmp_path, trained, spec, reference, change, message
):
    path = _saved(tmp_path, trained, spec, reference)
    body = reference.to_dict()
    change(body)
    _resigned(path, body)
    with pytest.raises(ModelLoadError, match=f"reference.json: .*{message}"):
        load_artefact(path)


def test_parse_accepts_what_to_bytes_writes(reference):
    again = parse_reference(
        reference.to_bytes(), where="r", feature_names=FEATURES, band_names=BANDS
    )
    assert again == reference


def test_feature_without_any_value_has_no_bins():
    x = np.column_stack([np.arange(20.0), np.full(20, np.nan)])
    ref = build_reference(
        prob=np.linspace(0.01, 0.2, 20),
        bands=np.array(["low"] * 20, dtype=object),
        features=x,
        feature_names=["a", "b"],
        band_names=["low", "high"],
        as_of=[pd.Timestamp("2024-01-31")] * 20,
    )
    assert ref.feature("b").values is None and ref.feature("b").missing_rate == 1.0
    assert ref.band_shares == (1.0, 0.0)
    parsed = parse_reference(
        ref.to_bytes(), where="r", feature_names=["a", "b"], band_names=["low", "high"]
    )
    assert parsed == ref
    with pytest.raises(ValueError, match="unknown band"):
        build_reference(
            prob=np.full(20, 0.1),
            bands=np.array(["odd"] * 20, dtype=object),
            features=x,
            feature_names=["a", "b"],
            band_names=["low", "high"],
            as_of=[pd.Timestamp("2024-01-31")] * 20,
        )
