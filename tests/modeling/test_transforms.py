import numpy as np
import pytest

from risk_model.modeling.config import ConfigError
from risk_model.modeling.config_load import load_config
from risk_model.modeling.transforms import apply_transforms, resolve_transforms


def test_fill_then_clip_and_nan_kept_elsewhere():
    names = ["a", "b", "c"]
    x = np.array([[np.nan, 50.0, np.nan], [3.0, -9.0, 1.0]], dtype=np.float32)
    transforms, unknown = resolve_transforms(
        {"fill_missing": {"a": 12.0, "zz": 1.0}, "clip_min": {"b": -3.0}, "clip_max": {"b": 12.0}},
        names,
    )
    assert unknown == ["zz"]
    out = apply_transforms(x, names, transforms)
    assert out[0, 0] == 12.0 and out[0, 1] == 12.0 and out[1, 1] == -3.0
    assert np.isnan(out[0, 2])  # untouched column keeps its NaN
    assert np.isnan(x[0, 0])  # input not modified
    assert out.dtype == np.float32


def test_no_transforms_is_identity():
    x = np.ones((2, 2))
    assert apply_transforms(x, ["a", "b"], None) is x
    assert apply_transforms(x, ["a", "b"], {"fill_missing": {}}) is x


def test_default_config_bounds_the_calendar_clocks():
    transforms = load_config().features.transforms(3)
    assert transforms["fill_missing"]["months_to_sweep"] == 3.0
    assert transforms["clip_max"]["months_to_sweep"] == 3.0
    assert transforms["clip_max"]["months_since_sweep"] == 12.0


def test_the_sweep_clock_follows_the_label_horizon_unless_set():
    features = load_config().features
    assert features.transforms(6)["clip_max"]["months_to_sweep"] == 6.0
    assert features.transforms(6)["fill_missing"]["months_to_sweep"] == 6.0
    # Twins: an explicit lookahead, or an explicit cap for the feature, wins over the horizon.
    fixed = load_config(overrides={"features.sweep_lookahead": 2.0}).features
    assert fixed.transforms(6)["clip_max"]["months_to_sweep"] == 2.0
    own = load_config(overrides={"features.clip_max": {"months_to_sweep": 9.0}}).features
    assert own.transforms(6)["clip_max"]["months_to_sweep"] == 9.0


def test_no_announced_sweep_reads_as_a_sweep_beyond_the_horizon():
    names = ["months_since_sweep", "months_to_sweep"]
    transforms, _ = resolve_transforms(load_config().features.transforms(3), names)
    # right after a sweep (next one 13 months away) versus no sweep announced at all
    x = np.array([[1.0, 13.0], [6.0, np.nan], [6.0, 5.0]], dtype=np.float32)
    out = apply_transforms(x, names, transforms)
    assert out[0, 1] == out[1, 1] == out[2, 1] == 3.0


def test_a_sweep_inside_the_horizon_and_the_time_since_one_stay_distinct():
    names = ["months_since_sweep", "months_to_sweep"]
    transforms, _ = resolve_transforms(load_config().features.transforms(3), names)
    x = np.array([[1.0, 2.0], [6.0, 0.5], [12.5, 3.5]], dtype=np.float32)
    out = apply_transforms(x, names, transforms)
    assert out[0, 1] == 2.0 and out[1, 1] == 0.5  # a sweep within the horizon is kept
    assert list(out[:, 0]) == [1.0, 6.0, 12.0]  # months since a sweep still capped at a year


def test_feature_tables_in_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[features]\nexclude = ["x"]\n[features.clip_max]\ndpd_now = 90\n')
    config = load_config(path)
    assert config.features.exclude == ("x",)
    assert config.features.clip_max == {"dpd_now": 90.0}
    path.write_text("[features]\nclip_max = 3\n")
    with pytest.raises(ConfigError, match=r"features\.clip_max must be a table"):
        load_config(path)
    path.write_text("[features.clip_min]\na = 5\n[features.clip_max]\na = 1\n")
    with pytest.raises(ConfigError, match="below"):
        load_config(path)
