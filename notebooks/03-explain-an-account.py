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
# # 03 · Explain an account, and what would lower its risk
#
# A score is not much use to the person it is about without a reason and a way out. For
# three accounts of the world of notebook 01, one headed for each of the three commonest
# closure causes (**overdue**, **cash-out** and **dormancy**), this notebook shows:
#
# 1. the score and the **reasons in both registers**: one plain sentence for the account
#    holder, and the feature, value and contribution for an analyst;
# 2. the **contributions by feature family** as a chart: where the model's log-odds come
#    from;
# 3. the **recourse**: the fewest actions in the holder's control that lower the risk band;
# 4. how each compares with the account's **true cause**, which only a synthetic world can
#    tell.
#
# It uses the model notebook 02 trained (and trains the same one when notebook 02 has not
# run yet, in under a minute).

# %%
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from IPython.display import display

import risk_model
from risk_model import contract as C
from risk_model.synthetic import WorldConfig, ensure_world

# mlflow imports tqdm.auto, which warns inside Jupyter when ipywidgets is not installed.
warnings.filterwarnings("ignore", message="IProgress not found")
from risk_model.modeling.dataset import history_window
from risk_model.predict import load
from risk_model.synthetic.extract import extract_at
from risk_model.validation import validate_histories

ROOT = Path(risk_model.__file__).resolve().parents[1]  # the checkout
WORK = Path(os.environ.get("CLOSURE_RISK_NOTEBOOKS") or ROOT / "data" / "notebooks")
WORLD = WorldConfig(n_accounts=2_500, n_months=36, seed=7, n_merchants=500)
MODELS, STORE = WORK / "models", f"sqlite:///{WORK / 'mlflow.db'}"
pd.set_option("display.max_colwidth", 120)


world = ensure_world(WORLD, WORK / "world")
if not (MODELS / "latest").is_dir():  # notebook 02 has not run: train the same model
    from pipelines.train import main as train  # training imports MLflow; scoring does not

    argv = ["--data", str(WORK / "world"), "--out", str(MODELS), "--tracking-uri", STORE]
    argv += ["--cache-dir", str(WORK / "cache")]  # features cache: reruns skip the features
    assert train([*argv, "--seed", "7", "--quiet"]) == 0
predictor = load(MODELS / "latest")
print(f"model {predictor.model_version}")

# %% [markdown]
# ## Score the accounts open at the end of the world
#
# The scoring date is the last month end of the history. `extract_at` cuts what an
# extract taken that day holds: the accounts still open, every statement and transaction
# known by then. The truth gives each account's exact probability of closure within three
# months, split by cause.

# %%
_, as_of = history_window(world.histories)
batch = extract_at(world.histories, world.closures, as_of)
scores = predictor.predict(batch, as_of=as_of, reasons="none")
truth = world.truth.filter(pc.equal(world.truth[C.AS_OF], as_of)).to_pandas()
causes = list(C.CAUSES)  # overdue, cashout, regulatory, dormancy, migration
truth["true_cause"] = truth[[f"p_{c}" for c in causes]].idxmax(axis=1).str.removeprefix("p_")
both = scores.merge(truth, on=C.ACCOUNT_ID)
print(f"as of {as_of}: {len(scores):,} open accounts scored")
pd.crosstab(both["band"], both["true_cause"]).reindex(predictor.artefact.scale.band_names)

# %% [markdown]
# Most accounts sit in the lowest bands; the high bands mix every cause. We take, for each
# of the three causes, the account the **truth** finds most likely to close for it. The
# choice looks only at the truth, never at what the model says, so the model gets no help.

# %%
picked = {
    cause: truth.loc[truth[f"p_{cause}"].idxmax(), C.ACCOUNT_ID]
    for cause in ("overdue", "cashout", "dormancy")
}
records = {
    cause: batch.filter(pc.equal(batch[C.ACCOUNT_ID], account)).to_pylist()[0]
    for cause, account in picked.items()
}
explained = {cause: predictor.predict_one(record, as_of) for cause, record in records.items()}
true_by_account = truth.set_index(C.ACCOUNT_ID)
pd.DataFrame(
    {
        "account": picked[cause],
        "true cause": cause,
        "true P(closure)": true_by_account.at[picked[cause], C.P_CLOSE],
        "true P(closure by that cause)": true_by_account.at[picked[cause], f"p_{cause}"],
        "model probability": one["probability"],
        "band": one["band"],
        "model's top cause": one["top_cause"],
    }
    for cause, one in explained.items()
).round(4)

