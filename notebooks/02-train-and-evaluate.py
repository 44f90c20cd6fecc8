# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Train the model and measure it against the truth
#
# This notebook trains the closure-risk model on the small world of notebook 01 with the
# same command a user runs (`python -m pipelines.train`), then opens what it produced:
#
# 1. the **windows**: which months fit the trees, which choose everything that is chosen
#    (capacity, number of trees, calibration, champion or challenger) and which are only
#    looked at once, out of time (OOT);
# 2. **ROC and reliability against the truth**: the synthetic world knows each account's
#    exact closure probability, so the model can be compared with the best any model could
#    do on the same rows;
# 3. **Gini by month and by cause**, model and truth side by side;
# 4. the **MLflow run** and the **registered version**.
#
# Training takes well under a minute on two cores. The world, the model folder and the
# MLflow store (SQLite) are written under `data/notebooks/` (or `CLOSURE_RISK_NOTEBOOKS`);
# notebooks 03 and 04 reuse the model.

# %%
import datetime as dt
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import risk_model
from risk_model.synthetic import WorldConfig, ensure_world, world_stats

# mlflow imports tqdm.auto, which warns inside Jupyter when ipywidgets is not installed.
warnings.filterwarnings("ignore", message="IProgress not found")
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_curve

from pipelines.train import main as train
from risk_model.features import fit_merchant_risk
from risk_model.modeling import metrics
from risk_model.modeling.artefact import load_artefact
from risk_model.modeling.dataset import LABEL, TRUTH_P
from risk_model.modeling.package import in_memory_artefact
from risk_model.modeling.snapshots import snapshot_frame
from risk_model.predict import Predictor

ROOT = Path(risk_model.__file__).resolve().parents[1]  # the checkout
WORK = Path(os.environ.get("CLOSURE_RISK_NOTEBOOKS") or ROOT / "data" / "notebooks")
WORLD = WorldConfig(n_accounts=2_500, n_months=36, seed=7, n_merchants=500)
MODELS, STORE = WORK / "models", f"sqlite:///{WORK / 'mlflow.db'}"


world = ensure_world(WORLD, WORK / "world")

# %% [markdown]
# ## Train
#
# One call does everything: point-in-time features and labels at every labelled month end,
# the split by time, a small capacity search, the LightGBM fit with early stopping,
# calibration, the out-of-time evaluation, the artefact, the model report, and an MLflow
# run that registers the model as `closure-risk`. `--quiet` keeps the log to warnings;
# the summary is printed at the end.

# %%
argv = ["--data", str(WORK / "world"), "--out", str(MODELS), "--tracking-uri", STORE]
argv += ["--cache-dir", str(WORK / "cache")]  # features cache: reruns skip the features
assert train([*argv, "--seed", "7", "--quiet"]) == 0

# %% [markdown]
# ## The three windows
#
# Labelled month ends are cut by time. `horizon - 1` months are dropped at each boundary
# so that no label window (closed within the next 3 months) reaches into the next part.
# The OOT window is scored once, for the report, and never used to choose anything.

# %%
artefact = load_artefact(MODELS / "latest")
spec, split, reported = artefact.spec, artefact.spec["split"], artefact.spec["metrics"]
stats = world_stats(
    WORLD, world.closures, world.truth, world.histories.num_rows, world.cashout_accounts
)
monthly = stats.monthly(WORLD)
month_end = pd.PeriodIndex(monthly["month"], freq="M").to_timestamp(how="end").normalize()
windows = {
    "train": ("months_train", "#16a34a"),
    "selection": ("months_val", "#f59e0b"),
    "OOT": ("months_oot", "#dc2626"),
}

fig, ax = plt.subplots(figsize=(11, 3.6))
ax.plot(month_end, monthly["horizon_rate"], "o-", color="#0f172a", label="closed within 3 months")
ax.plot(month_end, monthly["mean_p_close"], color="#94a3b8", label="mean true probability")
top = 1.25 * np.nanmax(monthly["mean_p_close"])
for name, (key, colour) in windows.items():
    days = pd.to_datetime(split[key])
    first, last = days.min() - pd.Timedelta(days=15), days.max() + pd.Timedelta(days=15)
    ax.axvspan(first, last, color=colour, alpha=0.15, zorder=0)
    ax.text(
        first + (last - first) / 2,
        top * 0.93,
        f"{name}\n{len(days)} months",
        ha="center",
        va="top",
        color=colour,
        fontsize=9,
        fontweight="bold",
    )
