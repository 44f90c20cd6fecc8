import pytest

from risk_model.modeling.config import ConfigError, TrainConfig
from risk_model.modeling.config_load import load_config


def test_defaults_are_valid_and_flat_names_are_dotted():
    config = load_config()
    assert config == TrainConfig()
    flat = config.flat()
    assert flat["model.num_threads"] == 2
    assert flat["horizon_months"] == 3
    assert flat["scale.base_points"] == 600.0


def test_toml_sections_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("seed = 3\n[split]\noot_months = 2\n[model]\nlearning_rate = 0.1\n")
    config = load_config(path, {"model.num_threads": 2, "seed": None, "split.val_months": 4})
    assert config.seed == 3  # None override ignored
    assert config.split.oot_months == 2
    assert config.split.val_months == 4
    assert config.model.learning_rate == 0.1
    assert config.model.num_threads == 2


def test_max_depth_minus_one_means_no_limit_and_positive_depths_are_accepted():
    assert load_config(overrides={"model.max_depth": -1}).model.max_depth == -1
    assert load_config(overrides={"model.max_depth": 3}).model.max_depth == 3


def test_integer_given_for_float_is_accepted():
    assert load_config(overrides={"scale.pdo": 40}).scale.pdo == 40.0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("colour = 1\n", "unknown config key"),
        ("[model]\nleaves = 3\n", r"unknown config key\(s\) in \[model\]: leaves"),
        ("[nosuch]\na = 1\n", "unknown config key"),
        ("[model]\nnum_threads = 'two'\n", "model.num_threads must be an integer"),
        ("[model]\nmonotone = 1\n", "model.monotone must be true or false"),
        ("model = 3\n", "model must be a table"),
        ("horizon_months = 0\n", "horizon_months"),
        ("[model]\nnum_threads = 0\n", "num_threads"),
        ("[model]\nlearning_rate = 2.0\n", "learning_rate"),
        ("[model]\nmax_depth = 0\n", "model.max_depth"),
        ("[model]\nmax_depth = -2\n", "model.max_depth"),
        ("[calibration]\nmethod = 'spline'\n", "calibration.method"),
        ("[scale]\nband_thresholds = [0.2, 0.1, 0.3, 0.4]\n", "ascending"),
        ("[scale]\nband_names = ['a', 'b']\n", "one more entry"),
        ("[scale]\nmin_points = 900.0\nmax_points = 800.0\n", "min_points"),
        ("[split]\nval_fraction = 0.5\ntest_fraction = 0.5\n", "< 0.9"),
        ("[snapshot]\naccount_fraction = 0.0\n", "account_fraction"),
    ],
)
def test_bad_values_are_refused_with_the_key_name(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(broken)
