"""Train the closure-risk model: features, labels, LightGBM, calibration, artefact, MLflow.

Usage::

    python -m pipelines.train                       # default synthetic world (generated once)
    python -m pipelines.train --data DIR            # your histories.parquet + closures.parquet
    python -m pipelines.train --config train.toml --seed 3 --num-threads 1

``--data DIR`` reads ``histories.parquet`` (``contract.HISTORY_SCHEMA``; ``transactions`` or
``statements`` may be absent) and ``closures.parquet`` (``CLOSURES_SCHEMA``); optional files:
``truth.parquet`` (synthetic truth, compared when present), ``manifest.json`` (generator
manifest: policy calendar and observation window) or ``policy.json``
(``PolicyCalendar.to_dict()``). Without ``--data`` the default world is generated into
``data/world`` when absent and used.

The artefact goes to ``<out>/<version>/`` (default ``data/models``) and is copied to
``<out>/latest/`` (a full copy, not a symlink, so it can be moved or shipped alone).
The run is logged to MLflow and the model registered as ``closure-risk``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from risk_model import contract as C
from risk_model.dates import add_months
from risk_model.modeling.config import ConfigError, TrainConfig
from risk_model.modeling.config_load import load_config
from risk_model.modeling.dataset import (
    LABEL,
    TRUTH_P,
    attach_labels,
    attach_truth,
    history_window,
    labelled_as_of_dates,
    sample_accounts,
)
from risk_model.modeling.tracking import project_root, resolve_tracking_uri, ui_command
from risk_model.policy import PolicyCalendar

log = logging.getLogger("pipelines.train")


@dataclass
class Inputs:
    """Tables read from a data directory."""

    histories: pa.Table
    closures: pa.Table
    truth: pa.Table | None
    policy: PolicyCalendar
    label_end: dt.date | None
    source: Path


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
    from pipelines.generate import write_world  # the generator's writer (library call)
    from risk_model.synthetic import WorldConfig

    log.info("generating the default world into %s (first run only)", directory)
    write_world(WorldConfig(), directory)
    return directory


def load_inputs(directory: Path) -> Inputs:
    """Read and validate the training tables of a data directory."""
    from risk_model.validation import validate_closures, validate_histories

    if not directory.is_dir():
        raise FileNotFoundError(f"data directory not found: {directory}")
    for required in ("histories.parquet", "closures.parquet"):
        if not (directory / required).is_file():
            raise FileNotFoundError(f"{directory} has no {required} (needed for training)")
    histories = validate_histories(pq.read_table(directory / "histories.parquet"))
    closures = validate_closures(pq.read_table(directory / "closures.parquet"))
    truth_path = directory / "truth.parquet"
    truth = pq.read_table(truth_path) if truth_path.is_file() else None
    policy, label_end = PolicyCalendar(), None
    manifest_path = directory / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        policy = PolicyCalendar.from_dict(manifest.get("policy"))
        if "start" in manifest and "months" in manifest:
            first = dt.date.fromisoformat(f"{manifest['start']}-01")
            label_end = add_months(first, int(manifest["months"]) - 1)
    elif (directory / "policy.json").is_file():
        policy = PolicyCalendar.from_dict(json.loads((directory / "policy.json").read_text()))
    return Inputs(histories, closures, truth, policy, label_end, directory)


def _version(model_text: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{hashlib.sha256(model_text.encode()).hexdigest()[:8]}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "nan" if np.isnan(value) else f"{value:.4f}"
    return str(value)


def _summary(rows: list[tuple[str, object]]) -> str:
    width = max(len(k) for k, _ in rows)
    lines = ["", "=" * (width + 40), "closure-risk training summary", "-" * (width + 40)]
    lines += [f"{k:<{width}}  {_fmt(v)}" for k, v in rows]
    lines.append("=" * (width + 40))
    return "\n".join(lines)


def run(args: argparse.Namespace, config: TrainConfig) -> int:
    """Run every stage; return the exit code."""
    from risk_model.features import FEATURES, build_features, feature_names, fit_merchant_risk
    from risk_model.modeling.artefact import load_artefact, save_artefact
    from risk_model.modeling.plots import family_contributions, save_plots
    from risk_model.modeling.spec import build_spec, code_version, frame_fingerprint
    from risk_model.modeling.train import catalogue_records, train_model

    root = project_root()
    stages = Stages()
    if args.data is None:
        with stages("generate world"):
            data_dir = ensure_default_world(root / "data" / "world")
    else:
        data_dir = args.data
    with stages("load data"):
        inputs = load_inputs(data_dir)
        log.info(
            "%d accounts, %d closures, truth: %s",
            inputs.histories.num_rows,
            inputs.closures.num_rows,
            inputs.truth is not None,
        )
    with stages("snapshots"):
        if config.snapshot.as_of_dates:
            dates = [dt.date.fromisoformat(d) for d in config.snapshot.as_of_dates]
            how = "as-of dates from the configuration"
        else:
            dates, how = labelled_as_of_dates(
                inputs.histories,
                inputs.closures,
                config.horizon_months,
                label_end=inputs.label_end,
                max_months=config.snapshot.max_months,
            )
        log.info("snapshots: %s", how)
        histories = inputs.histories
        if config.snapshot.account_fraction < 1.0:
            ids = histories[C.ACCOUNT_ID].to_pandas()
            keep = sample_accounts(ids, config.snapshot.account_fraction)
            histories = histories.filter(pa.array(keep))
            log.info("account sample: kept %d accounts", histories.num_rows)
    with stages("features"):
        features = build_features(histories, dates, policy=inputs.policy)
        names = feature_names()
        catalogue = catalogue_records(FEATURES)
    with stages("labels"):
        frame = attach_labels(features, inputs.closures, config.horizon_months)
        del features
        has_truth = attach_truth(frame, inputs.truth, config.horizon_months)
        if not has_truth and TRUTH_P in frame:
            frame = frame.drop(columns=TRUTH_P)
        log.info(
            "%d rows, %d months, base rate %.4f, truth joined: %s",
            len(frame),
            frame[C.AS_OF].nunique(),
            frame[LABEL].mean(),
            has_truth,
        )
    result = train_model(frame, names, catalogue, config)
    stages.seconds.update({f"train:{k}": v for k, v in result.timings.items()})
    names = result.feature_names
    if result.report["features"]["transforms_ignored_unknown"]:
        log.warning(
            "transforms for unknown features ignored: %s",
            result.report["features"]["transforms_ignored_unknown"],
        )
    split = result.split
    log.info("split by %s: %s", split.kind, split.reason)
    if split.mask("train").sum() < 4 * config.model.min_data_in_leaf:
        log.warning(
            "only %d train rows for min_data_in_leaf=%d: the trees can hardly split; "
            "lower model.min_data_in_leaf for small data",
            split.mask("train").sum(),
            config.model.min_data_in_leaf,
        )
    oot = split.mask("oot")
    with stages("merchant risk"):
        _, history_end = history_window(histories)
        merchant_table = fit_merchant_risk(histories, history_end)
    with stages("artefact"):
        version = _version(result.booster.model_to_string())
        spec = build_spec(
            result=result,
            feature_names=names,
            catalogue=catalogue,
            config=config,
            policy=inputs.policy,
            merchant_risk_as_of=history_end,
            version=version,
            data_fingerprint=frame_fingerprint(frame),
            code=code_version(root),
        )
        out = args.out or root / "data" / "models"
        artefact_dir = save_artefact(
            out / version, booster=result.booster, spec=spec, merchant_risk=merchant_table
        )
        latest = out / "latest"
        shutil.rmtree(latest, ignore_errors=True)
        shutil.copytree(artefact_dir, latest)
        artefact = load_artefact(artefact_dir)  # proves the saved files verify and load
    with stages("plots"):
        scored = result.scored
        rng = np.random.default_rng(config.seed)
        oot_rows = np.flatnonzero(oot)
        sample = np.sort(
            rng.choice(oot_rows, min(config.contrib_sample, len(oot_rows)), replace=False)
        )
        x_oot = artefact.matrix(frame)
        contrib = artefact.contributions(x_oot[sample], num_threads=config.model.num_threads)
        by_family = family_contributions(contrib, names, catalogue)
        y_oot = scored[LABEL].to_numpy(dtype=float)[oot]
        plot_dir = artefact_dir.parent / f"{version}-plots"
        plots = save_plots(
            plot_dir,
            y=y_oot,
            prob=scored["prob"].to_numpy()[oot],
            points=scored["points"].to_numpy()[oot],
            truth=scored[TRUTH_P].to_numpy()[oot] if has_truth else None,
            report=result.report,
            feature_names=names,
            gain=result.booster.feature_importance(importance_type="gain"),
            by_family=by_family,
        )
    outcome = None
    uri = resolve_tracking_uri(config.tracking.tracking_uri)
    if config.tracking.enabled:
        from risk_model.modeling.tracking import log_training_run

        with stages("mlflow"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mlflow's advisory UserWarnings
            tags = {
                "split_kind": split.kind,
                "split_reason": split.reason,
                "data_source": str(inputs.source.resolve()),
                "snapshots": how,
                "model_version_label": version,
            }
            params = config.flat() | {"split.kind": split.kind}
            outcome = log_training_run(
                uri=uri,
                experiment=config.tracking.experiment,
                registered_model=config.tracking.registered_model,
                params=params,
                tags=tags,
                report=result.report | {"family_contributions": by_family},
                artefact_dir=artefact_dir.resolve(),
                plots=plots,
                catalogue=catalogue,
                dataset=frame.drop(columns=[C.CAUSE]),
                dataset_digest=spec["data_fingerprint"],
                dataset_source=str(inputs.source.resolve()),
                oot_features=frame.loc[oot, names],
                oot_label=y_oot,
                horizon_months=config.horizon_months,
                run_name=version,
            )
    metrics = result.report["oot"]["metrics"]
    rows: list[tuple[str, object]] = [(f"time {k} (s)", v) for k, v in stages.seconds.items()]
    rows.append(
        (
            "time total (s)",
            sum(v for k, v in stages.seconds.items() if not k.startswith("train:"))
            + sum(result.timings.values()),
        )
    )
    rows += [
        ("split", f"{split.kind} ({split.reason})"),
        (
            "rows train/val/oot",
            f"{split.mask('train').sum()}/{split.mask('val').sum()}/{oot.sum()}",
        ),
        ("best iteration", result.report["best_iteration"]),
        ("calibration", result.calibrator.method),
        ("OOT base rate", metrics["base_rate"]),
        ("OOT mean probability", metrics["mean_p"]),
        ("OOT AUC", metrics["auc"]),
        ("OOT Gini", metrics["gini"]),
        ("OOT KS", metrics["ks"]),
        ("OOT ECE", metrics["ece"]),
        ("OOT ECE / base rate", metrics["ece_to_base_rate"]),
        ("OOT capture top 10%", metrics["capture_top10"]),
        ("OOT Gini slope / month", result.report["oot"]["gini_slope"]),
        ("PSI train -> OOT", result.report["oot"]["psi"]),
    ]
    if "truth" in result.report:
        rows += [
            ("truth Gini (same rows)", result.report["truth"]["metrics"]["gini"]),
            ("Gini model / truth", result.report["gini_ratio"]),
        ]
        truth_by_cause = result.report["truth"]["gini_by_cause"]
        rows += [
            (f"Gini {cause}: model / truth", f"{value:.3f} / {truth_by_cause[cause]:.3f}")
            for cause, value in result.report["oot"]["gini_by_cause"].items()
        ]
    rows += [("artefact", str(artefact_dir)), ("latest copy", str(latest))]
    if outcome is not None:
        champ = outcome.champion_gini
        rows += [
            ("MLflow run id", outcome.run_id),
            ("registered", f"{config.tracking.registered_model} v{outcome.version}"),
            ("alias", f"{outcome.alias} ({outcome.reason})"),
            ("previous champion Gini", "none" if np.isnan(champ) else f"{champ:.4f}"),
            ("MLflow UI", ui_command(uri)),
        ]
    print(_summary(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
    raise SystemExit(main())
