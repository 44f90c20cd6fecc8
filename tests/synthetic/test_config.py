import datetime as dt

import pytest

from risk_model.policy import PolicyCalendar
from risk_model.synthetic import WorldConfig, default_policy
from risk_model.synthetic.config import config_from_dict, month_index


def test_defaults_and_derived_policy():
    config = WorldConfig()
    assert (config.n_accounts, config.n_months, config.seed, config.horizon) == (20000, 36, 7, 3)
    assert config.policy == default_policy("2023-01", 36)
    sweeps = [month_index(config, d) for d in config.policy.regulatory_sweeps]
    assert sweeps == [12, 26]
    assert month_index(config, config.policy.migration_offer) == 6
    assert month_index(config, config.policy.migration_deadline) == 20


def test_round_trip_through_dict():
    config = WorldConfig(n_accounts=10, n_months=12, start="2024-05", seed=3)
    assert config_from_dict(config.to_dict()) == config


def test_chunk_size_rounds_up_to_blocks():
    assert WorldConfig(chunk_size=7, block_size=5).effective_chunk_size == 10
    assert WorldConfig(chunk_size=10, block_size=5).effective_chunk_size == 10


def test_explicit_policy_is_kept():
    policy = PolicyCalendar(regulatory_sweeps=(dt.date(2023, 3, 1),))
    assert WorldConfig(policy=policy).policy is policy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_accounts": 0}, "n_accounts must be a positive integer"),
        ({"n_months": -1}, "n_months must be a positive integer"),
        ({"horizon": 0}, "horizon must be a positive integer"),
        ({"horizon": 30}, "horizon must be at most 24"),
        ({"n_accounts": 2.5}, "n_accounts must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"start": "2023-13"}, "start must be a month"),
        ({"start": "23-01"}, "start must be a month"),
        ({"legacy_share": 1.5}, "legacy_share must be a probability"),
        ({"refund_rate": -0.1}, "refund_rate must be a probability"),
        ({"n_merchants": 10}, "n_merchants must be an integer >= 100"),
        ({"purchases_per_month": 0.0}, "purchases_per_month must be in"),
        ({"policy": "2024-01-01"}, "policy must be a PolicyCalendar"),
    ],
)
def test_invalid_parameters_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorldConfig(**kwargs)


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="unknown WorldConfig keys"):
        config_from_dict({"n_accounts": 5, "accounts": 5})