# %% [markdown]
# ## Reasons, in two registers
#
# Each reason is a factor that raises this account's risk, largest first, from exact
# TreeSHAP contributions. `text` is written for the account holder, with the account's own
# value; `detail` is the same factor for an analyst: the feature code, its value with the
# unit and its contribution in log-odds.

# %%
for cause, one in explained.items():
    print(
        f"\n{one['account_id']}  (true cause: {cause})  "
        f"P = {one['probability']:.1%}, band {one['band']}, model's top cause {one['top_cause']}"
    )
    display(pd.DataFrame(one["reasons"])[["cause", "text", "detail"]])

# %% [markdown]
# ## Where the log-odds come from: contributions by feature family
#
# The contributions of every feature add up, with the model's baseline (its average
# log-odds), to the account's raw score; the calibration map then turns that into the
# probability. Grouped by family (overdue, statements, cash-out, activity, profile, and the calendar
# features that are the same for every account on a date), they show which part of the
# history drives the score. Beside them, the truth's split of the same account's risk by
# cause.

# %%
ids = list(picked.values())
chosen = batch.filter(pc.is_in(batch[C.ACCOUNT_ID], value_set=pa.array(ids)))
frame, _ = predictor.features(validate_histories(chosen, as_of=as_of), as_of)
frame = frame.set_index(C.ACCOUNT_ID).loc[ids].reset_index()  # picked order
art = predictor.artefact
matrix = art.matrix(frame)
contrib = art.contributions(matrix)  # one column per feature, then the baseline
assert np.allclose(contrib.sum(axis=1), art.predict_raw(matrix))  # they add up exactly
entry = {e["name"]: e for e in predictor.catalogue}
family = [
    "calendar" if entry[name]["scope"] == "date" else entry[name]["family"]
    for name in art.feature_names
]
families = ["overdue", "statements", "cashout", "activity", "profile", "calendar"]
by_family = (
    pd.DataFrame(contrib[:, :-1].T, index=art.feature_names, columns=ids)
    .groupby(family)
    .sum()
    .reindex(families)
    .T
)
by_family.round(3)

# %%
FAMILY_COLOURS = {
    "overdue": "#ea580c",
    "statements": "#f59e0b",
    "cashout": "#dc2626",
    "activity": "#64748b",
    "profile": "#7c3aed",
    "calendar": "#cbd5e1",
}
CAUSE_COLOURS = {
    "overdue": "#ea580c",
    "cashout": "#dc2626",
    "dormancy": "#64748b",
    "regulatory": "#7c3aed",
    "migration": "#0891b2",
}
fig, axes = plt.subplots(3, 2, figsize=(11, 8.5), gridspec_kw={"width_ratios": [1.25, 1]})
values_all = by_family.to_numpy()
span = values_all.max() - min(values_all.min(), 0.0)
low, high = min(values_all.min(), 0.0) - 0.18 * span, values_all.max() + 0.12 * span
for row, (cause, account) in enumerate(picked.items()):
    one, left, right = explained[cause], axes[row, 0], axes[row, 1]
    values = by_family.loc[account]
    left.barh(families, values, color=[FAMILY_COLOURS[f] for f in families])
    left.axvline(0, color="#0f172a", linewidth=0.8)
    for y, value in enumerate(values):
        left.text(
            value + (0.02 if value >= 0 else -0.02) * span,
            y,
            f"{value:+.2f}" if abs(value) >= 0.005 else "0.00",
            va="center",
            ha="left" if value >= 0 else "right",
            fontsize=8,
        )
    left.set_xlim(low, high)
    left.invert_yaxis()
    baseline, raw = contrib[row, -1], contrib[row].sum()
    left.set_title(
        f"{account}: model P = {one['probability']:.1%} ({one['band']})\n"
        f"baseline {baseline:+.2f} + families {raw - baseline:+.2f} = {raw:+.2f} log-odds",
        fontsize=9,
    )
    p = true_by_account.loc[account]
    right.barh(causes, [p[f"p_{c}"] for c in causes], color=[CAUSE_COLOURS[c] for c in causes])
    right.axvline(p[C.P_CLOSE], color="#0f172a", linestyle=":", linewidth=1)
    right.invert_yaxis()
    right.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    right.set_title(f"truth: P(closure) = {p[C.P_CLOSE]:.1%} (dotted), by cause", fontsize=9)
