import datetime as dt
import re

import lightgbm as lgb
import numpy as np
import pytest

from risk_model import contract as C
from risk_model import reasons as R
from risk_model.modeling import templates as T
from risk_model.policy import PolicyCalendar

CATALOGUE = [
    {"name": "dpd_now", "cause": "overdue", "definition": "Days past due.", "unit": "days",
     "reason": "the latest statement was {value:.0f} days past due"},
    {"name": "round_share_6m", "cause": "cashout", "definition": "Round share.", "unit": "share",
     "reason": "{value:.0%} of purchases were round amounts"},
    {"name": "months_since_kyc", "cause": "regulatory", "unit": "months",
     "definition": "Months since the latest identity check; NaN if unknown or after as-of.",
     "reason": "identity data were last checked {value:.0f} months ago"},
    {"name": "age_years", "cause": "regulatory", "definition": "as-of year - birth year.",
     "unit": "years", "reason": ""},
    {"name": "months_since_purchase", "cause": "dormancy", "unit": "months",
     "definition": "Months from the last purchase; NaN if none in 36 months.",
     "reason": "no purchase in the last {value:.0f} months"},
    {"name": "legacy_unmigrated", "cause": "migration", "definition": "Legacy flag.",
     "unit": "flag", "reason": "the account is still on the retired product version"},
]  # fmt: skip
CAUSES = [e["cause"] for e in CATALOGUE]


def test_reason_text_fills_the_template_with_the_value():
    assert R.reason_text(CATALOGUE[0], 45.0) == "the latest statement was 45 days past due"
    assert R.reason_text(CATALOGUE[1], 0.625) == "62% of purchases were round amounts"


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, None])
@pytest.mark.parametrize("entry", CATALOGUE)
def test_reason_text_never_prints_nan_or_inf(entry, value):
    text = R.reason_text(entry, value)
    assert text
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE), text


def test_feature_without_template_gets_a_generic_text_with_its_value():
    assert R.reason_text(CATALOGUE[3], 19.0) == "as-of year - birth year: 19 years"
    assert R.reason_text(CATALOGUE[3], 19.0) != R.reason_text(CATALOGUE[3], 20.0)


def test_missing_value_text_says_what_missing_means():
    assert R.reason_text(CATALOGUE[4], np.nan) == (
        "Months from the last purchase: not available (none in 36 months)"
    )
    assert R.reason_text(CATALOGUE[0], np.nan) == "Days past due: not available"


def test_generic_numbers_are_readable():
    entry = {"name": "spend_3m", "definition": "Sum of purchases (all shops).", "unit": "CNY"}
    assert R.generic_text(entry, 20512.3) == "Sum of purchases: 20,512 CNY"
    assert R.generic_text({**entry, "unit": "share"}, 0.25) == "Sum of purchases: 25%"
    assert R.generic_text({**entry, "unit": "days"}, 2.5) == "Sum of purchases: 2.5 days"


def test_broken_template_falls_back_instead_of_raising():
    entry = {**CATALOGUE[0], "reason": "bad {other} template"}
    assert R.reason_text(entry, 3.0) == "Days past due: 3 days"


def test_top_reasons_keeps_positive_factors_largest_first_at_most_four():
    contrib = np.array(
        [
            [0.5, -0.2, 0.1, 0.3, 0.05, 0.7, -1.0],  # last column: expected value
            [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -1.0],
            [0.0, 0.2, 0.0, 0.0, 0.0, 0.0, -1.0],
        ]
    )
    values = np.array([[30, 0.1, 12, 19, 2, 1], [0, 0, 1, 40, 0, 0], [0, 0.5, 1, 30, 0, 0]], float)
    out = R.top_reasons(contrib, values, CATALOGUE).to_pylist()
    assert [r["code"] for r in out[0]] == [
        "legacy_unmigrated",
        "dpd_now",
        "age_years",
        "months_since_kyc",
    ]
    assert [r["contribution"] for r in out[0]] == [0.7, 0.5, 0.3, 0.1]
    assert out[0][1] == {
        "code": "dpd_now",
        "cause": "overdue",
        "text": "the latest statement was 30 days past due",
        "contribution": 0.5,
        "detail": "dpd_now = 30 days; contribution +0.500 log-odds",
    }
    assert out[1] == []  # nothing raises the risk: no reason
    assert [r["code"] for r in out[2]] == ["round_share_6m"]


def test_top_reasons_ties_keep_catalogue_order():
    contrib = np.array([[0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.0]])
    out = R.top_reasons(contrib, np.ones((1, 6)), CATALOGUE, max_reasons=3).to_pylist()
    assert [r["code"] for r in out[0]] == ["dpd_now", "round_share_6m", "months_since_kyc"]


