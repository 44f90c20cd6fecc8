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


def test_bands_from_points_agree_with_bands_from_probability():
    scale = ScoreScale()
    p = np.array([0.001, 0.0099, 0.0101, 0.05, 0.079, 0.081, 0.19, 0.21, 0.9])
    by_p = scale.band_of_prob(p)
    assert by_p.tolist() == [
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
    assert scale.band_of_points(scale.points(p)).tolist() == by_p.tolist()


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