for sweep in artefact.policy.regulatory_sweeps:
    ax.axvline(pd.Timestamp(sweep), color="#7c3aed", linestyle=":", linewidth=1)
ax.axvline(
    pd.Timestamp(artefact.policy.migration_deadline), color="#0891b2", linestyle="--", linewidth=1
)
ax.set_ylim(0, top)
ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
ax.set_title(
    "Labelled month ends and the three windows "
    "(dotted: regulatory sweeps, dashed: migration deadline)",
    fontsize=10,
)
ax.legend(loc="lower left", frameon=False, fontsize=9, ncol=2)
fig.tight_layout()
plt.show()
print({k: split[k] for k in ("kind", "gap_months", "rows_train", "rows_val", "rows_oot")})

# %% [markdown]
# The gaps are the label's price: a row at the end of November is labelled by closures in
# December to February, so it cannot sit just before a window that starts in December.
# The calendar is the default world's: two sweeps and the migration deadline fall in the
# train window, one sweep in the selection window, none in the OOT window.
#
# ## The out-of-time rows, scored as a user would score them
#
# The report's OOT figures are the **served path**: features rebuilt by the scoring code
# with a merchant-risk table frozen at the end of the train window, scored by the
# predictor. We rebuild those rows here, with their labels and the truth, and check that
# we get the reported Gini to the last digit.

# %%
table_date = dt.date.fromisoformat(reported["evaluated_with_merchant_risk_as_of"])
table = fit_merchant_risk(world.histories, table_date)  # the one the OOT rows were scored with
oot_dates = [dt.date.fromisoformat(d) for d in split["months_oot"]]
rows = snapshot_frame(
    world.histories,
    world.closures,
    oot_dates,
    horizon_months=artefact.horizon_months,
    policy=artefact.policy,
    truth=world.truth,
    merchant_risk=table,
)
served = Predictor(in_memory_artefact(artefact.booster, spec, table))
prob = served.score_features(rows, reasons="none")["probability"].to_numpy()
y, truth = rows[LABEL].to_numpy(dtype=float), rows[TRUTH_P].to_numpy()
print(f"{len(rows):,} OOT account-months, {int(y.sum())} closed within 3 months")
print(
    f"Gini: model {metrics.gini(y, prob):.4f} (reported {reported['oot']['gini']:.4f}), "
    f"truth {metrics.gini(y, truth):.4f}"
)
assert np.isclose(metrics.gini(y, prob), reported["oot"]["gini"], rtol=0, atol=1e-12)

# %% [markdown]
# ## Against the truth
#
# * **ROC**: the truth's curve is the ceiling. No model of these features (or any others)
#   can rank closures better on average, because closures are random draws from the
#   truth's probabilities.
# * **Reliability**: accounts grouped in ten equal-sized bins of the model's probability.
#   Against the observed closure rate (dots) the check is noisy, only a few hundred
#   closures; against the mean true probability (crosses) it is not: that is how far the
#   calibrated probability is from the right answer.
# * **Gini by month and by cause**: per OOT month, and per closure cause (closures of that
#   cause against all accounts that stayed open).

# %%
by_month = {
    "model": metrics.gini_by_period(y, prob, rows["as_of"].to_numpy()),
    "truth": metrics.gini_by_period(y, truth, rows["as_of"].to_numpy()),
}
by_cause = {
    "model": metrics.gini_by_cause(y, prob, rows["cause"].to_numpy()),
    "truth": metrics.gini_by_cause(y, truth, rows["cause"].to_numpy()),
}
colours = {"model": "#2563eb", "truth": "#0f172a"}

fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
ax = axes[0, 0]
for name, p in (("model", prob), ("truth", truth)):
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, color=colours[name], label=f"{name}  (Gini {metrics.gini(y, p):.3f})")
ax.plot([0, 1], [0, 1], color="#cbd5e1", linestyle="--")
ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, OOT")
ax.legend(loc="lower right", frameon=False)