VALUES = np.array([45.0, 45.0, -0.0, 0.0, 0.625, np.nan, np.inf, -np.inf, 1234567.5, 2.5, 45.0])
ENTRIES = [
    *CATALOGUE,
    {**CATALOGUE[0], "reason": "bad {other} template"},
    {**CATALOGUE[4], "reason": "{value:.0f", "unit": ""},
    {"name": "plain_feature", "cause": "overdue"},
]


@pytest.mark.parametrize(
    "entry", ENTRIES, ids=[e["name"] + e.get("reason", "")[:6] for e in ENTRIES]
)
def test_feature_texts_equal_reason_text_of_each_value(entry):
    texts = R.feature_texts(entry, VALUES)
    assert texts.tolist() == [R.reason_text(entry, v) for v in VALUES.tolist()]
    # Few values (one account's reasons) are formatted one by one: the same texts.
    for start in range(0, len(VALUES), 3):
        few = VALUES[start : start + 3]
        assert R.feature_texts(entry, few).tolist() == texts[start : start + 3].tolist()


def test_feature_texts_keep_negative_zero_apart_from_zero():
    entry = {**CATALOGUE[0], "reason": "{value:.0f} days"}
    assert R.feature_texts(entry, np.array([-0.0, 0.0])).tolist() == ["-0 days", "0 days"]
    assert R.feature_texts(entry, np.array([], dtype=float)).tolist() == []


@pytest.mark.parametrize("seed", range(5))
def test_top_reasons_order_equals_a_stable_sort_with_ties_and_missing_values(seed):
    rng = np.random.default_rng(seed)
    n, k = 400, len(CATALOGUE)
    contrib = rng.choice([-0.3, -0.0, 0.0, 0.1, 0.2, 0.2, np.nan, np.inf], size=(n, k + 1))
    values = rng.normal(size=(n, k))
    out = R.top_reasons(contrib, values, CATALOGUE).to_pylist()
    feats = contrib[:, :k]
    order = np.argsort(-feats, axis=1, kind="stable")[:, : R.MAX_REASONS]
    for i, reasons in enumerate(out):
        expected = [c for c in order[i] if feats[i, c] > 0]
        assert [r["code"] for r in reasons] == [CATALOGUE[c]["name"] for c in expected]
        assert [r["contribution"] for r in reasons] == [feats[i, c] for c in expected]


def test_top_reasons_never_repeats_a_feature_when_few_are_usable():
    contrib = np.array([[0.4, np.nan, -np.inf, np.nan, -np.inf, np.nan, 0.0]])
    out = R.top_reasons(contrib, np.ones((1, 6)), CATALOGUE).to_pylist()
    assert [r["code"] for r in out[0]] == ["dpd_now"]


def test_top_reasons_of_no_rows_is_empty():
    out = R.top_reasons(np.zeros((0, 7)), np.zeros((0, 6)), CATALOGUE)
    assert len(out) == 0 and out.type == R.REASONS_TYPE


def test_top_cause_is_the_cause_with_the_largest_sum_of_positive_factors():
    # row 0: two regulatory factors (0.25 + 0.25) beat overdue's single 0.4;
    # row 1: a risk-lowering regulatory factor does not cancel a raising one (0.45 > 0.4);
    # row 2: nothing raises the risk.
    contrib = np.array(
        [
            [0.4, 0.0, 0.25, 0.25, 0.0, 0.0, -2.0],
            [0.4, 0.0, 0.45, -0.25, 0.0, 0.0, -2.0],
            [-0.1, -0.1, 0.0, 0.0, -0.3, 0.0, -2.0],
            [0.4, 0.0, 0.35, 0.0, 0.0, 0.0, -2.0],
        ]
    )
    totals = R.cause_totals(contrib, CAUSES)
    assert totals.shape == (4, len(C.CAUSES))
    np.testing.assert_allclose(totals[0], [0.4, 0.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(totals[1], [0.4, 0.0, 0.45, 0.0, 0.0])
    assert list(R.top_causes(contrib, CAUSES)) == ["regulatory", "regulatory", None, "overdue"]


def test_date_context_features_are_left_out_of_the_attribution():
    names = ["dpd_now", "months_to_sweep", "age_years"]
    contrib = np.array([[0.2, 1.5, 0.1, -3.0], [0.0, -0.4, 0.3, -3.0]])
    out = R.account_attribution(contrib, names)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[0.2, 0.0, 0.1], [0.0, 0.0, 0.3]])
    assert contrib[0, 1] == 1.5  # the input is not modified
    kept = R.account_attribution(contrib, ["dpd_now", "other", "age_years"])
    np.testing.assert_array_equal(kept, contrib[:, :3])


