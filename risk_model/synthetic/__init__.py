"""Synthetic credit world with exact closure probabilities (the truth) per account and month.

Public API: :class:`WorldConfig`, :func:`iter_world` (chunks of Arrow tables),
:func:`generate_world` (whole small worlds), :func:`make_merchants`, :func:`world_stats`,
:func:`write_world` (parquet files plus a manifest, as ``python -m pipelines.generate`` writes
them), :func:`read_world` (load them back),
:func:`statements_only_extract` (a real-shaped, single-as-of, statements-only cut).
"""

from risk_model.synthetic.config import CAUSE_PRIORITY, WorldConfig, default_policy
from risk_model.synthetic.extract import statements_only_extract
from risk_model.synthetic.io import ensure_world, read_world, write_world
from risk_model.synthetic.merchants import make_merchants
from risk_model.synthetic.summary import WorldStats, world_stats
from risk_model.synthetic.world import World, WorldChunk, generate_world, iter_world

__all__ = [
    "CAUSE_PRIORITY",
    "World",
    "WorldChunk",
    "WorldConfig",
    "WorldStats",
    "default_policy",
    "ensure_world",
    "generate_world",
    "iter_world",
    "make_merchants",
    "read_world",
    "statements_only_extract",
    "world_stats",
    "write_world",
]
