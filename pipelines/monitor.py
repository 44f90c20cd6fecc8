"""Watch a scored batch for drift: ``python -m pipelines.monitor SCORES.parquet``.

Compares the scores written by ``python -m pipelines.score`` with the training reference
stored in the model (``reference.json``: the served selection-window rows of training,
see :mod:`risk_model.modeling.reference`): score PSI and band shift; with ``--histories``
(the file the batch was scored from) also the CSI and the missing-rate shift of every
model feature, rebuilt for the scored accounts by the predictor's feature path at the
scores' as-of date. Each figure has a light (:mod:`risk_model.monitoring`): PSI, CSI and
band shift green below 0.10, amber 0.10 to 0.25, red above 0.25; missing-rate shift green
below 5 pp, amber 5 to 10 pp, red above 10 pp.

Writes ``monitoring.html`` (self-contained: inline style and plots, no external URL) and
``monitoring.json`` (every figure) to ``--out`` (default ``data/monitoring/<scores
name>/``) and logs the same figures, with both files, to MLflow as a run of the
experiment ``closure-risk-monitoring`` linked to the model's registered version
(``--no-tracking`` skips it).

The model: ``--model`` (artefact directory, ``models:/`` or ``runs:/`` URI, run id); by
default the registered version that made the scores (their ``model_version`` label). The
scores must come from that model and hold one as-of date.

Exit codes: 0 no red light; 1 at least one red light; 2 usage or input error (missing or
unreadable file, scores without the expected columns or with several as-of dates or
models, unknown model, a model without a training reference, no scored account in the
histories).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines._reading import InputError, check_columns, numbered_batches, one_line, open_input
from risk_model import contract as C

if TYPE_CHECKING:
    from pipelines._monitor_tracking import Registered
    from risk_model.monitoring import Drift, MonitorResult
    from risk_model.predict import Predictor

LOG = logging.getLogger("pipelines.monitor")
# In the working directory (an installed package has no project folder to write into).
DEFAULT_OUT = Path("data/monitoring")
EXIT_OK, EXIT_RED, EXIT_USAGE = 0, 1, 2
SCORE_COLUMNS = (C.ACCOUNT_ID, C.AS_OF, "probability", "band", "model_version")
REPORT, FIGURES = "monitoring.html", "monitoring.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.monitor",
        description="Compare a scored batch with the model's training reference (drift).",
        epilog="Exit codes: 0 no red light, 1 some red light, 2 usage or input error.",
    )
    parser.add_argument("scores", type=Path, help="scores parquet written by pipelines.score")
    parser.add_argument(
        "--histories",
        type=Path,
        help="the histories parquet the batch was scored from (adds CSI and missing rates)",
    )
    parser.add_argument(
        "--model",
        help="artefact dir, models:/ or runs:/ URI, or run id (default: the registered "
        "version named by the scores' model_version)",
    )
    parser.add_argument(
        "--out", type=Path, help="report folder (default data/monitoring/<scores name>/)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store (default MLFLOW_TRACKING_URI, else ./mlflow.db)",
    )
    parser.add_argument(
        "--experiment",
        default="closure-risk-monitoring",
        help="MLflow experiment of the monitoring runs (default %(default)s)",
    )
    parser.add_argument("--no-tracking", action="store_true", help="skip MLflow logging")
    parser.add_argument(
        "--batch-rows", type=int, default=10_000, help="accounts per batch read from --histories"
    )
    args = parser.parse_args(argv)
    if args.batch_rows < 1:
        parser.error("--batch-rows must be >= 1")
    return args


def read_scores(path: Path) -> pa.Table:
    """Read the scores columns monitoring needs; refuse a file that cannot be a batch.

    Raises
    ------
    InputError
        When the file is missing or unreadable, lacks a column, is empty, holds several
        as-of dates or model versions, or has a probability outside [0, 1].
    """
    if not path.is_file():
        raise InputError(f"scores file not found: {path}")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in SCORE_COLUMNS if c not in names]
        if missing:
            raise InputError(
                f"{path} lacks column(s) {', '.join(missing)}: give the scores file written "
                "by python -m pipelines.score"
            )
        table = pq.read_table(path, columns=list(SCORE_COLUMNS))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {path} as parquet: {exc}") from exc
    if table.num_rows == 0:
        raise InputError(f"{path} holds no scored account")
    for column in (C.AS_OF, "model_version"):
        values = pc.unique(table[column].cast(pa.string())).to_pylist()
        if len(values) != 1 or values[0] is None:
            shown = ", ".join(map(str, sorted(values, key=str)[:5]))
            raise InputError(
                f"{path}: one {column} expected in a batch, found {len(values)} ({shown}); "
                "monitor each batch on its own"
            )
    prob = table["probability"].to_numpy(zero_copy_only=False)
    if not (np.isfinite(prob) & (prob >= 0) & (prob <= 1)).all():
        raise InputError(f"{path}: probability must be a number in [0, 1] on every row")
    return table


def load_model(args: argparse.Namespace, label: str) -> tuple[Predictor, Registered | None]:
    """Load ``--model`` (default: the registered version named ``label``) as a predictor."""
    from pipelines._monitor_tracking import find_registered
    from risk_model.modeling.spec_check import VERSION
    from risk_model.modeling.tracking import resolve_tracking_uri
    from risk_model.predict import ModelLoadError, load

    if not VERSION.fullmatch(label):
        raise InputError(f"scores: model_version is not a version label: {label!r}")
    registered = None
    model = args.model
    if not args.no_tracking or model is None:
        try:
            registered = find_registered(resolve_tracking_uri(args.tracking_uri), label)
        except Exception as exc:  # MLflow raises many types for unusable stores
            if model is None:
                raise InputError(f"cannot read the MLflow store: {exc}") from exc
            LOG.warning("model registry unavailable (%s): the run is not linked", exc)
    if model is None:
        model = registered.uri if registered else None
        if model is None:
            raise InputError(
                f"the scores were made by model {label}, which is not a registered version "
                f"in {resolve_tracking_uri(args.tracking_uri)}: pass --model (its artefact "
                "directory)"
            )
        LOG.info("model %s is registered as %s", label, model)
    try:
        predictor = load(model, tracking_uri=args.tracking_uri)
    except ModelLoadError as exc:
        raise InputError(str(exc).splitlines()[0]) from exc
    if predictor.model_version != label:
        raise InputError(
            f"the scores were made by model {label}, not by {predictor.model_version} "
            f"({model}): pass the model that made them as --model"
        )
    return predictor, registered


def batch_features(
    predictor: Predictor, path: Path, ids: pa.Array, as_of: dt.date, batch_rows: int
) -> tuple[np.ndarray, int]:
    """Raw model features of the scored accounts, rebuilt from ``path`` at ``as_of``.

    The file is read in batches of accounts; each batch is cut to the scored accounts,
    validated and built by the predictor's feature path (what scoring did).

    Returns
    -------
    features : numpy.ndarray
        ``(accounts found, n_features)`` in model order.
    rejected : int
        Scored accounts found in the file but refused by validation now.
    """
    from risk_model.limits import split_within_limits
    from risk_model.validation import ContractError

    source = open_input(path)
    columns = check_columns(source)
    parts, rejected = [], 0
    artefact = predictor.artefact
    try:
        for _, table in numbered_batches(source, batch_rows, columns, path):
            wanted = table.filter(pc.fill_null(pc.is_in(table[C.ACCOUNT_ID], value_set=ids), False))
            if wanted.num_rows == 0:
                continue
            valid, rejects = split_within_limits(wanted, as_of, predictor.limits)
            rejected += rejects.num_rows
            frame, _ = predictor.features(valid, as_of)
            parts.append(artefact.matrix(frame))
    except ContractError as exc:
        raise InputError(one_line(exc)) from exc
    if not parts:
        raise InputError(f"no scored account found in {path}: give the file the batch came from")
    return np.concatenate(parts), rejected


def run(args: argparse.Namespace) -> int:
    """Monitor ``args.scores``; return the exit code."""
    from risk_model.monitoring import (
        NoReferenceError,
        calendar_features,
        monitor,
        require_reference,
    )

    scores = read_scores(args.scores)
    label = scores["model_version"][0].as_py()
    as_of = scores[C.AS_OF][0].as_py()
    out = args.out or DEFAULT_OUT / args.scores.name.removesuffix(".parquet")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is not a directory")
    predictor, registered = load_model(args, label)
    try:  # before the features are built: nothing to compare them with
        require_reference(predictor.artefact.reference, label)
    except NoReferenceError as exc:
        raise InputError(str(exc)) from exc
    features = None
    if args.histories is not None:
        features = scored_features(predictor, args, scores, as_of)
    try:
        result = monitor(
            predictor.artefact.reference,
            model_version=label,
            as_of=as_of.isoformat(),
            prob=scores["probability"].to_numpy(),
            bands=scores["band"].to_numpy(zero_copy_only=False),
            features=features,
            feature_names=predictor.artefact.feature_names if features is not None else None,
            calendar=calendar_features(predictor.catalogue),
        )
    except ValueError as exc:
        raise InputError(f"{args.scores}: {exc}") from exc
    files = write_outputs(out, result, args, registered)
    if not args.no_tracking:
        log_run(args, result, registered, files)
    print(summary(result, files[0]))
    return EXIT_RED if result.light == "red" else EXIT_OK


def scored_features(
    predictor: Predictor, args: argparse.Namespace, scores: pa.Table, as_of: dt.date
) -> np.ndarray:
    """Features of the scored accounts from ``--histories``; warn about those left out."""
    ids = scores[C.ACCOUNT_ID].combine_chunks()
    features, rejected = batch_features(predictor, args.histories, ids, as_of, args.batch_rows)
    if rejected:
        LOG.warning("%d scored account(s) are refused by validation now: left out", rejected)
    absent = scores.num_rows - rejected - len(features)
    if absent > 0:
        LOG.warning(
            "%d of %d scored accounts are not in %s (or not open at %s)",
            absent,
            scores.num_rows,
            args.histories,
            as_of,
        )
    return features


def write_outputs(
    out: Path, result: MonitorResult, args: argparse.Namespace, registered: Registered | None
) -> list[Path]:
    """Write the report and the figures; return their paths."""
    from risk_model.monitoring_report import render_html

    source = {"scores": str(args.scores)}
    if args.histories is not None:
        source["histories"] = str(args.histories)
    if registered is not None and registered.uri:
        source["registered"] = f"{registered.uri} (training run {registered.run_id})"
    figures = result.to_dict() | {"source": source}
    try:
        out.mkdir(parents=True, exist_ok=True)
        report, data = out / REPORT, out / FIGURES
        _write_text(report, render_html(result, source=source))
        _write_text(data, json.dumps(figures, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    return [report, data]


def _write_text(path: Path, text: str) -> None:
    """Write beside ``path`` and rename: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def log_run(
    args: argparse.Namespace,
    result: MonitorResult,
    registered: Registered | None,
    files: list[Path],
) -> None:
    """Log the figures and files to MLflow as a monitoring run."""
    from pipelines._monitor_tracking import Registered, log_monitoring
    from risk_model.modeling.tracking import resolve_tracking_uri

    registered = registered or Registered(result.model_version)
    if registered.version is None:
        LOG.warning("model %s is not registered: the run names it by label", result.model_version)
    run_id = log_monitoring(
        uri=resolve_tracking_uri(args.tracking_uri),
        experiment=args.experiment,
        result=result,
        registered=registered,
        files=files,
        tags={"scores_file": str(args.scores.resolve()), "as_of": result.as_of},
    )
    LOG.info("logged monitoring run %s in experiment %s", run_id, args.experiment)


def _figure(drift: Drift) -> str:
    line = f"{drift.value:.3f}  {drift.light}"
    return line if drift.note is None else f"{line} ({drift.note})"


def summary(result: MonitorResult, report: Path) -> str:
    """Return the lines printed at the end."""
    lines = [
        f"model {result.model_version}, batch as of {result.as_of}: {result.rows:,} accounts",
        f"score PSI    {_figure(result.score)}",
        f"band shift   {_figure(result.bands)}",
    ]
    if result.features:
        lit = [f for f in result.features if f.csi_lit]
        if lit:
            top = max(lit, key=lambda f: f.csi or 0.0)
            lines.append(f"largest CSI  {top.csi:.3f}  {top.csi_light} ({top.name})")
        moved = max(result.features, key=lambda f: abs(f.missing_change))
        change = f"{100 * moved.missing_change:+.1f} pp"
        lines.append(f"missing rate {change}  {moved.missing_light} ({moved.name})")
    else:
        lines.append("features     not compared (pass --histories)")
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    lines.append(f"overall      {result.light} ({counts})")
    lines.append(f"report       {report}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (see the module docstring)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return int(exc.code or 0)
    try:
        return run(args)
    except InputError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