axes[-1, 0].set_xlabel("contribution to the log-odds of closure, by feature family")
axes[-1, 1].set_xlabel("true probability of closure within 3 months")
fig.suptitle(
    "Three accounts: the model's contributions by family, and the truth by cause", fontsize=11
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The families speak to causes: overdue features to overdue closures, cash-out features to
# cash-out, activity to dormancy, profile to the regulatory sweeps and the migration.
# Calendar features (months to the next sweep, and the like) move every account on a date
# alike, which is why the reasons leave them out.
#
# ## Recourse: what the holder can do
#
# `Predictor.recourse` edits the account's history as each action would (a repayment, a
# purchase, a renewed identity check, a migration, all dated at the scoring date),
# re-scores every candidate with the same model, and keeps the fewest actions that move the
# account down at least one band. Nothing the holder cannot change (age, student status,
# other lenders, past statements) is ever suggested.

# %%
plans = {cause: predictor.recourse(record, as_of) for cause, record in records.items()}
for cause, plan in plans.items():
    print(
        f"\n{plan['account_id']} (true cause: {cause}): {plan['status']}, "
        f"P {plan['probability']:.1%} ({plan['band']})",
        end="",
    )
    if plan["status"] == "offered":
        print(f" -> {plan['new_probability']:.1%} ({plan['new_band']})")
        for action in plan["actions"]:
            print(f"  - [{action['code']}] {action['text']}")
    else:
        print()

# %% [markdown]
# ## Against the true cause
#
# The truth says which cause is most likely to close each account. The model's reasons
# name a cause for each factor, and `top_cause` is the cause whose risk-raising factors add
# up to the most. The recourse acts on the history, so it should act on the cause too.

# %%
pd.DataFrame(
    {
        "account": picked[cause],
        "true cause": cause,
        "true share of the risk": true_by_account.at[picked[cause], f"p_{cause}"]
        / true_by_account.at[picked[cause], C.P_CLOSE],
        "model's top cause": explained[cause]["top_cause"],
        "top reason": explained[cause]["reasons"][0]["code"] if explained[cause]["reasons"] else "",
        "largest family": by_family.loc[picked[cause]].drop("calendar").idxmax(),
        "agrees": explained[cause]["top_cause"] == cause,
        "recourse": ", ".join(a["code"] for a in plans[cause]["actions"]) or plans[cause]["status"],
    }
    for cause in picked
).round(3)

# %% [markdown]
# The last columns say whether the model's reading matches the truth's. Where they agree,
# the sentence a holder reads names what actually puts the account at risk, and the
# recourse acts on it where an action can move the band: paying what is overdue takes the
# overdue account down two bands. A plan is offered only when it lowers the band, not just
# the probability: a purchase today (using a line that has gone quiet) lowers the dormant
# account's probability a great deal, but on this model not quite below the edge of the
# next band, so it gets no plan. A cash-out account often gets none either: none of the
# five actions changes what the cash-out features read (the shops used, round amounts near
# the limit), which stay in the history for six months whatever the holder does today.
# Over every closed account, not three, `python -m pipelines.evaluate_reasons` measures
# how often the top reason's cause is the true one; cash-out is the cause models find
# hardest (few closures to learn from, and cash-out accounts also show overdue and
# dormancy signals). And the contributions come from the history, not the world: an
# account can truly be headed for one cause while its history, so far, looks like another.
#
# **Next:** notebook 04 scores a batch from a changed world and reads the monitoring
# report.
