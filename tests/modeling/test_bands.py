"""Band edges derived from the data: shares, ties, determinism, fallbacks, the artefact."""

import json

import numpy as np
import pytest

from modeling.modeling_helpers import FEATURES
from risk_model.modeling.artefact import ArtefactError, load_artefact, save_artefact
from risk_model.modeling.bands import band_shares, quantile_edges, training_scale
from risk_model.modeling.config import ScaleConfig
from risk_model.modeling.scale import ScoreScale

SHARES = ScaleConfig.band_shares


def _probabilities(base_rate: float, n: int = 20_000, seed: int = 0) -> np.ndarray:
    """Logit-normal scores around a base rate (a model of AUC ~0.8)."""
    z = np.random.default_rng(seed).normal(size=n)
    return 1.0 / (1.0 + np.exp(-(np.log(base_rate / (1 - base_rate)) + 1.3 * z)))


def _derived(prob: np.ndarray) -> ScoreScale:
    return training_scale(ScaleConfig(), prob, (prob > np.median(prob)).astype(float))


@pytest.mark.parametrize("base_rate", [0.005, 0.25])
def test_derived_edges_give_every_band_its_share_at_any_base_rate(base_rate):
    prob = _probabilities(base_rate)
    mix = band_shares(_derived(prob), prob)
    assert max(mix) <= 0.6
    assert mix == pytest.approx(SHARES, abs=0.002)


@pytest.mark.parametrize(("base_rate", "crowded"), [(0.005, "very_low"), (0.25, "very_high")])
def test_fixed_edges_crowd_one_band_at_the_same_base_rates(base_rate, crowded):
    # Negative twin: the configuration's fixed edges on the same scores crowd two bands.
    prob = _probabilities(base_rate)
    scale = ScoreScale.from_config(ScaleConfig())
    mix = dict(zip(scale.band_names, band_shares(scale, prob), strict=True))
    assert sum(sorted(mix.values())[-2:]) > 0.8 and max(mix, key=mix.get) == crowded


def test_fixed_rule_keeps_the_configured_edges_whatever_the_data():
    prob = _probabilities(0.25)
    config = ScaleConfig(band_edges="fixed")
    scale = training_scale(config, prob, np.zeros_like(prob))
    assert scale.band_thresholds == config.band_thresholds
    assert scale.band_origin == {"rule": "fixed", "source": "configuration"}


def test_derived_edges_are_deterministic_and_ignore_row_order():
    prob = _probabilities(0.05, seed=3)
    shuffled = np.random.default_rng(9).permutation(prob)
    assert quantile_edges(prob, SHARES) == quantile_edges(prob, SHARES)
    assert quantile_edges(shuffled, SHARES) == quantile_edges(prob, SHARES)


def test_other_scores_give_other_edges():
    # Negative twin of determinism: the edges do follow the data.
    assert quantile_edges(_probabilities(0.05), SHARES) != quantile_edges(
        _probabilities(0.25), SHARES
    )


def test_edges_fall_between_distinct_tied_values():
    # Isotonic calibration repeats values: no edge may split a tie.
    prob = np.repeat([0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6], [35, 20, 15, 10, 10, 5, 5])
    edges = quantile_edges(prob, SHARES)
    assert list(edges) == sorted(set(edges)) and len(edges) == 4
    assert not set(edges) & set(prob.tolist())
    scale = ScoreScale().with_edges(edges, {"rule": "quantiles"})
    assert band_shares(scale, prob) == pytest.approx((0.35, 0.35, 0.2, 0.05, 0.05))


def test_a_heavy_tie_forces_a_crowded_band():
    # "Unless the data forces it": 70% of the rows share one probability.
    prob = np.concatenate([np.full(700, 0.02), np.linspace(0.03, 0.5, 300)])
    scale = _derived(prob)
    assert max(band_shares(scale, prob)) == pytest.approx(0.7)
    assert scale.band_origin["rule"] == "quantiles"


def test_too_few_distinct_probabilities_keep_the_fixed_edges_and_say_why():
    prob = np.repeat([0.01, 0.05, 0.2], 100)
    with pytest.raises(ValueError, match="3 distinct probabilities cannot make 5 bands"):
        quantile_edges(prob, SHARES)
    scale = _derived(prob)
    assert scale.band_thresholds == ScaleConfig.band_thresholds
    assert scale.band_origin["rule"] == "fixed" and "3 distinct" in scale.band_origin["why"]
    assert "3 distinct" in scale.band_note()


@pytest.mark.parametrize("bad", [[], [0.1, np.nan], [0.1, 1.5], [-0.1, 0.2]])
def test_invalid_probabilities_are_refused(bad):
    with pytest.raises(ValueError, match="finite probabilities"):
        quantile_edges(np.array(bad), SHARES)


