"""Known limitations of a trained model, derived from its report's facts (plain sentences)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from risk_model.modeling.report_html import fmt, is_missing, psi_light

if TYPE_CHECKING:
    from risk_model.modeling.report import ReportFacts

WEAK_CAUSE_RATIO = 0.8  # a cause ranked below this share of the truth's Gini is flagged
FEW_POSITIVES = 50  # a per-cause Gini from fewer closures than this is noisy
TRUTH_RANKS = 0.1  # below this truth Gini a cause is hardly predictable: no model / truth ratio


def limitations(facts: ReportFacts) -> list[str]:
    """Plain sentences on what the figures do not show, derived from the facts."""
    ev = facts.evaluation
    oot = ev["oot"]["metrics"]
    out: list[str] = []
    table_as_of = ev.get("table_as_of")
    if facts.production_table_as_of:
        gap = oot["gini"] - ev.get("oot_training_mode", {}).get("gini", float("nan"))
        out.append(
            "The production artefact's merchant-risk table is refitted at the end of the "
            f"history ({facts.production_table_as_of}); the OOT figures here were scored with "
            f"the table of {table_as_of} (end of the train window). Scores of past as-of dates "
            "from the production artefact look ahead (merchants look as busy as they became "
            "later), and the shipped table itself was never evaluated out of time. Served minus "
            f"training-mode OOT Gini: {fmt(gap)}."
        )
    positives = round(oot["rows"] * oot["base_rate"])
    out.append(
        f"One seed ({facts.data.get('seed', 'n/a')}), one OOT window: ECE {fmt(oot['ece'], 5)} "
        f"(ECE / base rate {fmt(oot['ece_to_base_rate'], 3)}) and Gini {fmt(oot['gini'])} come "
        f"from {fmt(oot['rows'], 0)} rows with {positives:,} closures, without an interval; "
        "another seed or window moves them."
    )
    out.append(
        "Selection figures are in-sample for capacity, early stopping and the calibration map; "
        "only the OOT columns are honest estimates."
    )
    if facts.split.get("kind") != "time":
        out.append(
            f"The split is by {facts.split.get('kind')}, not by time: the 'OOT' rows share months "
            "with training, so drift and decay are not measured."
        )
    if "truth" not in ev:
        out.append(
            "No true probabilities: figures are measured against observed labels only, so the "
            "ceiling (what a perfect model would reach) is unknown."
        )
    else:
        out.append(
            "The data are a synthetic world with known truth; a real portfolio has other cause "
            "mixes, missing fields and label noise, so these figures do not transfer as they are."
        )
        truth = ev["truth"]["gini_by_cause"]
        for cause, value in ev["oot"]["gini_by_cause"].items():
            t = truth.get(cause, float("nan"))
            if is_missing(value) or is_missing(t):
                continue
            if t < TRUTH_RANKS or value < WEAK_CAUSE_RATIO * t:
                out.append(
                    f"{cause.capitalize()} closures are ranked weakly: Gini {fmt(value, 3)} vs "
                    f"{fmt(t, 3)} for the truth"
                    + (
                        " (the truth itself barely ranks them: they are hardly predictable)."
                        if t < TRUTH_RANKS
                        else "."
                    )
                )
    few = sorted(c for c, n in facts.positives_by_cause.items() if n < FEW_POSITIVES)
    if few:
        out.append(
            f"Fewer than {FEW_POSITIVES} OOT closures for {', '.join(few)}: their Gini by cause "
            "is noisy."
        )
    light = psi_light(ev["oot"]["psi"])
    if light in ("amber", "red"):
        out.append(
            f"Score PSI train → OOT is {fmt(ev['oot']['psi'])} ({light}): the score distribution "
            "moved between the windows (population, policy or feature drift); the monthly table "
            "shows whether the observed rate moved with it."
        )
    slope = ev["oot"]["gini_slope"]
    if not is_missing(slope) and slope < -0.01:
        out.append(f"Gini falls by {fmt(-slope)} per OOT month: the model decays.")
    if facts.reason_accuracy is None:
        out.append(f"Reason accuracy is not measured ({facts.reason_note}).")
    return out
