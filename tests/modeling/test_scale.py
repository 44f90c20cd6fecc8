import numpy as np
import pytest

from risk_model.modeling.config import ConfigError, ScaleConfig
from risk_model.modeling.scale import ScoreScale


def test_base_points_at_base_odds_and_pdo():
    scale = ScoreScale()
    assert scale.points(np.array([1 / 20]))[0] == pytest.approx(600.0)
    # 38:1 good:bad odds = twice the base odds -> +50 points
    assert scale.points(np.array([1 / 39]))[0] == pytest.approx(650.0)
    assert scale.points(np.array([1 / 10.5]))[0] == pytest.approx(550.0)


def test_points_are_clipped_and_decreasing():
    scale = ScoreScale()
    p = np.array([1e-9, 0.001, 0.05, 0.5, 0.999999])
    pts = scale.points(p)
    assert pts[0] == 950.0 and pts[-1] == 350.0
    assert np.all(np.diff(pts) <= 0)


def test_band_of_prob_inside_bands():
    scale = ScoreScale()
    p = np.array([0.001, 0.0099, 0.0101, 0.05, 0.079, 0.081, 0.19, 0.21, 0.9])
    assert scale.band_of_prob(p).tolist() == [
        "very_low",
        "very_low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "very_high",
        "very_high",
    ]


@pytest.mark.parametrize("i", range(4))
def test_probability_exactly_at_an_edge_goes_to_the_higher_band(i):
    scale = ScoreScale()
    edge = scale.band_thresholds[i]
    below, above = np.nextafter(edge, 0.0), np.nextafter(edge, 1.0)
    bands = scale.band_of_prob(np.array([below, edge, above])).tolist()
    lower, higher = scale.band_names[i], scale.band_names[i + 1]
    assert bands == [lower, higher, higher]


@pytest.mark.parametrize("i", range(4))
def test_probability_just_below_an_edge_stays_in_the_lower_band(i):
    # Negative twin of the edge rule: one step below the edge is not the higher band.
    scale = ScoreScale()
    below = np.nextafter(scale.band_thresholds[i], 0.0)
    assert scale.band_of_prob(np.array([below]))[0] != scale.band_names[i + 1]


def test_edges_follow_a_custom_scale():
    scale = ScoreScale(band_names=("a", "b"), band_thresholds=(0.5,))
    assert scale.band_of_prob(np.array([0.0, 0.4999, 0.5, 1.0])).tolist() == ["a", "a", "b", "b"]


def test_there_is_no_band_from_points():
    # Points are rounded through a log: at p = 0.01 a points read could say very_low.
    assert not hasattr(ScoreScale, "band_of_points")


def test_round_trip_and_config():
    scale = ScoreScale.from_config(ScaleConfig(pdo=40.0))
    again = ScoreScale.from_dict(scale.to_dict())
    assert again == scale
    assert scale.to_dict()["factor"] == pytest.approx(40 / np.log(2))


def test_invalid_scale_is_refused():
    with pytest.raises(ConfigError):
        ScoreScale(band_thresholds=(0.5, 0.1, 0.2, 0.3))
    with pytest.raises(ConfigError):
        ScoreScale(pdo=0.0)
