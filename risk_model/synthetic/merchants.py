"""Merchants of the synthetic world and vectorised merchant picking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model import contract as C
from risk_model.synthetic.config import (
    CATEGORY_COLLUSION_WEIGHT,
    CATEGORY_MERCHANT_SHARE,
    MERCHANT_CATEGORIES,
    WorldConfig,
)

MERCHANT_STREAM = 1  # SeedSequence child key of the merchant table (blocks use key 0)


@dataclass(frozen=True)
class MerchantPool:
    """Merchants as arrays, sorted by category for fast in-category picking.

    Parameters
    ----------
    ids : pyarrow.Array
        Merchant ids (string), in pool order.
    category : numpy.ndarray
        Category index of each merchant (ascending).
    colluding : numpy.ndarray
        Boolean truth flag of each merchant.
    cumulative : numpy.ndarray
        ``category + within-category cumulative popularity`` (ascending in ``[0, n_cat]``).
    """

    ids: pa.Array
    category: np.ndarray
    colluding: np.ndarray
    cumulative: np.ndarray

    @property
    def colluding_index(self) -> np.ndarray:
        """Pool positions of the colluding merchants."""
        return np.flatnonzero(self.colluding)

    def pick(self, category: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Pick one merchant per draw within the given categories, by popularity.

        Parameters
        ----------
        category : numpy.ndarray
            Category index per draw.
        u : numpy.ndarray
            Uniform(0, 1) per draw.

        Returns
        -------
        numpy.ndarray
            Pool positions.
        """
        pos = np.searchsorted(self.cumulative, category + u, side="right")
        return np.minimum(pos, len(self.cumulative) - 1)

    def table(self) -> pa.Table:
        """Return the merchants as a table with ``MERCHANTS_SCHEMA``, sorted by id."""
        names = pa.array(MERCHANT_CATEGORIES).take(pa.array(self.category))
        table = pa.Table.from_arrays(
            [self.ids, names, pa.array(self.colluding)], schema=C.MERCHANTS_SCHEMA
        )
        return table.sort_by(C.MERCHANT_ID)


def make_pool(config: WorldConfig) -> MerchantPool:
    """Draw the merchant population of a world (same seed -> same merchants).

    Parameters
    ----------
    config : WorldConfig
        World parameters (``seed``, ``n_merchants``, ``colluding_merchant_share``).

    Returns
    -------
    MerchantPool
        Merchants sorted by category; about 1% colluding, mostly snack stalls and online shops.
    """
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(MERCHANT_STREAM,)))
    n = config.n_merchants
    n_cat = len(MERCHANT_CATEGORIES)
    category = np.sort(rng.choice(n_cat, size=n, p=np.array(CATEGORY_MERCHANT_SHARE)))
    # Make sure every category has at least one merchant.
    category[:n_cat] = np.arange(n_cat)
    category = np.sort(category, kind="stable")
    weight = np.array(CATEGORY_COLLUSION_WEIGHT)[category]
    n_colluding = max(1, round(config.colluding_merchant_share * n))
    colluding = np.zeros(n, dtype=bool)
    colluding[rng.choice(n, size=n_colluding, replace=False, p=weight / weight.sum())] = True
    popularity = rng.lognormal(0.0, 1.2, size=n) * np.where(colluding, 0.3, 1.0)
    cumulative = np.empty(n)
    for c in range(n_cat):
        members = category == c
        share = np.cumsum(popularity[members])
        cumulative[members] = c + share / share[-1]
    # Ids are assigned in a random order so that id order does not reveal the category.
    number = rng.permutation(n) + 1
    ids = pc.binary_join_element_wise(
        "M", pc.utf8_lpad(pc.cast(pa.array(number), pa.string()), 6, "0"), ""
    )
    return MerchantPool(ids=ids, category=category, colluding=colluding, cumulative=cumulative)


def make_merchants(config: WorldConfig) -> pa.Table:
    """Return the merchants table (``MERCHANTS_SCHEMA``) of the world described by ``config``."""
    return make_pool(config).table()
