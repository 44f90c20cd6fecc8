"""The rules that turn a monitoring figure into a light (risk_model.monitoring_lights)."""

from __future__ import annotations

import math

import pytest

from risk_model import monitoring_lights as L


@pytest.mark.parametrize(
    ("value", "light"),
    [
        (0.0, "green"),
        (0.0999, "green"),
        (0.10, "amber"),
        (0.25, "amber"),
        (0.2501, "red"),
        (None, "grey"),
        (math.nan, "grey"),
    ],
)
def test_psi_lights_follow_the_thresholds(value, light):
    assert L.psi_light(value) == light


@pytest.mark.parametrize(
    ("change", "light"),
    [(0.0, "green"), (0.049, "green"), (-0.05, "amber"), (0.10, "amber"), (-0.1001, "red")],
)
def test_missing_lights_follow_the_thresholds_in_both_directions(change, light):
    assert L.missing_light(change) == light


def test_too_few_values_counts_the_bins_that_hold_reference_values():
    # Two bins need ten values on each side; the smaller side decides.
    assert L.too_few_to_light((0.5, 0.5), 9, 1000)
    assert L.too_few_to_light((0.5, 0.5), 1000, 9)
    assert not L.too_few_to_light((0.5, 0.5), 10, 10)
    # Negative twin: a bin that holds no reference value is not counted.
    assert not L.too_few_to_light((0.0, 0.5, 0.5), 10, 10)
    assert L.bins_holding((0.0, 0.5, 0.5)) == 2
    # A flag's rare bin does not raise the bar: judged by the count of values.
    assert not L.too_few_to_light((0.999, 0.001), 10, 10)


def test_the_worst_light_wins_and_grey_ranks_with_green():
    assert L.worst(["green", "amber", "grey"]) == "amber"
    assert L.worst(["grey", "red", "amber"]) == "red"
    assert L.worst(["grey", "grey"]) == "grey"  # nothing compared: a calendar feature
    assert L.worst([]) == "green"
