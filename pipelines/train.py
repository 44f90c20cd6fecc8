"""Train the closure-risk model: features, labels, LightGBM, calibration, artefact, MLflow.

Usage::

    python -m pipelines.train                       # default synthetic world (generated once)
    python -m pipelines.train --data DIR            # your histories.parquet + closures.parquet
    python -m pipelines.train --config train.toml --seed 3 --num-threads 1
    python -m pipelines.train --quiet               # warnings and the summary only

``--data DIR`` reads ``histories.parquet`` (``contract.HISTORY_SCHEMA``; ``transactions`` or
``statements`` may be absent) and ``closures.parquet`` (``CLOSURES_SCHEMA``); optional files:
``truth.parquet`` (synthetic truth, compared when present), ``manifest.json`` (generator
manifest: policy calendar and observation window) or ``policy.json``
(``PolicyCalendar.to_dict()``). Without ``--data`` the default world is generated into
``data/world`` when absent and used. Default paths (``data/...``, ``./mlflow.db``) are in
the working directory.

The artefact goes to ``<out>/<version>/`` (default ``data/models``) and is copied to
``<out>/latest/`` (a full copy, not a symlink, so it can be moved or shipped alone); the
model report (one self-contained HTML page) to ``<out>/<version>-report.html``.
The run is logged to MLflow and the model registered as ``closure-risk``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines._train_progress import fit_progress, set_log_levels
from pipelines._train_summary import render, summary_rows
from risk_model import contract as C
from risk_model.attributes import AttributeSpec, catalogue_entries
from risk_model.modeling.config import ConfigError, TrainConfig
from risk_model.modeling.config_load import load_config
from risk_model.modeling.data_dir import Inputs, load_inputs
from risk_model.modeling.dataset import (
    LABEL,
    TRUTH_P,
    history_window,
    labelled_as_of_dates,
    sample_accounts,
)

if TYPE_CHECKING:
    from risk_model.modeling.artefact import ModelArtefact
    from risk_model.modeling.scale import ScoreScale
    from risk_model.modeling.stage_cache import StageCache
    from risk_model.modeling.train import TrainResult

log = logging.getLogger("pipelines.train")
# Relative to the working directory, like ./mlflow.db: an installed package has no project
# folder of its own to write into.
DEFAULT_WORLD, DEFAULT_MODELS = Path("data/world"), Path("data/models")


@dataclass
class Trained:
    """A fitted, evaluated model and the rows behind it."""

    histories: pa.Table
    frame: pd.DataFrame
    served: pd.DataFrame
    result: TrainResult
    catalogue: list[dict]
    evaluation: dict
    oot_scores: pa.Table
    snapshots: str
    version: str
    fingerprint: str
    scale: ScoreScale
    production_table: pa.Table  # the artefact's merchant-risk table
    history_end: dt.date  # its date
    attributes: AttributeSpec = field(default_factory=AttributeSpec)


@dataclass
class Packaged:
    """The production artefact on disk."""

    artefact_dir: Path
    latest: Path
    artefact: ModelArtefact
    spec: dict


class Stages:
    """Times named stages for the final summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the enclosed block as stage ``name``."""
        log.info("stage %s ...", name)
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start
        log.info("stage %s done in %.1f s", name, self.seconds[name])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, help="data directory (default: data/world)")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--out", type=Path, help="models directory (default: data/models)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--horizon", type=int, help="label horizon in months")
    parser.add_argument("--num-threads", type=int)
    parser.add_argument("--oot-months", type=int)
    parser.add_argument("--val-months", type=int)
    parser.add_argument("--max-months", type=int, help="use only the last N labelled months")
    parser.add_argument("--account-fraction", type=float, help="deterministic account sample")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI")
    parser.add_argument("--no-tracking", action="store_true", help="skip MLflow logging")
    parser.add_argument("--quiet", action="store_true", help="no progress, warnings only")
    parser.add_argument("--cache-dir", type=Path, help="features cache (default: data/cache)")
    parser.add_argument("--no-cache", action="store_true", help="always compute the features")
    parser.add_argument(
        "--promote",
        action="store_true",
        help="make the new version the champion whatever the comparison says",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="features and merchant statistics in this process (default) or on Spark "
        "(pip install -e '.[spark]'); the LightGBM fit stays here",
    )
    parser.add_argument("--master", help="Spark master (default local[*], or spark-submit's)")
    return parser


def _config(args: argparse.Namespace) -> TrainConfig:
    overrides = {
        "seed": args.seed,
        "horizon_months": args.horizon,
        "model.num_threads": args.num_threads,
        "split.oot_months": args.oot_months,
        "split.val_months": args.val_months,
        "snapshot.max_months": args.max_months,
        "snapshot.account_fraction": args.account_fraction,
        "tracking.tracking_uri": args.tracking_uri,
        "tracking.enabled": False if args.no_tracking else None,
    }
    return load_config(args.config, overrides)


def ensure_default_world(directory: Path) -> Path:
    """Generate the default synthetic world into ``directory`` unless it is already there."""
    if (directory / "manifest.json").is_file():
        log.info("using the existing world in %s", directory)
        return directory
    from risk_model.synthetic import WorldConfig, write_world

    log.info("generating the default world into %s (first run only)", directory)
    write_world(WorldConfig(), directory)
    return directory


def _snapshots(inputs: Inputs, config: TrainConfig) -> tuple[pa.Table, list[dt.date], str]:
    """As-of dates and the (optionally sampled) histories to snapshot."""
    if config.snapshot.as_of_dates:
        from risk_model.validation import warn_unknown_closures

        dates = [dt.date.fromisoformat(d) for d in config.snapshot.as_of_dates]
        how = "as-of dates from the configuration"
        warn_unknown_closures(inputs.closures, inputs.histories[C.ACCOUNT_ID])
    else:
        dates, how = labelled_as_of_dates(
            inputs.histories,
            inputs.closures,
            config.horizon_months,
            label_end=inputs.label_end,
            max_months=config.snapshot.max_months,
        )
    histories = inputs.histories
    if config.snapshot.account_fraction < 1.0:
        keep = sample_accounts(
            histories[C.ACCOUNT_ID].to_pandas(), config.snapshot.account_fraction
        )
        histories = histories.filter(pa.array(keep))
        log.info("account sample: kept %d accounts", histories.num_rows)
    return histories, dates, how


def _train_and_evaluate(
    inputs: Inputs,
    config: TrainConfig,
    stages: Stages,
    *,
    quiet: bool = False,
    cache: StageCache | None = None,
    engine=None,
) -> Trained:
    """Snapshots -> split -> served features -> fit -> calibrate -> evaluate.

    Features and served features are read from ``cache`` when it holds them; ``engine``
    builds them and the merchant tables elsewhere (``--engine spark``).
    """
    from risk_model.features import FEATURES, feature_names
    from risk_model.modeling.bands import selection_scale
    from risk_model.modeling.evaluation import evaluate_served
    from risk_model.modeling.package import version_label
    from risk_model.modeling.spec import frame_fingerprint
    from risk_model.modeling.stage_cache import cached_served_frame, cached_snapshot_frame
    from risk_model.modeling.train import catalogue_records, split_rows, train_model

    with stages("snapshots"):
        histories, dates, how = _snapshots(inputs, config)
        log.info("snapshots: %s", how)
        attributes = _attributes(histories, engine)
    with stages("features"):
        frame, key, hit = cached_snapshot_frame(
            cache,
            inputs.source,
            histories,
            inputs.closures,
            dates,
            horizon_months=config.horizon_months,
            policy=inputs.policy,
            truth=inputs.truth,
            features=engine,
            attributes=attributes,
        )
        log.info("features: %s", f"from cache (key {key[:12]})" if hit else "computed")
        log.info(
            "%d rows, %d months, base rate %.4f",
            len(frame),
            frame[C.AS_OF].nunique(),
            frame[LABEL].mean(),
        )
        from risk_model.modeling.dataset import horizon_loss

        lost = horizon_loss(frame, inputs.closures, config.horizon_months)
        if lost.lost:  # closures beyond every labelled horizon would silently train as good
            log.warning("%s", lost.describe())
    with stages("split"):
        split = split_rows(frame, config)
        log.info("split by %s: %s", split.kind, split.reason)
    with stages("served features"):
        # the artefact's table (at the end of the history) is fitted here too: one read
        # of the transactions serves both tables
        _, history_end = history_window(histories)
        served, table, table_as_of, production, hit = cached_served_frame(
            cache,
            key,
            histories,
            frame,
            split,
            policy=inputs.policy,
            horizon_months=config.horizon_months,
            features=engine,
            attributes=attributes,
            production_as_of=history_end,
        )
        log.info("served features: %s", "from cache" if hit else "computed")
    catalogue = catalogue_records(FEATURES) + catalogue_entries(attributes)
    names = feature_names() + list(attributes.feature_names)
    with fit_progress(config.model.capacity_search, quiet=quiet) as shown:
        result = train_model(
            frame, names, catalogue, config, served=served, split=split, callbacks=shown
        )
    stages.seconds.update({f"train:{k}": v for k, v in result.timings.items()})
    _warn_small(result, config)
    with stages("evaluate"):
        version = version_label(result.booster.model_to_string())
        fingerprint = frame_fingerprint(frame)
        common = (result, catalogue, config, inputs, table_as_of, fingerprint, version, None)
        spec = _spec(*common, attributes=attributes)
        scale = selection_scale(result, served, spec=spec, merchant_risk=table, config=config.scale)
        log.info("%s", scale.band_note())
        spec = _spec(*common, scale, attributes=attributes)
        evaluation, oot_scores = evaluate_served(
            result, frame=frame, served=served, spec=spec, table=table
        )
        evaluation["table_as_of"] = table_as_of.isoformat()
    return Trained(
        histories,
        frame,
        served,
        result,
        catalogue,
        evaluation,
        oot_scores,
        how,
        version,
        fingerprint,
        scale,
        production,
        history_end,
        attributes,
    )


def _attributes(histories: pa.Table, engine) -> AttributeSpec:
    """Return the user attributes of the training histories (none on the Spark engine)."""
    from risk_model.attributes import infer_attributes

    attributes = infer_attributes(histories)
    if attributes and engine is not None:
        raise SystemExit("user attributes are not supported with --engine spark yet")
    if attributes:
        kinds = ", ".join(f"{a.name} ({a.kind})" for a in attributes.attributes)
        log.info("user attributes: %s", kinds)
    return attributes


def _warn_small(result: TrainResult, config: TrainConfig) -> None:
    ignored = result.report["features"]["transforms_ignored_unknown"]
    if ignored:
        log.warning("transforms for unknown features ignored: %s", ignored)
    rows = int(result.split.mask("train").sum())
    if rows < 4 * result.model_config.min_data_in_leaf:
        log.warning(
            "only %d train rows for min_data_in_leaf=%d: the trees can hardly split; "
            "lower model.min_data_in_leaf or turn model.capacity_search on",
            rows,
            result.model_config.min_data_in_leaf,
        )


def _spec(
    result: TrainResult,
    catalogue: list[dict],
    config: TrainConfig,
    inputs: Inputs,
    table_as_of: dt.date,
    fingerprint: str,
    version: str,
    evaluation: dict | None,
    scale: ScoreScale | None = None,
    *,
    attributes: AttributeSpec,
) -> dict:
    from risk_model.modeling.spec import build_spec, code_version

    return build_spec(
        result=result,
        feature_names=result.feature_names,
        catalogue=catalogue,
        config=config,
        policy=inputs.policy,
        merchant_risk_as_of=table_as_of,
        version=version,
        data_fingerprint=fingerprint,
        code=code_version(),
        evaluation=evaluation,
        scale=scale,
        attributes=attributes.to_list(),
    )


def _package(trained: Trained, config: TrainConfig, inputs: Inputs, out: Path) -> Packaged:
    """Write the artefact (merchant table of the history end) and ``latest``.

    The artefact carries the training reference for monitoring: the selection accounts at
    its latest date, served by this artefact (:mod:`risk_model.modeling.reference` says why).
    """
    from risk_model.modeling.artefact import load_artefact
    from risk_model.modeling.package import in_memory_artefact, write_production_artefact
    from risk_model.modeling.reference import reference_of_rows, reference_rows

    table, history_end = trained.production_table, trained.history_end
    spec = _spec(
        trained.result,
        trained.catalogue,
        config,
        inputs,
        history_end,
        trained.fingerprint,
        trained.version,
        trained.evaluation,
        trained.scale,
        attributes=trained.attributes,
    )
    selection = trained.frame.loc[trained.result.split.mask("val"), [C.ACCOUNT_ID, C.AS_OF]]
    rows = reference_rows(
        trained.histories,
        selection,
        merchant_risk=table,
        policy=inputs.policy,
        attributes=trained.attributes,
    )
    reference = reference_of_rows(
        in_memory_artefact(trained.result.booster, spec, table), rows, window="selection"
    )
    artefact_dir, latest = write_production_artefact(
        out, booster=trained.result.booster, spec=spec, merchant_risk=table, reference=reference
    )
    return Packaged(artefact_dir, latest, load_artefact(artefact_dir), spec)


def _plots(trained: Trained, packaged: Packaged, config: TrainConfig) -> tuple[list[Path], dict]:
    from risk_model.modeling.plots import family_contributions, save_plots

    result, frame, oot = trained.result, trained.served, trained.result.split.mask("oot")
    names, artefact = result.feature_names, packaged.artefact
    oot_rows = np.flatnonzero(oot)
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(oot_rows, min(config.contrib_sample, len(oot_rows)), False))
    contrib = artefact.contributions(artefact.matrix(frame.iloc[sample]))
    by_family = family_contributions(contrib, names, trained.catalogue)
    scores = trained.oot_scores
    truth = frame.loc[oot, TRUTH_P].to_numpy() if "truth" in trained.evaluation else None
    plots = save_plots(
        packaged.artefact_dir.parent / f"{packaged.artefact_dir.name}-plots",
        y=frame.loc[oot, LABEL].to_numpy(dtype=float),
        prob=scores["probability"].to_numpy(),
        points=scores["points"].to_numpy(),
        truth=truth,
        report=trained.evaluation,
        feature_names=names,
        gain=result.booster.feature_importance(importance_type="gain"),
        by_family=by_family,
    )
    return plots, by_family


def run(args: argparse.Namespace, config: TrainConfig) -> int:
    """Run every stage (inside one MLflow run when tracking is on); return the exit code."""
    stages, data_dir = Stages(), args.data
    if data_dir is None:
        with stages("generate world"):
            data_dir = ensure_default_world(DEFAULT_WORLD)
    with stages("load data"):
        inputs = load_inputs(data_dir)
    log.info(
        "%d accounts, %d closures, truth: %s",
        inputs.histories.num_rows,
        inputs.closures.num_rows,
        inputs.truth is not None,
    )
    if not config.tracking.enabled:
        if args.promote:
            log.warning("--promote is ignored with --no-tracking (there is no registry)")
        return _stages(args, config, inputs, stages, tracked=False)
    # MLflow is imported here, only when tracking is on (its import is seconds of CPU)
    from pipelines._train_tracking import run_tags
    from risk_model.modeling.tracking import resolve_tracking_uri, training_run

    uri = resolve_tracking_uri(config.tracking.tracking_uri)
    with training_run(uri, config.tracking.experiment, tags=run_tags(inputs)):
        return _stages(args, config, inputs, stages, tracked=True)


def _stages(
    args: argparse.Namespace, config: TrainConfig, inputs: Inputs, stages: Stages, *, tracked: bool
) -> int:
    """Train, evaluate, package, plot and (when tracked) log and register."""
    from pipelines._train_report import write_report
    from risk_model.modeling.stage_cache import open_cache

    cache = open_cache(args.cache_dir, enabled=not args.no_cache)
    engine = None
    if args.engine == "spark":
        from pipelines._train_spark import features_engine

        with stages("spark session"):
            engine = features_engine(args, inputs, config)
    trained = _train_and_evaluate(
        inputs, config, stages, quiet=args.quiet, cache=cache, engine=engine
    )
    with stages("artefact"):
        packaged = _package(trained, config, inputs, args.out or DEFAULT_MODELS)
    with stages("plots"):
        plots, by_family = _plots(trained, packaged, config)
    with stages("report"):
        report = write_report(trained, packaged, plots, by_family, config, inputs, tracked=tracked)
    outcome = None
    if tracked:
        from pipelines._train_tracking import log_and_register

        with stages("mlflow"):
            outcome = log_and_register(
                trained,
                packaged,
                plots,
                by_family,
                config,
                inputs,
                force=args.promote,
                report=report.path,
            )
    rows = summary_rows(stages.seconds, trained, packaged, outcome, config)
    print(render([*rows, ("model report", str(report.path))]))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    set_log_levels(quiet=args.quiet)
    logging.captureWarnings(True)  # contract warnings (e.g. unknown closure ids) as log lines
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        config = _config(args)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    if args.data is not None and not args.data.is_dir():
        log.error("data directory not found: %s", args.data)
        return 2
    try:
        return run(args, config)
    except (FileNotFoundError, ValueError) as exc:
        log.error("training failed: %s", exc)
        return 1


if __name__ == "__main__":
    code = main()
    # Everything is written: the interpreter's last garbage collections would walk the
    # objects of every imported module (about 3,500; a second or two) only to free memory
    # the system frees at exit anyway. Frozen objects are left out of those collections.
    # Here, not in main(): a caller that trains in its own process keeps collecting them.
    gc.freeze()
    raise SystemExit(code)
