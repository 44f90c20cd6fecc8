"""Labelled snapshot rows, in training mode and as the scoring path builds them.

Training rows carry merchant statistics computed per as-of date from the population with
the account's own payments left out (training mode). Scoring instead reads a merchant-risk
table frozen in the artefact. To evaluate what is served, the selection and out-of-time
rows are rebuilt by the scoring path (:func:`served_frame`) with a table fitted at the end
of the train window: no payment after the last training date informs them, just as the
production table (refitted at the end of the history) will be older than the accounts it
scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from risk_model import contract as C
from risk_model.attributes import AttributeSpec
from risk_model.features import build_features, feature_names
from risk_model.features.build import fit_merchant_risk_tables
from risk_model.modeling.dataset import TRUTH_P, attach_labels, attach_truth
from risk_model.modeling.split import Split
from risk_model.policy import PolicyCalendar


def snapshot_frame(
    histories: pa.Table,
    closures: pa.Table | None,
    dates: Sequence[dt.date],
    *,
    horizon_months: int,
    policy: PolicyCalendar,
    truth: pa.Table | None = None,
    merchant_risk: pa.Table | None = None,
    features=None,
    attributes: AttributeSpec | None = None,
) -> pd.DataFrame:
    """Features and labels of every account open at each date.

    Parameters
    ----------
    histories, closures : pyarrow.Table
        Contract tables.
    dates : sequence of datetime.date
        As-of dates.
    horizon_months : int
        Label horizon.
    policy : PolicyCalendar
        Policy calendar for the date features.
    truth : pyarrow.Table, optional
        Synthetic truth, joined as ``truth_p_close`` when it covers every row.
    merchant_risk : pyarrow.Table, optional
        A fitted merchant-risk table (scoring mode); ``None`` is training mode.
    features : object, optional
        An engine with ``build_features`` and ``fit_merchant_risk`` methods taking the
        library functions' arguments (e.g. :class:`risk_model.spark.features.SparkFeatures`);
        default the library functions, in this process.
    attributes : AttributeSpec, optional
        User attributes to add as features (:mod:`risk_model.attributes`).

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``as_of``, features, ``label``, ``cause`` (and ``truth_p_close``),
        sorted by (as_of, account_id).
    """
    build = build_features if features is None else features.build_features
    built = build(
        histories,
        dates,
        merchant_risk=merchant_risk,
        policy=policy,
        horizon_months=horizon_months,
        **_with(attributes),
    )
    frame = attach_labels(built, closures, horizon_months)
    del built
    if not attach_truth(frame, truth, horizon_months) and TRUTH_P in frame:
        frame = frame.drop(columns=TRUTH_P)
    return frame


def evaluation_table_date(frame: pd.DataFrame, split: Split) -> dt.date:
    """Return the end of the train window: the last as-of date of a training row."""
    last = frame.loc[split.mask("train"), C.AS_OF].max()
    return pd.Timestamp(last).date()


def served_frame(
    histories: pa.Table,
    frame: pd.DataFrame,
    split: Split,
    *,
    policy: PolicyCalendar,
    horizon_months: int,
    features=None,
    attributes: AttributeSpec | None = None,
) -> tuple[pd.DataFrame, pa.Table, dt.date]:
    """``frame`` with its selection and OOT rows' features rebuilt by the scoring path.

    Parameters
    ----------
    histories : pyarrow.Table
        The histories ``frame`` was built from.
    frame : pandas.DataFrame
        Training-mode snapshot rows (:func:`snapshot_frame`).
    split : Split
        Row assignment of ``frame``.
    policy : PolicyCalendar
        Policy calendar.
    horizon_months : int
        Label horizon (as :func:`snapshot_frame` was given).
    features : object, optional
        Engine for features and the merchant table (see :func:`snapshot_frame`).
    attributes : AttributeSpec, optional
        User attributes (as :func:`snapshot_frame` was given).

    Returns
    -------
    served : pandas.DataFrame
        Same rows and columns as ``frame``; selection and OOT rows hold scoring-mode
        features, train and gap rows are unchanged.
    table : pyarrow.Table
        The merchant-risk table the served rows were built with.
    table_as_of : datetime.date
        Its date (the end of the train window).
    """
    table_as_of = evaluation_table_date(frame, split)
    table = merchant_tables(histories, [table_as_of], features=features)[table_as_of]
    rows = served_rows(
        histories,
        frame,
        split,
        table,
        policy=policy,
        horizon_months=horizon_months,
        features=features,
        attributes=attributes,
    )
    return with_served_rows(frame, split, rows), table, table_as_of


def _evaluated(split: Split) -> np.ndarray:
    """Return the mask of the rows the scoring path rebuilds: selection and OOT."""
    return split.mask("val") | split.mask("oot")


def served_rows(
    histories: pa.Table,
    frame: pd.DataFrame,
    split: Split,
    table: pa.Table,
    *,
    policy: PolicyCalendar,
    horizon_months: int,
    features=None,
    attributes: AttributeSpec | None = None,
) -> pd.DataFrame:
    """Build the selection and OOT rows' features by the scoring path with ``table``.

    Arguments as :func:`served_frame`'s. Returns the feature columns (float32) of those
    rows of ``frame``, in its order: :func:`with_served_rows` puts them in place.
    """
    build = build_features if features is None else features.build_features
    keys = frame.loc[_evaluated(split), [C.ACCOUNT_ID, C.AS_OF]]
    dates = sorted(pd.Timestamp(d).date() for d in keys[C.AS_OF].unique())
    names = feature_names() + list(attributes.feature_names if attributes else ())
    rebuilt = build(
        histories,
        dates,
        merchant_risk=table,
        policy=policy,
        horizon_months=horizon_months,
        **_with(attributes),
    )
    rebuilt = rebuilt.set_index([C.ACCOUNT_ID, C.AS_OF])
    wanted = pd.MultiIndex.from_frame(keys)
    missing = ~wanted.isin(rebuilt.index)
    if missing.any():
        raise ValueError(f"{int(missing.sum())} evaluated rows have no served features")
    return pd.DataFrame(rebuilt.loc[wanted, names].to_numpy(dtype=np.float32), columns=names)


def with_served_rows(frame: pd.DataFrame, split: Split, rows: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose selection and OOT features are ``rows``.

    ``rows`` as :func:`served_rows` returns them (or the features cache reads them back).
    """
    served = frame.copy()
    served.loc[_evaluated(split), list(rows.columns)] = rows.to_numpy(dtype=np.float32)
    return served


def merchant_tables(
    histories: pa.Table, dates: Sequence[dt.date], *, features=None
) -> dict[dt.date, pa.Table]:
    """Return the merchant-risk tables of ``histories`` at ``dates`` (by date).

    A training needs two: at the end of the train window (:func:`served_frame`) and at the
    end of the history (the artefact's). In this process one read of the transactions
    serves every date (:func:`~risk_model.features.build.fit_merchant_risk_tables`); an
    engine (``features``) fits each date with its ``fit_merchant_risk``.
    """
    if features is None:
        return fit_merchant_risk_tables(histories, dates)
    return {d: features.fit_merchant_risk(histories, d) for d in sorted(set(dates))}


def _with(attributes: AttributeSpec | None) -> dict[str, AttributeSpec]:
    """Return ``attributes=`` for a feature engine only when there are some.

    Engines without attribute support (Spark) keep working on data without attributes.
    """
    return {"attributes": attributes} if attributes else {}