def test_lightgbm_contributions_add_up_to_the_raw_score():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=400) > 0.5).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
        lgb.Dataset(x, y),
        num_boost_round=30,
    )
    raw = booster.predict(x, raw_score=True)
    contrib = booster.predict(x, pred_contrib=True)
    assert contrib.shape == (400, 7)
    # The reasons rest on this: per-feature contributions plus the expected value (last
    # column) reproduce the raw log-odds, also for rows with missing values.
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=0.0, atol=1e-9)


def test_empty_reasons():
    assert R.empty_reasons(3).to_pylist() == [[], [], []]


def test_missing_values_without_a_stated_meaning_are_not_reasons():
    names = ["months_since_purchase", "category_amount_ratio_6m", "dpd_now"]
    catalogue = [
        {
            "name": names[0],
            "definition": "Months since the last purchase; NaN if none in 36 months.",
        },
        {"name": names[1], "definition": "Amount / category median amount."},
        {"name": names[2], "definition": "Days past due on the latest statement."},
    ]
    contrib = np.array([[1.0, 0.4, 0.2, -3.0], [0.0, 0.4, 0.2, -3.0]])
    values = np.array([[np.nan, np.nan, 5.0], [2.0, 1.7, 5.0]])
    out = R.account_attribution(contrib, names, values=values, catalogue=catalogue)
    # Missing with a stated meaning stays; missing without one goes; observed values stay.
    np.testing.assert_array_equal(out, [[1.0, 0.0, 0.2], [0.0, 0.4, 0.2]])
    unchanged = R.account_attribution(contrib, names)
    np.testing.assert_array_equal(unchanged, contrib[:, :3])


def test_each_catalogue_object_is_read_for_itself():
    # What the reason functions take from a catalogue is computed once per catalogue
    # object: another catalogue, even one equal in length, gets its own names and causes.
    contrib = np.array([[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]])
    values = np.array([[30, 0.1, 12, 19, 2, 1]], float)
    renamed = [dict(e, name=f"{e['name']}_v2", cause="dormancy") for e in CATALOGUE]
    first = R.top_reasons(contrib, values, CATALOGUE).to_pylist()[0][0]
    second = R.top_reasons(contrib, values, renamed).to_pylist()[0][0]
    assert (first["code"], first["cause"]) == ("dpd_now", "overdue")
    assert (second["code"], second["cause"]) == ("dpd_now_v2", "dormancy")
    assert R.top_reasons(contrib, values, CATALOGUE).to_pylist()[0][0] == first


# The restricted template formatter (risk_model.modeling.templates).
UNSAFE_TEMPLATES = [
    "{value:>999999999}",  # format-spec denial of service
    "{value:0999999999.0f}",
    "{value.__class__}",  # attribute walk
    "{value.__class__.__mro__[1].__subclasses__}",
    "{value[0]}",
    "{value!r}",
    "{other}",
    "{}",
    "{0}",
    "{value:{value}}",  # nested field in the spec
    "{value:.7f}",  # precision above 6
    "{value:x}",
    "{value:.0f",  # unbalanced
    "x" * 501,
]


@pytest.mark.parametrize("template", UNSAFE_TEMPLATES, ids=[t[:20] for t in UNSAFE_TEMPLATES])
def test_unsafe_templates_are_refused_and_never_formatted(template):
    with pytest.raises(T.TemplateError):
        T.check_template(template)
    entry = {**CATALOGUE[0], "reason": template}
    assert R.reason_text(entry, 3.0) == "Days past due: 3 days"
    assert R.feature_texts(entry, np.array([3.0])).tolist() == ["Days past due: 3 days"]


SAFE_TEMPLATES = {
    "{value:z.0f} days": "0 days",
    "{value:+z.0%} change": "-20% change",
    "{value:,.2f} CNY": "-0.20 CNY",
    "{value:.1%} of spend": "-20.0% of spend",
    "{value} raw": "-0.2 raw",
    "{{literal}} {value:.0f}": "{literal} -0",
    "no placeholder": "no placeholder",
}


@pytest.mark.parametrize("template", SAFE_TEMPLATES)
def test_safe_templates_render_like_str_format(template):
    T.check_template(template)
    assert T.render(template, {"value": -0.2}) == SAFE_TEMPLATES[template]
    assert T.render(template, {"value": -0.2}) == template.format(value=-0.2)