ax = axes[0, 1]
order = np.argsort(prob, kind="stable")
bins = np.array_split(order, 10)
mean_p = np.array([prob[b].mean() for b in bins])
observed = np.array([y[b].mean() for b in bins])
mean_truth = np.array([truth[b].mean() for b in bins])
lo, hi = 0.5 * min(mean_p.min(), mean_truth.min()), 1.5 * max(mean_p.max(), mean_truth.max())
ax.plot([lo, hi], [lo, hi], color="#cbd5e1", linestyle="--", label="perfect calibration")
ax.plot(mean_p, observed, "o", color="#f59e0b", label="observed closure rate")
ax.plot(mean_p, mean_truth, "x-", color="#0f172a", markersize=8, label="mean true probability")
ax.set(
    xscale="log",
    yscale="log",
    xlim=(lo, hi),
    ylim=(lo, hi),
    xlabel="mean model probability in the bin",
    title="Reliability, OOT (10 bins)",
)
ax.legend(loc="upper left", frameon=False)

for ax, series, title in (
    (axes[1, 0], by_month, "Gini by OOT month"),
    (axes[1, 1], by_cause, "Gini by closure cause, OOT"),
):
    keys = list(series["truth"])
    x = np.arange(len(keys))
    for k, name in enumerate(("model", "truth")):
        values = [series[name].get(key, np.nan) for key in keys]
        ax.bar(x + (k - 0.5) * 0.38, values, width=0.38, color=colours[name], label=name)
    ax.set_xticks(x, keys)
    low = min(0.0, np.nanmin([v for s in series.values() for v in s.values()]) - 0.05)
    ax.axhline(0, color="#0f172a", linewidth=0.8)
    ax.set(ylim=(low, 1.12), ylabel="Gini", title=title)
    ax.legend(loc="upper center", frameon=False, ncol=2)
counts = pd.Series(rows.loc[y > 0, "cause"]).value_counts()
axes[1, 1].set_xticks(
    np.arange(len(by_cause["truth"])),
    [f"{c}\n({counts.get(c, 0)} closed)" for c in by_cause["truth"]],
)
fig.suptitle(f"Model {artefact.version}: out of time, against the truth", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the ratio, not the level: a Gini of the model close to the truth's means the
# features catch almost everything there is to catch. A cause with few closures in the
# window has a noisy bar for both. Where the truth's own bar is near zero (regulatory
# closures outside a sweep: the OOT window holds none), no model can rank those closures;
# it is the ceiling, not the model, that is low.
#
# ## The MLflow run and the registered version
#
# The run spans the whole training; the registry holds every version with its aliases
# (`champion`, `challenger`). Running this notebook again registers a second version; it
# scores the selection rows exactly like the first, so it cannot beat it and becomes the
# `challenger`.

# %%
client = MlflowClient(STORE)
model = client.get_registered_model("closure-risk")
versions = client.search_model_versions("name = 'closure-risk'")
aliases = {v: a for a, v in model.aliases.items()}
pd.DataFrame(
    {
        "version": v.version,
        "alias now": aliases.get(v.version, ""),
        "decision": v.tags.get("decision", ""),
        "why": v.tags.get("alias_reason", ""),
        "selection Gini": v.tags.get("new_gini_same_selection_rows", ""),
        "run": v.run_id,
    }
    for v in sorted(versions, key=lambda v: int(v.version))
)

# %%
latest = max(versions, key=lambda v: int(v.version))
run = client.get_run(latest.run_id)
print(f"run {run.info.run_id} ({run.info.status}): model {run.data.tags['model_version_label']}")
print("windows:", run.data.tags.get("windows"))
wanted = ["val_gini", "oot_gini", "oot_auc", "oot_ece", "truth_gini", "gini_ratio_model_to_truth"]
print({k: round(v, 4) for k, v in sorted(run.data.metrics.items()) if k in wanted})
print("artifacts:", [a.path for a in client.list_artifacts(run.info.run_id)])
print("model report:", MODELS / f"{artefact.version}-report.html")
print(f"\nto browse: mlflow ui --backend-store-uri {STORE}")

# %% [markdown]
# The model report (`<version>-report.html`, also the run's `report.html`) is one
# self-contained page for a model validator with these figures and more: the decile table,
# stability, feature importance and the reason accuracy.
#
# **Next:** notebook 03 explains single accounts with this model.
