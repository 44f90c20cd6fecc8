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
# # 01 · A tour of the synthetic credit world
#
# closure-risk ships a synthetic world of consumer credit lines in which the **true**
# probability that an account is closed within the next three months, and the true cause,
# are known exactly for every account and month. Models are then measured against the
# ceiling rather than against a guess.
#
# This notebook generates a small world (2,500 accounts over 36 months, a few seconds)
# and looks at it the way a risk analyst would on day one:
#
# 1. how many accounts close each month, and why, around the **regulatory sweeps** and the
#    product **migration deadline**;
# 2. one account's transactions during a **cash-out** episode;
# 3. the **truth table**: the exact closure probabilities behind a few accounts.
#
# Everything it writes goes to `data/notebooks/` (git-ignored), or to the folder named by
# the environment variable `CLOSURE_RISK_NOTEBOOKS`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.compute as pc
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

import risk_model
from risk_model import contract as C
from risk_model.records import to_flat
from risk_model.synthetic import WorldConfig, ensure_world, world_stats

ROOT = Path(risk_model.__file__).resolve().parents[1]  # the checkout
WORK = Path(os.environ.get("CLOSURE_RISK_NOTEBOOKS") or ROOT / "data" / "notebooks")
WORLD = WorldConfig(n_accounts=2_500, n_months=36, seed=7, n_merchants=500)
CAUSE_COLOURS = {
    "regulatory": "#7c3aed",
    "cashout": "#dc2626",
    "overdue": "#ea580c",
    "migration": "#0891b2",
    "dormancy": "#64748b",
}
pd.set_option("display.width", 120)


world = ensure_world(WORLD, WORK / "world")
policy = WORLD.policy
print(f"{world.histories.num_rows:,} accounts, {world.closures.num_rows:,} closures")
print(f"policy calendar: {policy.to_dict()}")
world.closures.to_pandas()[C.CAUSE].value_counts().rename("closures").to_frame()

# %% [markdown]
# The world is four tables: `histories` (one row per account, its monthly statements and
# its transactions as nested lists, in the data contract's form), `closures` (the label),
# `truth` (the exact probabilities, one row per open account and month end) and
# `merchants` (which merchants collude in cash-out). `world_stats` counts them month by
# month.

# %%
stats = world_stats(
    WORLD, world.closures, world.truth, world.histories.num_rows, world.cashout_accounts
)
monthly = stats.monthly(WORLD)
monthly[["month", "open_at_end", "closures", "closure_rate", "horizon_rate", "mean_p_close"]].round(
    4
).head(8)

# %% [markdown]
# ## Closures by month and cause
#
# The upper panel stacks each month's closures by their recorded cause. Regulatory sweeps
# (shaded) close students, the very young, accounts whose identity check is stale and
# holders of many other lines; the migration deadline (dashed line) closes legacy accounts
# that did not move to the current product. Overdue, cash-out and dormancy closures run
# all year.
#
# The lower panel is why the world exists: the share of open accounts that actually close
# within the next three months (dots) against the mean **true** probability at that month
# end (line). They agree within sampling noise because closures are drawn from the very
# hazards the truth is computed from.

# %%
periods = pd.PeriodIndex(monthly["month"], freq="M")
mid_month = periods.to_timestamp() + pd.Timedelta(days=14)  # closures during the month
month_end = periods.to_timestamp(how="end").normalize()  # the state at the month end
deadline = pd.Timestamp(policy.migration_deadline)

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
)
stacked = np.zeros(len(monthly))
for cause in ("dormancy", "overdue", "cashout", "migration", "regulatory"):
    counts = monthly[f"closed_{cause}"].to_numpy()
    top.bar(mid_month, counts, width=24, bottom=stacked, color=CAUSE_COLOURS[cause], label=cause)
    stacked += counts
for ax in (top, bottom):
    for start in policy.regulatory_sweeps:
        end = pd.Timestamp(start) + pd.DateOffset(months=WORLD.sweep_months)
        ax.axvspan(pd.Timestamp(start), end, color="#ede9fe", zorder=0)
    ax.axvline(deadline, color="#0891b2", linestyle="--", linewidth=1.2)
top.set_ylabel("closures in the month")
top.set_title(f"Closures by month and cause ({world.histories.num_rows:,} accounts)")
calendar = [
    Patch(color="#ede9fe", label="regulatory sweep"),
    Line2D([], [], color="#0891b2", linestyle="--", label="migration deadline"),
]
handles = top.get_legend_handles_labels()[0] + calendar
top.legend(
    handles=handles, ncol=7, loc="upper left", bbox_to_anchor=(0, -0.02), frameon=False, fontsize=9
)

observed = monthly["horizon_rate"].notna()
se = np.sqrt(stats.p_close_var) / np.maximum(monthly["open_at_end"].to_numpy(), 1)
truth_line = monthly["mean_p_close"].to_numpy()
bottom.fill_between(
    month_end, truth_line - 2 * se, truth_line + 2 * se, color="#cbd5e1", label="truth ± 2 s.e."
)
bottom.plot(month_end, truth_line, color="#0f172a", label="mean true probability")
bottom.plot(
    month_end[observed],
    monthly.loc[observed, "horizon_rate"],
    "o",
    color="#f59e0b",
    label="closed within 3 months (realised)",
)
bottom.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
bottom.set_ylabel("open accounts closing\nwithin 3 months")
bottom.legend(loc="upper left", frameon=False, fontsize=9, ncol=3)
bottom.set_ylim(0, 1.25 * np.nanmax(monthly["horizon_rate"]))
fig.tight_layout()
plt.show()

