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
    features = load_config().features
    assert features.fill_missing["months_to_sweep"] == 12.0
    assert features.clip_max["months_since_sweep"] == 12.0


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