def test_every_package_template_is_in_the_safe_grammar():
    from risk_model.features.registry import FEATURES

    for spec in FEATURES:
        for template in (spec.reason, spec.reason_zero, spec.reason_negative, spec.reason_missing):
            T.check_template(template)
        T.check_template(spec.detail)
        # the restricted formatter renders what str.format would (2 reads as plural)
        assert spec.explain(2.0) == spec.reason.format(value=2.0, s="s")


def test_plural_ending_follows_the_value_as_shown():
    template = "{value:z.0f} month{s} ago"
    shown = [T.render(template, {"value": v}) for v in (0.0, 0.6, 1.0, 1.4, 2.0, -1.0, 12.0)]
    assert shown == [
        "0 months ago",
        "1 month ago",
        "1 month ago",
        "1 month ago",
        "2 months ago",
        "-1 month ago",
        "12 months ago",
    ]
    with pytest.raises(T.TemplateError, match="no format spec"):
        T.check_template("month{s:.0f}")


def test_contribution_placeholder_is_allowed_and_others_are_not():
    assert T.render("{contribution:+.3f}", {"contribution": 0.5}) == "+0.500"
    with pytest.raises(T.TemplateError, match="placeholder"):
        T.check_template("{value.__class__}")
    with pytest.raises(T.TemplateError, match="placeholder"):
        T.check_template("{plural}")


def test_details_show_code_value_unit_and_contribution():
    values = np.array([35.0, 35.0, np.nan, 2.5])
    contrib = np.array([1.5014, 0.2, 0.05, 0.3333])
    assert R.detail_texts(CATALOGUE[0], values, contrib) == [
        "dpd_now = 35 days; contribution +1.501 log-odds",
        "dpd_now = 35 days; contribution +0.200 log-odds",
        "dpd_now = missing; contribution +0.050 log-odds",
        "dpd_now = 2 days; contribution +0.333 log-odds",
    ]
    share = R.detail_texts(CATALOGUE[1], np.array([0.25]), np.array([0.1]))
    assert share == ["round_share_6m = 0.250 share; contribution +0.100 log-odds"]
    custom = {**CATALOGUE[2], "detail": "{value:.1f} months"}
    assert R.detail_value(custom, 7.25) == "7.2 months"
    assert R.detail_value({**custom, "detail": "{bad}"}, 7.25) == "7.25 months"


SWEEP_POLICY = PolicyCalendar((dt.date(2024, 3, 1),), sweep_months=2)
RULES = ["", "", "kyc", "age", "", "migration"]
RULED = [{**e, "rule": r} for e, r in zip(CATALOGUE, RULES, strict=True)]


def test_rows_are_idle_when_no_sweep_falls_in_their_horizon():
    as_of = np.array(["2023-10-31", "2023-12-31", "2024-03-31", "2024-04-30"], "datetime64[D]")
    # horizon 3 months, sweep March-April 2024: Nov-Jan and May-Jul hold none of it
    idle = R.idle_rule_rows(as_of, SWEEP_POLICY, 3)
    assert idle.tolist() == [True, False, False, True]
    assert R.idle_rule_rows(as_of, None, 3).all()  # no calendar: no sweep ahead
    assert R.idle_rule_rows(as_of[:0], SWEEP_POLICY, 3).shape == (0,)


def test_sweep_rule_factors_count_for_no_cause_on_idle_rows():
    # both rows: identity check (kyc rule) 0.5 beats overdue 0.3; row 0 is idle
    contrib = np.array([[0.3, 0.0, 0.5, 0.0, 0.0, 0.2], [0.3, 0.0, 0.5, 0.0, 0.0, 0.2]])
    idle = np.array([True, False])
    counted = R.cause_contributions(contrib, RULED, idle)
    np.testing.assert_array_equal(counted[0], [0.3, 0.0, 0.0, 0.0, 0.0, 0.2])
    np.testing.assert_array_equal(counted[1], contrib[1])  # a sweep ahead: unchanged
    assert list(R.top_causes(counted, CAUSES)) == ["overdue", "regulatory"]
    # the migration rule is not a sweep rule: it still counts on idle rows
    assert R.cause_contributions(contrib, RULED, np.zeros(2, bool)) is contrib
    values = np.ones((2, 6))
    out = R.top_reasons(contrib, values, RULED, idle=idle).to_pylist()
    assert [(r["code"], r["cause"]) for r in out[0]] == [
        ("months_since_kyc", C.CAUSE_OTHER), ("dpd_now", "overdue"),
        ("legacy_unmigrated", "migration"),
    ]  # fmt: skip
    assert out[1][0]["cause"] == "regulatory"
    assert (
        R.top_reasons(contrib, values, RULED).to_pylist()
        == R.top_reasons(contrib, values, RULED, idle=np.zeros(2, bool)).to_pylist()
    )
