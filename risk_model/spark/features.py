"""Features and the merchant-risk table on Spark, equal to one machine's, bit for bit.

Accounts are independent except for the population merchant statistics. Both use the
library's map functions on each task's Arrow batches and a Spark aggregation as reduce:

* the merchant-risk table (:meth:`SparkFeatures.fit_merchant_risk`): map
  :func:`risk_model.features.build.merchant_risk_partials` per batch; reduce: group by
  merchant (category) and sum / min / max as ``merchant_table.MERCHANT_COMBINE`` says;
  the driver formats the reduced rows with
  :func:`risk_model.features.merchant_table.table_from_partials`;
* training-mode features (:meth:`SparkFeatures.build_features` without a table): map
  :func:`risk_model.features.build.population_partials` per batch; reduce: sum by key;
  the totals are broadcast and each task builds its accounts' features with them
  (``build_features(..., population=...)``); with a table (scoring mode) each task
  builds its accounts' features with the broadcast table.

Every summed value is an integer-valued float or a count, so Spark's sums, taken in any
order, equal one machine's. Feature rows are collected to the driver (the LightGBM fit
stays there) and sorted as :func:`risk_model.features.build_features` sorts them.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from risk_model import contract as C
from risk_model.policy import PolicyCalendar

__all__ = ["SparkFeatures", "read_training_histories"]


def read_training_histories(spark, path: str):
    """Read a histories parquet file or dataset (the contract's columns present)."""
    df = spark.read.parquet(path)
    wanted = [f.name for f in C.PROFILE_FIELDS] + list(C.OPTIONAL_COLUMNS)
    return df.select(*[name for name in wanted if name in df.columns])


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


_CACHE: dict[str, object] = {}  # per Python worker: the shipped object of each token


def _cached(shipped: tuple[str, object], make):
    """Read a broadcast Arrow table once per Python worker; ``shipped`` = (token, broadcast)."""
    token, broadcast = shipped
    if token not in _CACHE:
        _CACHE.clear()  # one job's objects at a time
        _CACHE[token] = make(pa.ipc.open_stream(broadcast.value).read_all())
    return _CACHE[token]


def _broadcast(spark, table: pa.Table) -> tuple[str, object]:
    return uuid.uuid4().hex, spark.sparkContext.broadcast(_ipc(table))


def _canonical(batches: Iterator[pa.RecordBatch], fraction: float) -> Iterator[pa.Table]:
    """Each batch as the driver's validated histories (contract types), sampled alike."""
    from risk_model.spark.session import quiet_pandas_warning
    from risk_model.validation import validate_histories

    quiet_pandas_warning()
    for batch in batches:
        table = validate_histories(pa.Table.from_batches([batch]))
        if fraction < 1.0:
            from risk_model.modeling.dataset import sample_accounts

            ids = table[C.ACCOUNT_ID].to_pandas()
            table = table.filter(pa.array(sample_accounts(ids, fraction)))
        yield table


_PARTIAL_KEYS = ("part", "key")


def _partials_schema() -> pa.Schema:
    from risk_model.features.merchant_table import (
        CATEGORY_PARTIALS_SCHEMA,
        MERCHANT_PARTIALS_SCHEMA,
    )

    values = [f for f in MERCHANT_PARTIALS_SCHEMA if f.name != C.MERCHANT_ID]
    values += [f for f in CATEGORY_PARTIALS_SCHEMA if f.name != C.MERCHANT_CATEGORY]
    return pa.schema(
        [pa.field("part", pa.int8()), pa.field("key", pa.string())]
        + [f.with_nullable(True) for f in values]
    )


def _table_partials_task(batches, *, as_of: dt.date, fraction: float):
    from risk_model.features.build import merchant_risk_partials

    schema = _partials_schema()
    for table in _canonical(batches, fraction):
        merchants, categories = merchant_risk_partials(table, as_of)
        kinds = ((0, C.MERCHANT_ID, merchants), (1, C.MERCHANT_CATEGORY, categories))
        for part, key, rows in kinds:
            n = rows.num_rows
            columns = {"part": pa.array(np.full(n, part, np.int8)), "key": rows[key]}
            for field in schema:
                if field.name not in columns:
                    own = field.name in rows.column_names and field.name != key
                    columns[field.name] = rows[field.name] if own else pa.nulls(n, field.type)
            yield from pa.table(columns).cast(schema).to_batches()


def _population_task(batches, *, dates: list[dt.date], fraction: float):
    from risk_model.features.build import population_partials

    for table in _canonical(batches, fraction):
        yield from population_partials(table, dates).to_batches()


def _features_task(
    batches, *, dates, policy, horizon_months: int, fraction: float, table=None, population=None
) -> Iterator[pa.RecordBatch]:
    from risk_model.features import feature_names
    from risk_model.features.build import feature_rows
    from risk_model.features.merchant_population import PopulationTotals

    merchant_risk = None if table is None else _cached(table, lambda t: t)
    totals = None if population is None else _cached(population, PopulationTotals)
    names = feature_names()
    for histories in _canonical(batches, fraction):
        rows = feature_rows(
            histories,
            dates,
            merchant_risk=merchant_risk,
            policy=policy,
            horizon_months=horizon_months,
            population=totals,
        )
        if rows is None:
            continue
        days = pa.array(rows.as_of_days.astype(np.int32), pa.int32()).cast(pa.date32())
        arrays = [rows.ids.cast(pa.string()), days] + [pa.array(v) for v in rows.values]
        yield from pa.Table.from_arrays(arrays, names=[C.ACCOUNT_ID, C.AS_OF, *names]).to_batches()


def _keyed(rows: pa.Table, name: str) -> pa.Table:
    """Rename the reduced rows' ``key`` column to ``name``."""
    return rows.rename_columns([name if n == "key" else n for n in rows.column_names])


class SparkFeatures:
    """``build_features`` and ``fit_merchant_risk`` of one histories DataFrame, on Spark.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Histories in the contract's nested form (:func:`read_training_histories`).
    account_fraction : float
        The training account sample (``modeling.dataset.sample_accounts``), applied on the
        executors.
    accounts : int, optional
        The number of accounts the driver holds for these histories (after sampling); a
        call whose ``histories`` differ in size is refused.
    """

    def __init__(self, df, *, account_fraction: float = 1.0, accounts: int | None = None) -> None:
        self.df = df
        self.fraction = account_fraction
        self.accounts = accounts

    def _check(self, histories: pa.Table | None) -> None:
        known = histories is not None and self.accounts is not None
        if known and histories.num_rows != self.accounts:
            raise ValueError(
                f"the Spark engine holds {self.accounts} accounts, the call "
                f"{histories.num_rows}: build it for the same histories"
            )

    def fit_merchant_risk(self, histories: pa.Table | None, as_of: dt.date) -> pa.Table:
        """Return :func:`risk_model.features.fit_merchant_risk` of the DataFrame's accounts."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        from risk_model.features.merchant_table import (
            CATEGORY_COMBINE,
            CATEGORY_PARTIALS_SCHEMA,
            MERCHANT_COMBINE,
            MERCHANT_PARTIALS_SCHEMA,
            table_from_partials,
        )

        self._check(histories)
        schema = _partials_schema()
        task = functools.partial(_table_partials_task, as_of=as_of, fraction=self.fraction)
        partials = self.df.mapInArrow(task, from_arrow_schema(schema))
        how = {**MERCHANT_COMBINE, **CATEGORY_COMBINE}
        reduced = partials.groupBy(*_PARTIAL_KEYS).agg(
            *[getattr(F, op)(column).alias(column) for column, op in how.items()]
        )
        rows = reduced.toArrow().select(list(schema.names)).cast(schema)
        part = rows["part"].to_numpy()
        merchants = _keyed(rows.filter(pa.array(part == 0)), C.MERCHANT_ID)
        categories = _keyed(
            rows.filter(pa.array(part == 1)).drop_columns([C.MERCHANT_CATEGORY]),
            C.MERCHANT_CATEGORY,
        )
        merchants = merchants.select(MERCHANT_PARTIALS_SCHEMA.names).cast(MERCHANT_PARTIALS_SCHEMA)
        categories = categories.select(CATEGORY_PARTIALS_SCHEMA.names).cast(
            CATEGORY_PARTIALS_SCHEMA
        )
        return table_from_partials(merchants, categories, as_of)

    def population(self, dates: Sequence[dt.date]):
        """Return training-mode population totals at ``dates`` (map: partials; reduce: sums)."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        from risk_model.features.merchant_population import (
            KEY_COLUMNS,
            POPULATION_SCHEMA,
            VALUES,
            PopulationTotals,
        )

        task = functools.partial(_population_task, dates=list(dates), fraction=self.fraction)
        partials = self.df.mapInArrow(task, from_arrow_schema(POPULATION_SCHEMA))
        summed = partials.groupBy(*KEY_COLUMNS).agg(*[F.sum(v).alias(v) for v in VALUES])
        table = summed.toArrow().select(list(POPULATION_SCHEMA.names)).cast(POPULATION_SCHEMA)
        return PopulationTotals(table)

    def build_features(
        self,
        histories: pa.Table | None,
        as_of: dt.date | Sequence[dt.date],
        *,
        merchant_risk: pa.Table | None = None,
        policy: PolicyCalendar | None = None,
        horizon_months: int = 3,
    ) -> pd.DataFrame:
        """Return :func:`risk_model.features.build_features` of the DataFrame's accounts.

        Features are built on the executors; the rows are collected here, sorted by
        (as_of, account_id) as one machine sorts them.
        """
        from pyspark.sql.pandas.types import from_arrow_schema

        from risk_model.features import feature_names
        from risk_model.features.build import FeatureRows, _as_dates, _empty_frame

        self._check(histories)
        dates = _as_dates(as_of)
        spark = self.df.sparkSession
        names = feature_names()
        extra = {}
        if merchant_risk is not None:
            extra["table"] = _broadcast(spark, merchant_risk)
        else:
            extra["population"] = _broadcast(spark, self.population(dates).table)
        task = functools.partial(
            _features_task,
            dates=dates,
            policy=policy,
            horizon_months=horizon_months,
            fraction=self.fraction,
            **extra,
        )
        schema = pa.schema(
            [pa.field(C.ACCOUNT_ID, pa.string()), pa.field(C.AS_OF, pa.date32())]
            + [pa.field(n, pa.float32()) for n in names]
        )
        rows = self.df.mapInArrow(task, from_arrow_schema(schema)).toArrow()
        for _, value in extra.values():
            value.unpersist()
        if not rows.num_rows:
            return _empty_frame(names)
        rows = rows.sort_by([(C.AS_OF, "ascending"), (C.ACCOUNT_ID, "ascending")])
        values = np.empty((len(names), rows.num_rows), dtype=np.float32)
        for j, name in enumerate(names):
            values[j] = rows[name].to_numpy(zero_copy_only=False)
        days = rows[C.AS_OF].cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        ids = rows[C.ACCOUNT_ID].combine_chunks()
        return FeatureRows(ids, days, values, np.arange(rows.num_rows)).frame()