def test_derived_origin_records_the_window_and_the_observed_mix():
    prob = _probabilities(0.02)
    label = (np.random.default_rng(1).random(prob.size) < prob).astype(float)
    origin = training_scale(ScaleConfig(), prob, label).band_origin
    assert origin["rule"] == "quantiles" and origin["window"] == "selection"
    assert origin["rows"] == prob.size and origin["base_rate"] == pytest.approx(label.mean())
    assert origin["observed"] == pytest.approx(SHARES, abs=0.002)


def test_points_and_bands_agree_away_from_the_edges():
    # Points are for display: reading a band from them must agree with the probability's
    # band wherever points are not clipped and p is not within rounding of an edge.
    prob = _probabilities(0.22, n=5000)
    scale = _derived(prob)
    points, cuts = scale.points(prob), scale.band_points_cuts()
    unclipped = (points > scale.min_points) & (points < scale.max_points)
    edges = np.asarray(scale.band_thresholds)
    far = np.min(np.abs(prob[:, None] - edges[None, :]), axis=1) > 1e-9
    from_points = (points[:, None] <= cuts[None, :]).sum(axis=1)
    from_prob = np.searchsorted(edges, prob, "right")
    keep = unclipped & far
    assert keep.sum() > 4500
    np.testing.assert_array_equal(from_points[keep], from_prob[keep])


def test_a_probability_at_a_derived_edge_is_in_the_higher_band():
    scale = _derived(_probabilities(0.22, n=5000))
    for i, edge in enumerate(scale.band_thresholds):
        bands = scale.band_of_prob(np.array([np.nextafter(edge, 0.0), edge])).tolist()
        assert bands == [scale.band_names[i], scale.band_names[i + 1]]


# --- the artefact ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def derived_spec(trained, spec, frame):
    prob = trained.predict_proba(frame[FEATURES].to_numpy())
    scale = training_scale(ScaleConfig(), prob, frame["label"].to_numpy(dtype=float))
    return spec | {"scale": scale.to_dict()}, scale, prob


def test_derived_edges_round_trip_through_the_artefact(tmp_path, trained, derived_spec):
    spec, scale, prob = derived_spec
    save_artefact(tmp_path / "a", booster=trained.booster, spec=spec, merchant_risk=None)
    art = load_artefact(tmp_path / "a")
    assert art.scale == scale and art.scale.band_origin == scale.band_origin
    assert art.bands(prob).tolist() == scale.band_of_prob(prob).tolist()
    assert max(band_shares(art.scale, prob)) <= 0.6
    assert "derived from" in art.scale.band_note()


def test_an_artefact_without_band_origin_loads_with_its_stored_fixed_edges(tmp_path, trained, spec):
    old = json.loads(json.dumps(spec))
    old["scale"].pop("band_origin", None)  # as written before edges were derived
    save_artefact(tmp_path / "old", booster=trained.booster, spec=old, merchant_risk=None)
    art = load_artefact(tmp_path / "old")
    assert art.scale.band_origin is None
    assert art.scale.band_thresholds == tuple(old["scale"]["band_thresholds"])
    assert "trained before edges were derived" in art.scale.band_note()


def test_a_stored_origin_with_an_unknown_rule_is_refused(tmp_path, trained, derived_spec):
    spec, _, _ = derived_spec
    bad = json.loads(json.dumps(spec))
    bad["scale"]["band_origin"]["rule"] = "guess"
    with pytest.raises(ArtefactError, match="band_origin"):
        save_artefact(tmp_path / "bad", booster=trained.booster, spec=bad, merchant_risk=None)


# --- a trained model: training stores the edges, scoring and monitoring read them ---------


def test_training_stores_derived_edges_and_a_reference_band_mix_with_them(predictor):
    scale, reference = predictor.artefact.scale, predictor.artefact.reference
    origin = scale.band_origin
    assert origin["rule"] == "quantiles" and origin["window"] == "selection"
    assert max(origin["observed"]) <= 0.6
    assert origin["observed"] == pytest.approx(origin["shares"], abs=0.02)
    assert scale.band_thresholds != ScaleConfig.band_thresholds
    assert reference.band_names == scale.band_names and max(reference.band_shares) <= 0.6


def test_scored_bands_are_the_artefacts_bands_of_the_probability(predictor, model):
    scores = predictor.predict(model.histories.slice(0, 300), model.as_of, reasons="none")
    prob = scores["probability"].to_numpy()
    assert scores["band"].tolist() == predictor.artefact.scale.band_of_prob(prob).tolist()
    fixed = ScoreScale.from_config(ScaleConfig()).band_of_prob(prob)
    assert scores["band"].tolist() != fixed.tolist()  # twin: not the configuration's edges
