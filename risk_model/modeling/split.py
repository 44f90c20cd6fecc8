"""Train / validation / out-of-time split of snapshot rows.

By time (the default whenever there are enough labelled months): with labelled month ends
``m_1 < ... < m_n``, the last ``oot_months`` form the out-of-time (OOT) test window, the
``val_months`` before them (less a gap) the validation window, and the rest (less a gap)
the train window. The gap defaults to ``horizon - 1`` months, dropped between train and
validation and between validation and OOT: the last train label window
``(t, t + H]`` then ends exactly at the first validation as-of date, so no label window
overlaps the next part and every label used before a part was observable at its start
(as in deployment, where the newest labels are ``H`` months old).

By account (fallback): when the data has a single labelled month (a typical real
extract) or too few months for the windows above, accounts are split stratified by
their label (any positive row) with a seeded permutation; all rows of an account stay in
one part. The split kind and the reason are reported (and logged to MLflow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_model.modeling.config import SplitConfig

TRAIN, VAL, OOT, GAP = 0, 1, 2, -1
PART_NAMES = {TRAIN: "train", VAL: "val", OOT: "oot", GAP: "gap"}


@dataclass(frozen=True)
class Split:
    """Assignment of every row to a part.

    Parameters
    ----------
    kind : str
        ``time`` or ``account``.
    part : numpy.ndarray
        Per row: 0 train, 1 validation, 2 OOT, -1 dropped (gap).
    months : dict
        ISO month ends per part name (all months for every part in an account split).
    reason : str
        Why this kind of split was used.
    gap_months : int
        Months dropped at each boundary (time split).
    """

    kind: str
    part: np.ndarray
    months: dict[str, list[str]]
    reason: str
    gap_months: int

    def mask(self, name: str) -> np.ndarray:
        """Boolean row mask of ``train``, ``val``, ``oot`` or ``gap``."""
        code = {v: k for k, v in PART_NAMES.items()}[name]
        return self.part == code

    def summary(self) -> dict[str, object]:
        """Return counts and months per part (JSON-ready)."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "gap_months": self.gap_months,
            **{f"rows_{n}": int(self.mask(n).sum()) for n in ("train", "val", "oot", "gap")},
            **{f"months_{n}": self.months.get(n, []) for n in ("train", "val", "oot")},
        }


def _iso(values: np.ndarray) -> list[str]:
    return [str(v)[:10] for v in values]


def split_by_account(
    account_id: np.ndarray,
    label: np.ndarray,
    config: SplitConfig,
    seed: int,
) -> np.ndarray:
    """Part per row from a stratified, seeded split of accounts.

    Parameters
    ----------
    account_id, label : numpy.ndarray
        Per row.
    config : SplitConfig
        ``val_fraction`` and ``test_fraction`` are used.
    seed : int
        Seed of the permutation.

    Returns
    -------
    numpy.ndarray
        Part code per row (0 train, 1 val, 2 OOT).
    """
    accounts, inverse = np.unique(np.asarray(account_id), return_inverse=True)
    positive = np.zeros(len(accounts), dtype=bool)
    np.logical_or.at(positive, inverse, np.asarray(label) > 0)
    rng = np.random.default_rng(seed)
    account_part = np.full(len(accounts), TRAIN, dtype=np.int8)
    for stratum in (False, True):
        members = np.flatnonzero(positive == stratum)
        members = members[rng.permutation(len(members))]
        n_test = round(config.test_fraction * len(members))
        n_val = round(config.val_fraction * len(members))
        account_part[members[:n_test]] = OOT
        account_part[members[n_test : n_test + n_val]] = VAL
    return account_part[inverse]


def make_split(
    as_of: np.ndarray,
    account_id: np.ndarray,
    label: np.ndarray,
    config: SplitConfig,
    *,
    horizon_months: int,
    seed: int,
) -> Split:
    """Split snapshot rows by time, or by account when time cannot be used.

    Parameters
    ----------
    as_of : numpy.ndarray
        As-of date per row (``datetime64[D]`` or dates).
    account_id, label : numpy.ndarray
        Per row.
    config : SplitConfig
        Window sizes and fallback fractions.
    horizon_months : int
        Label horizon, default gap is ``horizon_months - 1``.
    seed : int
        Seed for the fallback split.

    Returns
    -------
    Split
        The assignment.
    """
    as_of = np.asarray(as_of).astype("datetime64[D]")
    months = np.unique(as_of)
    gap = horizon_months - 1 if config.gap_months is None else config.gap_months
    need = config.oot_months + config.val_months + 2 * gap + config.min_train_months
    if len(months) >= need:
        n_oot, n_val = config.oot_months, config.val_months
        oot = months[-n_oot:]
        val = months[-(n_oot + gap + n_val) : len(months) - (n_oot + gap)]
        train = months[: len(months) - (n_oot + gap + n_val + gap)]
        part = np.full(len(as_of), GAP, dtype=np.int8)
        part[np.isin(as_of, train)] = TRAIN
        part[np.isin(as_of, val)] = VAL
        part[np.isin(as_of, oot)] = OOT
        reason = f"{len(months)} labelled months >= {need} needed for time windows"
        named = {"train": _iso(train), "val": _iso(val), "oot": _iso(oot)}
        return Split("time", part, named, reason, gap)
    if len(months) == 1:
        reason = "single as-of month: split by account (stratified, seeded)"
    else:
        reason = (
            f"only {len(months)} labelled months (< {need} needed for train/gap/val/gap/oot):"
            " split by account (stratified, seeded)"
        )
    part = split_by_account(account_id, label, config, seed)
    every = _iso(months)
    named = {"train": every, "val": every, "oot": every}
    return Split("account", part, named, reason, 0)
