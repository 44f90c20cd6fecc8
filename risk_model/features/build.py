"""Assemble the point-in-time feature frame for one or many as-of dates in one pass."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.internals import create_dataframe_from_blocks

from risk_model import contract as C
from risk_model._masks import one_chunk
from risk_model.attributes import AttributeSpec, attribute_rows
from risk_model.features import registry
from risk_model.features.feature import Context
from risk_model.features.merchant_pairs import pair_rows
from risk_model.features.merchant_population import PopulationTotals
from risk_model.features.merchant_population import population_partials as _population
from risk_model.features.merchant_table import (
    CATEGORY_PARTIALS_SCHEMA,
    MERCHANT_PARTIALS_SCHEMA,
    stats_partials,
    table_from_partials,
)
from risk_model.features.monthly import (
    LOOKBACK_MONTHS,
    day_number,
    make_grid,
    read_statements,
    read_transactions,
)
from risk_model.features.purchases import purchase_flags
from risk_model.features.registry import feature_names
from risk_model.policy import PolicyCalendar


def _as_dates(as_of: dt.date | Sequence[dt.date]) -> list[dt.date]:
    dates = [as_of] if isinstance(as_of, dt.date) else list(as_of)
    out = []
    for d in dates:
        if isinstance(d, dt.datetime):  # a datetime is a date subclass: keep the calendar day
            d = d.date()
        elif not isinstance(d, dt.date):  # numpy datetime64, ISO strings
            d = pd.Timestamp(d).date()
        out.append(d)
    return sorted(set(out))


def _rank(histories: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Stable account-id order and each row's position in it."""
    n = histories.num_rows
    order = pc.sort_indices(histories.column(C.ACCOUNT_ID)).to_numpy().astype(np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return order, rank


def _empty_frame(names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({name: np.zeros(0, np.float32) for name in names})
    frame.insert(0, C.AS_OF, np.zeros(0, "datetime64[s]"))
    frame.insert(0, C.ACCOUNT_ID, pd.Series([], dtype="str"))
    return frame


def build_features(
    histories: pa.Table,
    as_of: dt.date | Sequence[dt.date],
    *,
    merchant_risk: pa.Table | None = None,
    policy: PolicyCalendar | None = None,
    horizon_months: int = 3,
    population: PopulationTotals | None = None,
    attributes: AttributeSpec | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every open account at every as-of date.

    Parameters
    ----------
    histories : pyarrow.Table
        Account histories with ``contract.HISTORY_SCHEMA`` columns; ``statements`` and/or
        ``transactions`` may be absent (their features are then NaN).
    as_of : datetime.date or sequence of datetime.date
        As-of date(s) (end of day). Duplicates are dropped; output is in ascending order.
    merchant_risk : pyarrow.Table, optional
        Table from :func:`fit_merchant_risk` (scoring). ``None`` (training) computes
        merchant statistics from ``histories`` itself, leave-one-account-out, per as-of.
    policy : PolicyCalendar, optional
        Policy dates; ``None`` or empty makes the policy-distance features NaN.
    horizon_months : int
        Label horizon of the model the features feed (the window of ``sweep_exposure``).
    population : PopulationTotals, optional
        Training mode only: merchant and category totals of a population larger than
        ``histories`` (summed from :func:`population_partials` of its parts); ``None``
        takes them from ``histories`` itself.
    attributes : AttributeSpec, optional
        The user attributes to add as features (:mod:`risk_model.attributes`): in
        training those of :func:`~risk_model.attributes.infer_attributes`, in scoring
        the model's. ``None``: none.

    Returns
    -------
    pandas.DataFrame
        One row per (account, as-of) with ``open_date <= as_of``, sorted by (as_of,
        account_id): ``account_id`` (str), ``as_of`` (datetime64[s], midnight of the
        date), then :func:`feature_names` columns and the attributes' ``attr_<name>``
        columns as float32 (NaN = missing).
    """
    rows = feature_rows(
        histories,
        as_of,
        merchant_risk=merchant_risk,
        policy=policy,
        horizon_months=horizon_months,
        population=population,
        attributes=attributes,
    )
    if rows is None:
        return _empty_frame(_names(attributes))
    return rows.frame()


def _names(attributes: AttributeSpec | None) -> list[str]:
    """Registry feature names, then the attributes' (the frame's column order)."""
    return feature_names() + list(attributes.feature_names if attributes else ())


@dataclass(frozen=True)
class FeatureRows:
    """The rows of :func:`build_features` before they become a DataFrame.

    Scoring reads them directly (no frame to build and take apart for one record).

    Parameters
    ----------
    ids : pyarrow.Array or pyarrow.ChunkedArray
        ``account_id`` of each row.
    as_of_days : numpy.ndarray
        As-of date of each row, in days since 1970-01-01 (int64).
    values : numpy.ndarray
        ``(len(feature_names()), rows)`` float32 features (NaN = missing).
    source_rows : numpy.ndarray
        Row of ``histories`` each row was built from.
    names : tuple of str
        The feature name of each row of ``values``; empty means :func:`feature_names`
        (no user attributes).
    """

    ids: pa.Array | pa.ChunkedArray
    as_of_days: np.ndarray
    values: np.ndarray
    source_rows: np.ndarray
    names: tuple[str, ...] = ()

    def take(self, order: np.ndarray) -> FeatureRows:
        """Return the rows at positions ``order``."""
        return FeatureRows(
            self.ids.take(pa.array(order)),
            self.as_of_days[order],
            self.values[:, order],
            self.source_rows[order],
            self.names,
        )

    def frame(self) -> pd.DataFrame:
        """Return the rows as :func:`build_features` does (a DataFrame)."""
        as_of_col = self.as_of_days.astype("datetime64[D]").astype("datetime64[s]")
        names = list(self.names) or feature_names()
        return _frame(_str_array(self.ids), as_of_col, self.values, names)


def feature_rows(
    histories: pa.Table,
    as_of: dt.date | Sequence[dt.date],
    *,
    merchant_risk: pa.Table | None = None,
    policy: PolicyCalendar | None = None,
    horizon_months: int = 3,
    population: PopulationTotals | None = None,
    attributes: AttributeSpec | None = None,
) -> FeatureRows | None:
    """Compute :func:`build_features` as arrays; ``None`` when there are no rows to build.

    Same arguments, same rows in the same order (by as-of date, then account id).
    """
    names = feature_names()
    dates = _as_dates(as_of)
    if not dates or histories.num_rows == 0:
        return None
    order, rank = _rank(histories)
    grid = make_grid(np.array([day_number(d) for d in dates], dtype=np.int64))
    st = read_statements(histories, grid, rank)
    tx = read_transactions(histories, grid, rank)
    ctx = Context(
        histories=histories,
        order=order,
        grid=grid,
        statements=st,
        transactions=tx,
        # the long-memory cash-out features read the flags over 36 months in scoring too
        flags=purchase_flags(tx, st) if tx is not None else None,
        policy=policy,
        horizon_months=horizon_months,
        merchant_risk=merchant_risk,
        population=population,
    )
    feats = registry.compute(ctx)
    opened = ctx.profile_column(C.OPEN_DATE)
    kk, aa = np.nonzero(opened[None, :] <= grid.asof_day[:, None])
    values = _feature_values(feats, names, ctx.n_asof, ctx.n_acc, kk, aa)
    ids = histories.column(C.ACCOUNT_ID)
    rows = order[aa]
    if len(rows) != len(ids) or not np.array_equal(rows, np.arange(len(rows))):
        ids = ids.take(pa.array(rows))  # else: every account once, in input order already
    if not attributes:
        return FeatureRows(ids, grid.asof_day[kk], values, rows)
    # snapshot values: the same at every as-of date of an account
    values = np.concatenate([values, attribute_rows(histories, attributes)[:, rows]])
    return FeatureRows(ids, grid.asof_day[kk], values, rows, tuple(_names(attributes)))


def _feature_values(
    feats: dict[str, np.ndarray],
    names: list[str],
    n_asof: int,
    n_acc: int,
    kk: np.ndarray,
    aa: np.ndarray,
) -> np.ndarray:
    """(feature x row) float32 values of the rows at (as-of ``kk``, account ``aa``).

    The block layout pandas stores, rows grouped by as-of date; a feature the families did
    not compute is missing (NaN).
    """
    values = np.empty((len(names), len(kk)), dtype=np.float32)
    if len(kk) == n_asof * n_acc:  # every account open at every date: each cell, in order
        cells = values.reshape(len(names), n_asof, n_acc)
        for j, name in enumerate(names):
            cells[j] = feats.get(name, np.nan)
        return values
    shape = (n_asof, n_acc)
    for j, name in enumerate(names):
        values[j] = np.broadcast_to(feats[name], shape)[kk, aa] if name in feats else np.nan
    return values


_STR = pd.api.types.pandas_dtype("str")


def _str_array(ids: pa.ChunkedArray | pa.Array) -> pd.api.extensions.ExtensionArray:
    """Return the ids as a pandas "str" array over the Arrow data (no Python strings)."""
    large = one_chunk(ids).cast(pa.large_string())
    return pd.arrays.ArrowStringArray(pa.chunked_array([large]), dtype=_STR)


@functools.lru_cache(maxsize=4)
def _columns(names: tuple[str, ...]) -> pd.Index:
    return pd.Index([C.ACCOUNT_ID, C.AS_OF, *names])


def _frame(ids, as_of_col: np.ndarray, values: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Return the frame of three blocks: ids, as-of dates and the float32 features.

    From its blocks, as pandas stores it: for one account this is several times faster than
    pandas' column-wise constructors (``python -m pipelines.benchmark features``, single).
    """
    blocks = [
        (ids, np.array([0])),
        (as_of_col.reshape(1, -1), np.array([1])),
        (values, np.arange(2, len(names) + 2)),
    ]
    columns = _columns(tuple(names)).copy()  # a copy: a frame's column index is its own
    return create_dataframe_from_blocks(blocks, index=pd.RangeIndex(len(ids)), columns=columns)


def fit_merchant_risk(histories: pa.Table, as_of: dt.date) -> pa.Table:
    """Fit merchant statistics over the 36 months up to ``as_of`` (for scoring).

    Parameters
    ----------
    histories : pyarrow.Table
        Training population histories.
    as_of : datetime.date
        Date the statistics are taken at; recorded in the schema metadata under
        ``risk_model.features.merchant_risk.AS_OF_METADATA_KEY``.

    Returns
    -------
    pyarrow.Table
        One row per merchant seen, ``merchants.MERCHANT_RISK_SCHEMA``. Unlike training
        features, the statistics include every account's own payments. Equal, bit for
        bit, to :func:`table_from_partials` of the :func:`merchant_risk_partials` of any
        split of ``histories`` into parts (the Spark engine's map and reduce).
    """
    as_of = _as_dates(as_of)[0]
    return table_from_partials(*merchant_risk_partials(histories, as_of), as_of)


def fit_merchant_risk_tables(
    histories: pa.Table, dates: Sequence[dt.date]
) -> dict[dt.date, pa.Table]:
    """:func:`fit_merchant_risk` at each of ``dates``, reading the transactions once.

    Training needs two tables (at the end of the train window for the served evaluation,
    at the end of the history for the artefact); flattening the transactions and deriving
    the purchase flags is most of a fit, and both tables share them.

    Returns
    -------
    dict
        The table of each date (``datetime.date``), equal, bit for bit, to
        ``fit_merchant_risk(histories, date)`` for histories that meet the contract
        (transactions in time order within an account).
    """
    dates = _as_dates(dates)
    read = _purchases(histories, dates)
    out = {}
    for k, as_of in enumerate(dates):
        out[as_of] = table_from_partials(*_partials_at(read, k), as_of)
    return out


def _purchases(histories: pa.Table, dates: list[dt.date]):
    """Transactions, purchase flags and grid of ``dates`` (transactions None: none to read)."""
    grid = make_grid(np.array([day_number(d) for d in dates], dtype=np.int64))
    if not histories.num_rows:
        return None, None, grid
    _, rank = _rank(histories)
    st = read_statements(histories, grid, rank)
    tx = read_transactions(histories, grid, rank)
    return tx, (purchase_flags(tx, st) if tx is not None else None), grid


def _pairs(histories: pa.Table, dates: list[dt.date]):
    """Training pair rows of ``histories`` on the grid of ``dates`` (None: no transactions)."""
    tx, flags, grid = _purchases(histories, dates)
    if tx is None:
        return None, grid
    return pair_rows(tx, flags, grid.n_periods), grid


def _partials_at(read, k: int) -> tuple[pa.Table, pa.Table]:
    """Merchant and category partials at as-of ``k`` of the grid (:func:`_purchases`).

    Only the purchases of the 36 months up to that date become pair rows: with several
    dates on the grid, each date's rows (and so the codes and every pair's first purchase)
    are those a grid of that date alone gives.
    """
    tx, flags, grid = read
    if tx is None:
        return MERCHANT_PARTIALS_SCHEMA.empty_table(), CATEGORY_PARTIALS_SCHEMA.empty_table()
    lo, hi = grid.period_range(k, LOOKBACK_MONTHS)
    rows = pair_rows(tx, flags, grid.n_periods, since_period=lo, until_period=hi)
    return stats_partials(rows, grid, k)


def merchant_risk_partials(histories: pa.Table, as_of: dt.date) -> tuple[pa.Table, pa.Table]:
    """Map step of :func:`fit_merchant_risk`: merchant and category partial sums.

    Returns
    -------
    tuple of pyarrow.Table
        ``MERCHANT_PARTIALS_SCHEMA`` and ``CATEGORY_PARTIALS_SCHEMA`` rows of these
        accounts; combine the parts' with :func:`table_from_partials`.
    """
    return _partials_at(_purchases(histories, _as_dates(as_of)), 0)


def population_partials(histories: pa.Table, as_of: dt.date | Sequence[dt.date]) -> pa.Table:
    """Map step of training-mode merchant statistics at every as-of date.

    Returns
    -------
    pyarrow.Table
        ``merchant_population.POPULATION_SCHEMA`` rows; sum the parts' by key
        (``PopulationTotals.of``) and pass the totals to :func:`build_features` of each
        part as ``population``.
    """
    from risk_model.features.merchant_population import POPULATION_SCHEMA

    rows, grid = _pairs(histories, _as_dates(as_of))
    return POPULATION_SCHEMA.empty_table() if rows is None else _population(rows, grid)
