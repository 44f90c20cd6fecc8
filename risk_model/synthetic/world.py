"""Generate the synthetic world block by block (memory bounded, chunk-size independent)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from risk_model.synthetic.accounts import draw_accounts
from risk_model.synthetic.calendar import SECONDS_PER_DAY, build_calendar
from risk_model.synthetic.config import WorldConfig
from risk_model.synthetic.latent import Chain
from risk_model.synthetic.merchants import MerchantPool, make_pool
from risk_model.synthetic.paths import build_chains, chain_classes, simulate_paths
from risk_model.synthetic.statements import build_statements, plan_payments
from risk_model.synthetic.tables import closures_table, histories_table, truth_table
from risk_model.synthetic.transactions import (
    Events,
    cashout_purchases,
    legit_purchases,
    net_spend,
    refunds,
    repayments,
)
from risk_model.synthetic.truth import survival_table, truth_rows

BLOCK_STREAM = 0  # SeedSequence child key of account blocks (merchants use 1)


@dataclass(frozen=True)
class WorldChunk:
    """One chunk of accounts.

    Parameters
    ----------
    histories : pyarrow.Table
        ``HISTORY_SCHEMA``, one row per account.
    closures : pyarrow.Table
        ``CLOSURES_SCHEMA``, closed accounts of the chunk.
    truth : pyarrow.Table
        ``TRUTH_SCHEMA``, one row per open account and month end.
    n_accounts : int
        Accounts in the chunk.
    cashout_accounts : int
        Accounts with at least one cash-out episode month while open.
    """

    histories: pa.Table
    closures: pa.Table
    truth: pa.Table
    n_accounts: int
    cashout_accounts: int


@dataclass(frozen=True)
class World:
    """A whole (small) world in memory, see :func:`generate_world`."""

    config: WorldConfig
    histories: pa.Table
    closures: pa.Table
    truth: pa.Table
    merchants: pa.Table
    cashout_accounts: int


@dataclass(frozen=True)
class _Model:
    chains: dict[str, Chain]
    survival: dict[str, np.ndarray]
    pool: MerchantPool


def _model(config: WorldConfig) -> _Model:
    chains = build_chains(config)
    survival = {
        cause: survival_table(chain, config.n_months, config.horizon)
        for cause, chain in chains.items()
    }
    return _Model(chains, survival, make_pool(config))


def block_rng(config: WorldConfig, block: int) -> np.random.Generator:
    """Return the generator of account block ``block`` (independent of the chunk size)."""
    return np.random.default_rng(
        np.random.SeedSequence(config.seed, spawn_key=(BLOCK_STREAM, block))
    )


def _simulate_block(config: WorldConfig, model: _Model, block: int) -> WorldChunk:
    rng = block_rng(config, block)
    first = block * config.block_size
    n = min(config.block_size, config.n_accounts - first)
    accounts = draw_accounts(config, first, n, model.pool, rng)
    paths = simulate_paths(config, model.chains, accounts, rng)
    calendar = build_calendar(config, accounts, paths)
    plan = plan_payments(config, calendar, paths, rng)
    legit = legit_purchases(calendar, accounts, paths, model.pool, rng)
    cash = cashout_purchases(calendar, accounts, paths, plan, model.pool, rng)
    month_seconds = calendar.month_seconds()
    closure_end = paths.closure_date.astype("datetime64[s]").astype(np.int64) + SECONDS_PER_DAY
    end_seconds = np.where(paths.closed, closure_end, month_seconds[-1])
    refunded = refunds(legit, end_seconds, config.refund_rate, rng)
    spend = net_spend(Events.concat([legit, cash, refunded]), month_seconds, n)
    statements = build_statements(
        calendar, accounts, paths, plan, spend, config.missing_statement_rate, rng
    )
    events = Events.concat([legit, cash, refunded, repayments(plan, statements.paid)])
    events = events.take(np.lexsort((events.seconds, events.account)))
    histories = histories_table(
        config, accounts, paths, calendar, statements, events, model.pool, rng
    )
    months = np.arange(config.n_months)[None, :]
    open_at_end = (months >= accounts.open_month[:, None]) & (months < paths.closure_month[:, None])
    account, month = np.nonzero(open_at_end)
    probabilities = truth_rows(
        model.survival,
        chain_classes(accounts),
        paths.states,
        paths.regulatory,
        account,
        month,
        config.horizon,
    )
    truth = truth_table(accounts, calendar, account, month, probabilities, config.horizon)
    cashout = ((paths.states["cashout"] == 1) & calendar.active).any(1)
    return WorldChunk(histories, closures_table(accounts, paths), truth, n, int(cashout.sum()))


def iter_world(config: WorldConfig) -> Iterator[WorldChunk]:
    """Yield the world chunk by chunk (each chunk a whole number of blocks).

    Parameters
    ----------
    config : WorldConfig
        World parameters.

    Yields
    ------
    WorldChunk
        Histories, closures and truth of ``config.effective_chunk_size`` accounts (fewer in the
        last chunk). Concatenated chunks do not depend on the chunk size.
    """
    model = _model(config)
    n_blocks = -(-config.n_accounts // config.block_size)
    per_chunk = config.effective_chunk_size // config.block_size
    for first in range(0, n_blocks, per_chunk):
        parts = [
            _simulate_block(config, model, b)
            for b in range(first, min(first + per_chunk, n_blocks))
        ]
        yield WorldChunk(
            histories=pa.concat_tables([p.histories for p in parts]),
            closures=pa.concat_tables([p.closures for p in parts]),
            truth=pa.concat_tables([p.truth for p in parts]),
            n_accounts=sum(p.n_accounts for p in parts),
            cashout_accounts=sum(p.cashout_accounts for p in parts),
        )


def chunk_count(config: WorldConfig) -> int:
    """Return the number of chunks :func:`iter_world` yields."""
    return -(-config.n_accounts // config.effective_chunk_size)


def generate_world(config: WorldConfig) -> World:
    """Generate a whole world in memory (for small worlds: tests, notebooks).

    Parameters
    ----------
    config : WorldConfig
        World parameters.

    Returns
    -------
    World
        All tables, each combined into single chunks.
    """
    chunks = list(iter_world(config))
    return World(
        config=config,
        histories=pa.concat_tables([c.histories for c in chunks]).combine_chunks(),
        closures=pa.concat_tables([c.closures for c in chunks]).combine_chunks(),
        truth=pa.concat_tables([c.truth for c in chunks]).combine_chunks(),
        merchants=make_pool(config).table(),
        cashout_accounts=sum(c.cashout_accounts for c in chunks),
    )
