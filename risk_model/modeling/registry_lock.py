"""Registry updates under a lock, so two trainings on one store cannot both promote.

:func:`register_and_promote` registers a logged model, scores the current champion and the
new model on the same rows, applies :func:`risk_model.modeling.promotion.decide` and sets
the alias, recording the evidence on the run and on the model version.

For a SQLite store an exclusive ``fcntl.flock`` on ``<db>.registry.lock`` (beside the
database) is held from reading the champion to setting the alias; every training on this
machine sees the same file. Other stores yield without a lock and the caller does a
compare-and-set instead (re-read the champion right before setting the alias and redo
the decision if it moved).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from risk_model.modeling import mlflow_adapter, mlflow_store
from risk_model.modeling.artefact import ArtefactError, load_artefact
from risk_model.modeling.metrics import gini
from risk_model.modeling.promotion import (
    CHAMPION,
    ChampionInfo,
    Decision,
    GiniComparison,
    PromotionConfig,
    decide,
    not_comparable_reason,
    paired_bootstrap_gini,
)

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

MODEL_DESCRIPTION = (
    "**closure-risk**: probability that a credit-line account is closed within the label "
    "horizon, with points, band and reasons. Alias `champion` is the model to serve; "
    "`challenger` the latest version that was not promoted."
)
_CAS_ATTEMPTS = 3  # compare-and-set retries for stores without a file lock


def lock_path(uri: str) -> Path | None:
    """Lock file of a SQLite store URI, or None for other stores."""
    database = mlflow_store.database_file(uri)
    return None if database is None else database.with_name(database.name + ".registry.lock")


@contextmanager
def registry_lock(uri: str, *, timeout: float = 900.0, poll: float = 0.1) -> Iterator[bool]:
    """Hold the store's registry lock for the enclosed block.

    Parameters
    ----------
    uri : str
        Tracking URI.
    timeout : float
        Seconds to wait for another training to release the lock (the holder downloads
        and scores the champion, which takes seconds, not minutes).
    poll : float
        Seconds between attempts.

    Yields
    ------
    bool
        True when a lock is held (SQLite), False when the caller must compare-and-set.

    Raises
    ------
    TimeoutError
        When the lock stays held by someone else for ``timeout`` seconds.
    """
    path = lock_path(uri)
    if path is None:
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"registry lock {path} held for {timeout:g} s") from None
                time.sleep(poll)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class RegistryOutcome:
    """Result of registering a model version.

    Attributes
    ----------
    run_id : str
        MLflow run id.
    version : str
        Registered model version.
    alias : str
        ``champion`` or ``challenger``.
    new_gini : float
        Gini of the new version on the comparison rows.
    champion_gini : float
        Previous champion's Gini on the same rows (NaN when not compared).
    reason : str
        Why the alias was given.
    model_uri : str
        ``models:/<name>/<version>``.
    difference, lower, upper : float
        ``new - champion`` and its bootstrap interval (NaN when not compared).
    level, margin : float
        Interval level and promotion margin.
    resamples : int
        Bootstrap resamples.
    decision : str
        Rule that applied (see :class:`risk_model.modeling.promotion.Decision`).
    champion_version : str or None
        Version compared with (None when there was no champion).
    """

    run_id: str
    version: str
    alias: str
    new_gini: float
    champion_gini: float
    reason: str
    model_uri: str
    difference: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    level: float = float("nan")
    margin: float = 0.0
    resamples: int = 0
    decision: str = ""
    champion_version: str | None = None


def _score_version(
    store: str, name: str, version: str, frame: pd.DataFrame
) -> tuple[np.ndarray, int]:
    """Probabilities of a registered version on ``frame`` and its horizon.

    Raises ArtefactError or KeyError when it cannot score the rows.
    """
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow_adapter.download_model(f"models:/{name}/{version}", store, tmp)
        artefact = load_artefact(mlflow_adapter.artefact_dir(local))
        return artefact.predict_proba(artefact.matrix(frame)), artefact.horizon_months


def _current_champion(client: MlflowClient, name: str) -> ModelVersion | None:
    return mlflow_adapter.alias_version(client, name, CHAMPION)


def _compare_with(
    champion: ModelVersion | None,
    store: str,
    name: str,
    rows: tuple[pd.DataFrame, np.ndarray, np.ndarray | None, np.ndarray],
    horizon_months: int,
    eval_fingerprint: str,
    config: PromotionConfig,
) -> tuple[ChampionInfo | None, GiniComparison | None]:
    """Describe the champion and, when comparable, bootstrap it against the new scores."""
    from mlflow.exceptions import MlflowException

    if champion is None:
        return None, None
    horizon = champion.tags.get("horizon_months")
    info = ChampionInfo(
        str(champion.version),
        int(horizon) if horizon else None,
        champion.tags.get("eval_fingerprint"),
    )
    if not_comparable_reason(
        info, horizon_months=horizon_months, eval_fingerprint=eval_fingerprint
    ):
        return info, None  # skip the download: nothing to score against
    frame, label, groups, new_prob = rows
    try:
        prob, horizon_found = _score_version(store, name, info.version, frame)
    except (ArtefactError, KeyError, ValueError, OSError, MlflowException) as exc:
        return replace(info, scoring_error=f"{type(exc).__name__}: {exc}"), None
    if horizon_found != horizon_months:
        return replace(info, horizon_months=horizon_found), None
    comparison = paired_bootstrap_gini(
        label,
        new_prob,
        prob,
        groups=groups,
        resamples=config.resamples,
        seed=config.seed,
        level=config.level,
    )
    return info, comparison


def _record(
    client: MlflowClient,
    name: str,
    version: str,
    decision: Decision,
    evidence: dict[str, str],
    rows_label: str,
    new_gini: float,
    on_version: Container[str],  # the version's tags from its creation
) -> None:
    """Decision and evidence as run tags / metrics and as version tags (bar ``on_version``)."""
    import mlflow

    comparison = decision.comparison
    figures = comparison.as_dict() if comparison else {}
    metrics = {
        f"new_gini_same_{rows_label}_rows": new_gini,
        f"champion_gini_same_{rows_label}_rows": figures.get("champion_gini"),
        "gini_difference": figures.get("difference"),
        "gini_difference_lower": figures.get("lower"),
        "gini_difference_upper": figures.get("upper"),
    }
    mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None and np.isfinite(v)})
    tags = evidence | {
        "alias": decision.alias,
        "alias_reason": decision.reason,
        "decision": decision.rule,
        "registered_version": version,
    }
    tags |= {k: f"{v:.6f}" for k, v in metrics.items() if v is not None}
    mlflow.set_tags(tags)
    for key, value in tags.items():  # MLflow sets version tags one call at a time
        if key not in on_version:
            client.set_model_version_tag(name, version, key, value)


def _describe(
    client: MlflowClient, name: str, version: str, description: str, decision: Decision
) -> None:
    note = f"\n\n**Registry decision**: `{decision.alias}` ({decision.rule}): {decision.reason}"
    client.update_model_version(name, version, description=description + note)
    current = client.get_registered_model(name).description
    if decision.alias == CHAMPION or not current:
        champion_line = f"\n\nCurrent champion: version {version}.\n\n{description}"
        client.update_registered_model(
            name,
            description=MODEL_DESCRIPTION + (champion_line if decision.alias == CHAMPION else ""),
        )


def register_and_promote(
    *,
    uri: str,
    registered_model: str,
    model_uri: str,
    artefact_dir: Path,
    selection_features: pd.DataFrame,
    selection_label: np.ndarray,
    selection_groups: np.ndarray | None,
    eval_fingerprint: str,
    horizon_months: int,
    description: str,
    promotion: PromotionConfig | None = None,
    force: bool = False,
    rows_label: str = "selection",
) -> RegistryOutcome:
    """Register the logged model and give it ``champion`` or ``challenger``, with evidence.

    Must run inside the training's active run (decision tags and metrics go there).

    Parameters
    ----------
    uri : str
        Tracking URI (decides the locking: file lock for SQLite, compare-and-set otherwise).
    registered_model : str
        Registry name.
    model_uri : str
        ``ModelInfo.model_uri`` from :func:`risk_model.modeling.tracking.log_training`.
    artefact_dir : Path
        The new artefact; it scores the comparison rows exactly as the champion's does.
    selection_features : pandas.DataFrame
        Comparison rows (selection window), with every feature column either model needs.
    selection_label : numpy.ndarray
        Their 0/1 labels.
    selection_groups : numpy.ndarray or None
        Account id per row (the bootstrap resamples accounts); None resamples rows.
    eval_fingerprint : str
        Fingerprint of the comparison rows; stored as the version tag ``eval_fingerprint``
        and compared with the champion's.
    horizon_months : int
        Label horizon of the new model.
    description : str
        Markdown for the version (data source, windows, headline metrics).
    promotion : PromotionConfig, optional
        Bootstrap and margin settings (defaults when omitted).
    force : bool
        Promote regardless of the evidence (``--promote``).
    rows_label : str
        Names the Gini metrics ``new_gini_same_<rows_label>_rows`` / ``champion_gini_...``.

    Returns
    -------
    RegistryOutcome
        Version, alias, reason and the comparison figures.
    """
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_and_promote needs an active run (use training_run)")
    config = (promotion or PromotionConfig()).check()
    client = mlflow_adapter.client(uri)
    new = load_artefact(artefact_dir)
    new_prob = new.predict_proba(new.matrix(selection_features))
    rows = (selection_features, np.asarray(selection_label), selection_groups, new_prob)
    settings = {  # what the version is compared on: its tags from its creation (one write)
        "eval_fingerprint": eval_fingerprint,
        "horizon_months": str(horizon_months),
        "promotion_margin": f"{config.margin:g}",
        "promotion_resamples": str(config.resamples),
        "promotion_level": f"{config.level:g}",
        "promotion_seed": str(config.seed),
    }
    with registry_lock(uri) as locked:
        version = str(mlflow.register_model(model_uri, registered_model, tags=settings).version)
        for _ in range(_CAS_ATTEMPTS):
            champion = _current_champion(client, registered_model)
            info, comparison = _compare_with(
                champion, uri, registered_model, rows, horizon_months, eval_fingerprint, config
            )
            decision = decide(
                champion=info,
                comparison=comparison,
                horizon_months=horizon_months,
                eval_fingerprint=eval_fingerprint,
                margin=config.margin,
                force=force,
            )
            moved = _current_champion(client, registered_model)
            if locked or _version_of(moved) == _version_of(champion):
                break  # nobody promoted while we compared: set the alias on what we read
        client.set_registered_model_alias(registered_model, decision.alias, version)
    evidence = settings | {"compared_with": f"v{info.version}" if info else "none"}
    new_gini = comparison.new_gini if comparison else gini(rows[1], new_prob)
    _record(client, registered_model, version, decision, evidence, rows_label, new_gini, settings)
    _describe(client, registered_model, version, description, decision)
    return _outcome(run.info.run_id, registered_model, version, decision, config, info, new_gini)


def _version_of(champion: ModelVersion | None) -> str | None:
    return None if champion is None else str(champion.version)


def _outcome(
    run_id: str,
    name: str,
    version: str,
    decision: Decision,
    config: PromotionConfig,
    info: ChampionInfo | None,
    new_gini: float,
) -> RegistryOutcome:
    c = decision.comparison
    nan = float("nan")
    return RegistryOutcome(
        run_id=run_id,
        version=version,
        alias=decision.alias,
        new_gini=new_gini,
        champion_gini=c.champion_gini if c else nan,
        reason=decision.reason,
        model_uri=f"models:/{name}/{version}",
        difference=c.difference if c else nan,
        lower=c.lower if c else nan,
        upper=c.upper if c else nan,
        level=config.level,
        margin=config.margin,
        resamples=config.resamples,
        decision=decision.rule,
        champion_version=info.version if info else None,
    )
