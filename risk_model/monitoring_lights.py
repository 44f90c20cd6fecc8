"""The traffic lights of monitoring: which figure is green, amber, red or grey, and why.

The figures themselves (score PSI, band shift, CSI and missing-rate shift per feature) are
computed in :mod:`risk_model.monitoring`; this module holds only the rules that turn a
figure into a light.

* PSI, CSI and band shift: **green** below 0.10, **amber** from 0.10 to 0.25, **red**
  above 0.25 (:func:`psi_light`).
* Missing-rate shift (either direction): **green** below 5 pp, **amber** from 5 to 10 pp,
  **red** above 10 pp (:func:`missing_light`).
* **Grey** means not compared: no value on one side, a calendar feature (one value for
  every account at an as-of date: it measures the date, not the population), or too few
  values for the figure to mean anything.

Too few values. A batch of ``m`` rows against ``n`` reference rows over ``k`` bins shows a
PSI of about ``(k - 1)(1/m + 1/n)`` from sampling alone, and below a few values per bin the
PSI means nothing at all: a sparse feature with 15 present values against 20 showed a CSI
above 3 (red) on a batch of new accounts from the model's own world. So a PSI, CSI or band
shift is lit only when both sides hold at least :data:`MIN_PER_BIN` values per bin,
counting the bins that hold reference values (:func:`too_few_to_light`); otherwise its
light is grey. Sparse features that pass the rule still show more sampling noise than the
score: an amber CSI or two on a batch of a few thousand accounts is usually that.

The batch's light is the worst of its lights (:func:`worst`; grey ranks with green).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
LIGHTS = (GREEN, AMBER, RED)
PSI_AMBER, PSI_RED = 0.10, 0.25
MISSING_AMBER, MISSING_RED = 0.05, 0.10  # absolute change of the missing share
MIN_PER_BIN = 5  # values per bin each side needs for its PSI to be lit (too_few_to_light)


def psi_light(value: float | None) -> str:
    """Light of a PSI, CSI or band shift: green < 0.10 <= amber <= 0.25 < red; grey if none."""
    if value is None or not np.isfinite(value):
        return GREY
    if value < PSI_AMBER:
        return GREEN
    return RED if value > PSI_RED else AMBER


def missing_light(change: float) -> str:
    """Light of a missing-rate change: green < 5 pp <= amber <= 10 pp < red (either sign)."""
    size = abs(change)
    if size < MISSING_AMBER:
        return GREEN
    return RED if size > MISSING_RED else AMBER


def too_few_to_light(reference_shares: Sequence[float], batch: int, reference: int) -> bool:
    """Whether either side has fewer than :data:`MIN_PER_BIN` values per bin on average.

    ``batch`` and ``reference`` count the values compared on each side; only the bins that
    hold reference values count (:func:`bins_holding`). On quantile bins this is the
    chi-square test's rule of thumb (about five expected values per bin); a feature whose
    few bins are one common value and a rare one (a flag) is judged by its count, not by
    its rare bin, so a flag that turns common still lights.
    """
    return min(batch, reference) < MIN_PER_BIN * bins_holding(reference_shares)


def bins_holding(reference_shares: Sequence[float]) -> int:
    """Return the number of bins that hold reference values."""
    return sum(share > 0 for share in reference_shares)


def worst(lights: Sequence[str]) -> str:
    """Return the worst of ``lights``; grey ranks with green (all grey: grey; none: green)."""
    rank = {GREY: 0, GREEN: 0, AMBER: 1, RED: 2}
    return max(lights, key=rank.__getitem__, default=GREEN)