# %% [markdown]
# The last three months have no dots: their three-month window runs past the end of the
# world, so only the truth can say how risky those accounts are. That is exactly the
# situation a scoring model is in.
#
# ## A cash-out episode
#
# Cash-out turns a credit line into cash through fake or self-dealing purchases at a
# colluding merchant: round or "lucky" amounts close to the available line, often at
# night, repaid and spent again. Here is the account whose true cash-out probability peaks
# highest, with the truth beside its transactions.

# %%
truth = world.truth.to_pandas()
peak = truth.loc[truth["p_cashout"].idxmax()]
account = peak[C.ACCOUNT_ID]
flat = to_flat(world.histories.filter(pc.equal(world.histories[C.ACCOUNT_ID], account)))
tx = flat.transactions.to_pandas()
statements = flat.statements.to_pandas()
colluding = set(world.merchants.filter(world.merchants[C.IS_COLLUDING])[C.MERCHANT_ID].to_pylist())
tx["colluding"] = tx[C.MERCHANT_ID].isin(colluding)
tx["night"] = tx[C.TS].dt.hour.isin([0, 1, 2, 3, 4, 5])
closure = world.closures.filter(pc.equal(world.closures[C.ACCOUNT_ID], account)).to_pylist()
print(
    f"account {account}: true P(cash-out closure within 3 months) peaks at "
    f"{peak['p_cashout']:.1%} on {peak[C.AS_OF]}"
)
print("closed:", closure[0] if closure else "not closed in the window")

# %%
fig, (ax, ax_truth) = plt.subplots(
    2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
)
limit_x = pd.to_datetime(statements[C.STATEMENT_MONTH])
ax.step(limit_x, statements[C.CREDIT_LIMIT], where="post", color="#94a3b8", label="credit limit")
purchases = tx[tx[C.KIND] == "purchase"]
groups = [
    (purchases[~purchases["colluding"]], "#2563eb", "o", "purchase, ordinary merchant"),
    (purchases[purchases["colluding"]], "#dc2626", "D", "purchase, colluding merchant"),
    (tx[tx[C.KIND] == "repayment"], "#16a34a", "^", "repayment"),
]
for rows, colour, marker, label in groups:
    ax.scatter(rows[C.TS], rows[C.AMOUNT], s=26, color=colour, marker=marker, label=label)
night = purchases[purchases["night"]]
ax.scatter(
    night[C.TS],
    night[C.AMOUNT],
    s=110,
    facecolors="none",
    edgecolors="#0f172a",
    linewidths=0.8,
    label="between midnight and 6 am",
)
ax.set_yscale("log")
ax.set_ylim(tx[C.AMOUNT].min() / 2, statements[C.CREDIT_LIMIT].max() * 15)  # room for the key
ax.set_ylabel("amount (CNY, log scale)")
ax.set_title(f"Account {account}: transactions and the truth")
ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
mine = truth[truth[C.ACCOUNT_ID] == account]
as_of = pd.to_datetime(mine[C.AS_OF])
ax_truth.plot(as_of, mine["p_cashout"], color="#dc2626", label="true P(cash-out closure)")
ax_truth.plot(as_of, mine["p_overdue"], color="#ea580c", label="true P(overdue closure)")
ax_truth.plot(as_of, mine[C.P_CLOSE], color="#0f172a", linestyle=":", label="true P(closure)")
ax_truth.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
ax_truth.set_ylim(0, 1.3 * mine[C.P_CLOSE].max())
ax_truth.set_ylabel("within 3 months")
ax_truth.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The purchases at the colluding merchant (red diamonds) are large, round or patterned,
# and close to the limit; repayments follow and the line is used again. The truth reacts
# the month the episode starts: no feature engineering can do better than that, which is
# what a model is measured against in notebook 02.
#
# ## The truth table
#
# For every open account and month end the truth holds `p_close`, the exact probability of
# closure within the horizon, and its split by cause. Below: at one month end, the account
# with the highest true probability of each cause, and what happened to it.

# %%
as_of = pd.Timestamp(policy.regulatory_sweeps[-1]) - pd.Timedelta(days=1)  # before a sweep
at = truth[pd.to_datetime(truth[C.AS_OF]) == as_of]
causes = ["overdue", "cashout", "regulatory", "dormancy", "migration"]
picked = pd.concat([at.nlargest(1, f"p_{cause}") for cause in causes])
outcome = world.closures.to_pandas().set_index(C.ACCOUNT_ID)
picked = picked.join(outcome, on=C.ACCOUNT_ID)
picked["closed"] = picked[C.CLOSURE_DATE].fillna("open").astype(str)
table = picked[[C.ACCOUNT_ID, C.AS_OF, C.P_CLOSE, *[f"p_{c}" for c in causes], "closed", C.CAUSE]]
table.style.format({c: "{:.1%}" for c in [C.P_CLOSE, *[f"p_{c}" for c in causes]]}).hide(
    axis="index"
)

# %% [markdown]
# The per-cause probabilities do not add up to `p_close`: every cause fires independently
# within a month, and the recorded cause is the highest-priority one that fired
# (regulatory > cash-out > overdue > migration > dormancy). A high probability is not a
# verdict either: some of these accounts are still open.
#
# **Next:** notebook 02 trains the closure-risk model on this world and measures it against
# this truth.
