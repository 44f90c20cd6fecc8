import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest
from factory import account, statement, transaction

from risk_model import contract as C
from risk_model import recourse as RC
from risk_model.features import FEATURES
from risk_model.records import from_records
from risk_model.validation import ContractError, validate_histories

AS_OF = dt.date(2023, 4, 30)
FINE_LEVELS = tuple(np.round(np.arange(0.95, -0.01, -0.05), 2))


@pytest.fixture(scope="module")
def thousand(predictor, model):
    """1,000 accounts of the test world, their probabilities and their recourse."""
    valid = validate_histories(model.histories.slice(0, 1000), as_of=model.as_of)
    scores, _ = predictor.score_arrow(valid, model.as_of, reasons="none")
    found = RC.find_recourse(predictor, valid, model.as_of).to_pylist()
    return valid, scores["probability"].to_numpy(), scores["band"].to_pylist(), found


def _plan(actions):
    return tuple(
        RC.Action(a["code"], np.nan if a["level"] is None else a["level"]) for a in actions
    )


def _validate_copies(edited, as_of):
    """Every edited history meets the contract (copies of one account renamed apart)."""
    ids = [f"{a}#{j}" for j, a in enumerate(edited[C.ACCOUNT_ID].to_pylist())]
    validate_histories(edited.set_column(0, C.ACCOUNT_ID, pa.array(ids)), as_of=as_of)


def _rank(predictor, bands):
    names = predictor.artefact.scale.band_names
    return np.array([names.index(b) for b in bands])


def test_every_suggested_action_lowers_the_probability_over_1000_accounts(
    predictor, model, thousand
):
    valid, p0, bands, found = thousand
    offered = [i for i, r in enumerate(found) if r["status"] == RC.OFFERED]
    assert len(offered) >= 100
    # one batch: each account's whole plan, then each of its actions alone
    rows, plans, whole = [], [], []
    for i in offered:
        plan = _plan(found[i]["actions"])
        whole.append(len(rows))
        rows.append(i)
        plans.append(plan)
        for action in plan:
            rows.append(i)
            plans.append((action,))
    edited = RC.apply_plans(valid, model.as_of, np.array(rows), plans)
    _validate_copies(edited, model.as_of)
    scores, _ = predictor.score_arrow(edited, model.as_of, reasons="none")
    p = scores["probability"].to_numpy()
    rows = np.array(rows)
    assert (p < p0[rows]).all()  # the plans and every action alone
    whole = np.array(whole)
    reported = np.array([found[i]["probability"] for i in offered])
    assert np.array_equal(p[whole], reported)  # exactly the reported new probability
    new_rank = _rank(predictor, scores["band"].take(pa.array(whole)).to_pylist())
    assert (new_rank < _rank(predictor, [bands[i] for i in offered])).all()
    assert [found[i]["band"] for i in offered] == scores["band"].take(pa.array(whole)).to_pylist()


def test_recourse_is_offered_wherever_a_wider_search_finds_one(predictor, model, thousand):
    valid, _, bands, found = thousand
    lowest = predictor.artefact.scale.band_names[0]
    wide = RC.find_recourse(predictor, valid, model.as_of, max_actions=5, levels=FINE_LEVELS)
    wide = wide.to_pylist()
    exists = [r["status"] == RC.OFFERED for r in wide]
    offered = [r["status"] == RC.OFFERED for r in found]
    assert not any(o and not e for o, e in zip(offered, exists, strict=True))
    assert sum(offered) >= 0.95 * sum(exists)
    for band, r in zip(bands, found, strict=True):
        if band == lowest:
            assert r == {"status": RC.LOWEST_BAND, "actions": [], "probability": None, "band": None}
        else:
            assert r["status"] in (RC.OFFERED, RC.NONE_FOUND)
            assert (r["status"] == RC.OFFERED) == bool(r["actions"]) <= (r["band"] is not None)


def test_plans_are_the_fewest_actions_of_distinct_kinds(thousand):
    *_, found = thousand
    plans = [r["actions"] for r in found if r["status"] == RC.OFFERED]
    sizes = {len(p) for p in plans}
    assert sizes <= {1, 2, 3} and 1 in sizes
    for actions in plans:
        codes = [a["code"] for a in actions]
        assert len(set(codes)) == len(codes) and set(codes) <= set(RC.ACTIONS)


_INTERNAL = re.compile(r"[a-z]+_[a-z_]+|\bnan\b|\binf\b|\bNone\b|\{|\}")


def test_each_action_has_a_customer_sentence(thousand):
    *_, found = thousand
    seen = set()
    for r in found:
        for a in r["actions"]:
            seen.add(a["code"])
            text = a["text"]
            assert text[0].isupper() and text.endswith(".")
            assert not _INTERNAL.search(text), text
            if a["amount"] is not None:
                assert "CNY" in text
    assert len(seen) >= 3


def test_edits_touch_only_what_the_holder_controls(predictor, model, thousand):
    valid, _, _, _ = thousand
    as_of = model.as_of
    state = RC.read_state(valid, as_of)
    rows, plans = [], []
    for i in range(200):
        for action in RC.applicable(state, i):
            rows.append(i)
            plans.append((action,))
    assert {p[0].code for p in plans} == set(RC.ACTIONS)
    edited = RC.apply_plans(valid, as_of, np.array(rows), plans)
    _validate_copies(edited, as_of)
    edited = edited.to_pylist()
    before = valid.to_pylist()
    fixed = [f.name for f in C.PROFILE_FIELDS if f.name not in (C.KYC_DATE, C.MIGRATED_DATE)]
    month = as_of.replace(day=1)
    for i, (plan,), after in zip(rows, plans, edited, strict=True):
        old = before[i]
        assert {k: after[k] for k in fixed} == {k: old[k] for k in fixed}
        # past statements are never edited; the one cut today keeps its limit and dates
        keep = [s for s in old[C.STATEMENTS] if s[C.STATEMENT_MONTH] != month]
        assert [s for s in after[C.STATEMENTS] if s[C.STATEMENT_MONTH] != month] == keep
        for s_old, s_new in zip(old[C.STATEMENTS], after[C.STATEMENTS], strict=True):
            for name in (C.CREDIT_LIMIT, C.DUE_DATE, C.AMOUNT_PAID, C.DATE_PAID):
                assert s_old[name] == s_new[name]
        # transactions are only added, dated the as-of date
        n = len(old[C.TRANSACTIONS])
        assert after[C.TRANSACTIONS][:n] == old[C.TRANSACTIONS]
        assert all(t[C.TS].date() == as_of for t in after[C.TRANSACTIONS][n:])
        if plan.code == RC.RENEW_KYC:
            assert after[C.KYC_DATE] == as_of
        if plan.code == RC.MIGRATE:
            assert old[C.PRODUCT_VERSION] == "legacy" and after[C.MIGRATED_DATE] == as_of


def test_predictor_recourse_equals_the_batch(predictor, model, thousand):
    _, p0, bands, found = thousand
    records = model.histories.slice(0, 40).to_pylist()
    for i, record in enumerate(records):
        one = predictor.recourse(record, model.as_of)
        assert one["account_id"] == record[C.ACCOUNT_ID] and one["as_of"] == model.as_of
        assert one["probability"] == p0[i] and one["band"] == bands[i]
        assert one["status"] == found[i]["status"] and one["actions"] == found[i]["actions"]
        assert one["new_probability"] == found[i]["probability"]
        assert one["new_band"] == found[i]["band"]


def test_predictor_recourse_refuses_bad_records(predictor):
    with pytest.raises(TypeError, match="recourse"):
        predictor.recourse([account()], AS_OF)
    with pytest.raises(ContractError):
        predictor.recourse(account(open_date=dt.date(2024, 1, 1)), AS_OF)


# --- the edits, on hand-made records ------------------------------------------------------


def _late(**overrides):
    """An account cut at AS_OF: statements Feb-Apr 2023, April's 45 days past due."""
    months = [dt.date(2023, m, 1) for m in (2, 3, 4)]
    statements = [
        statement(months[0], days_past_due=0),
        statement(months[1], amount_paid=20.0, minimum_due=120.0, days_past_due=15),
        statement(
            months[2],
            billed_amount=4000.0,
            minimum_due=400.0,
            amount_paid=None,
            date_paid=None,
            days_past_due=45,
        ),
    ]
    record = account(**{"statements": statements, **overrides})
    return validate_histories(from_records(record), as_of=AS_OF)


def _edit(valid, *actions):
    return RC.apply_plans(valid, AS_OF, np.array([0]), [tuple(actions)]).to_pylist()[0]


def test_paying_the_overdue_cures_the_statement_cut_today():
    valid = _late()
    state = RC.read_state(valid, AS_OF)
    # March's minimum, due on April 20, was paid short by 100; April's is not due yet
    assert state.overdue[0] == pytest.approx(100.0)
    after = _edit(valid, RC.Action(RC.PAY_OVERDUE))
    april = after[C.STATEMENTS][-1]
    assert april[C.DAYS_PAST_DUE] == 0 and april[C.BILLED_AMOUNT] == pytest.approx(3900.0)
    assert after[C.STATEMENTS][1][C.DAYS_PAST_DUE] == 15  # the past stays as it was
    payment = after[C.TRANSACTIONS][-1]
    assert payment[C.KIND] == C.KIND_REPAYMENT and payment[C.AMOUNT] == pytest.approx(100.0)
    assert payment[C.TS] == dt.datetime(2023, 4, 30, 12, 0)


def test_bringing_utilisation_down_pays_the_difference_and_clears_the_overdue():
    valid = _late()
    after = _edit(valid, RC.Action(RC.REDUCE_UTILISATION, 0.3))
    april = after[C.STATEMENTS][-1]
    assert april[C.BILLED_AMOUNT] == pytest.approx(1500.0) and april[C.DAYS_PAST_DUE] == 0
    assert after[C.TRANSACTIONS][-1][C.AMOUNT] == pytest.approx(2500.0)
    (text,) = [a["text"] for a in RC.describe(RC.read_state(valid, AS_OF), 0, (RC.Action(
        RC.REDUCE_UTILISATION, 0.3),))]  # fmt: skip
    assert text == (
        "Pay CNY 2,500.00 off your balance to bring it down to 30% of your CNY 5,000 "
        "credit limit. This also clears the CNY 100.00 that is overdue."
    )


def test_a_payment_short_of_the_overdue_leaves_the_statement_past_due():
    after = _edit(_late(), RC.Action(RC.REDUCE_UTILISATION, 0.79))  # pays 50 of the 100
    assert after[C.STATEMENTS][-1][C.DAYS_PAST_DUE] == 45
    assert after[C.STATEMENTS][-1][C.BILLED_AMOUNT] == pytest.approx(3950.0)


def test_levels_already_met_and_missing_statements_offer_no_payment():
    options = RC.applicable(RC.read_state(_late(), AS_OF), 0)  # billed 4,000 of a 5,000 limit
    levels = [a.level for a in options if a.code == RC.REDUCE_UTILISATION]
    assert levels == [0.5, 0.3, 0.1, 0.0]  # 80% is met already
    assert [a.code for a in options] == [RC.PAY_OVERDUE] + [RC.REDUCE_UTILISATION] * 4 + [
        RC.USE_LINE,
        RC.RENEW_KYC,
    ]
    valid = _late(statements=None)  # no statements: nothing to pay against
    codes = [a.code for a in RC.applicable(RC.read_state(valid, AS_OF), 0)]
    assert codes == [RC.USE_LINE, RC.RENEW_KYC]


def test_pay_overdue_and_utilisation_together_pay_once_each():
    valid = _late()
    plan = (RC.Action(RC.PAY_OVERDUE), RC.Action(RC.REDUCE_UTILISATION, 0.5))
    after = _edit(valid, *plan)
    assert after[C.STATEMENTS][-1][C.BILLED_AMOUNT] == pytest.approx(2500.0)
    assert after[C.TRANSACTIONS][-1][C.AMOUNT] == pytest.approx(1500.0)  # one repayment
    texts = [a["text"] for a in RC.describe(RC.read_state(valid, AS_OF), 0, plan)]
    assert texts[0] == "Pay the overdue amount of CNY 100.00 now."
    assert texts[1].startswith("Pay a further CNY 1,400.00 off your balance")


def test_using_the_line_adds_a_plain_purchase_to_the_statement_cut_today():
    valid = _late(
        transactions=[transaction(dt.datetime(2023, 2, 3, 12, 30), amount=300.0)]
        + [transaction(dt.datetime(2023, 3, d, 9, 0), amount=120.0) for d in (1, 2)]
    )
    state = RC.read_state(valid, AS_OF)
    assert state.buy[0] == pytest.approx(120.6)  # the usual amount, not a whole one
    after = _edit(valid, RC.Action(RC.USE_LINE))
    bought = after[C.TRANSACTIONS][-1]
    assert bought[C.KIND] == C.KIND_PURCHASE and bought[C.AMOUNT] == pytest.approx(120.6)
    assert after[C.STATEMENTS][-1][C.BILLED_AMOUNT] == pytest.approx(4120.6)
    assert after[C.TRANSACTIONS][-1][C.MERCHANT_ID] is None
    # already used this month: nothing to suggest
    valid = _late(transactions=[transaction(dt.datetime(2023, 4, 3, 12, 30))])
    assert RC.USE_LINE not in {a.code for a in RC.applicable(RC.read_state(valid, AS_OF), 0)}


def test_a_purchase_is_small_beside_the_limit():
    valid = _late(transactions=[transaction(dt.datetime(2023, 2, 3, 12, 30), amount=4000.0)])
    assert RC.read_state(valid, AS_OF).buy[0] == pytest.approx(250.6)  # 5% of 5,000


def test_identity_check_and_migration_are_dated_today():
    valid = _late(product_version="legacy", kyc_date=dt.date(2020, 1, 5))
    codes = {a.code for a in RC.applicable(RC.read_state(valid, AS_OF), 0)}
    assert {RC.RENEW_KYC, RC.MIGRATE} <= codes
    after = _edit(valid, RC.Action(RC.RENEW_KYC), RC.Action(RC.MIGRATE))
    assert after[C.KYC_DATE] == AS_OF and after[C.MIGRATED_DATE] == AS_OF
    assert after[C.PRODUCT_VERSION] == "legacy"  # the version it was opened on
    (text,) = [a["text"] for a in RC.describe(RC.read_state(valid, AS_OF), 0, (RC.Action(
        RC.RENEW_KYC),))]  # fmt: skip
    assert text == "Renew your identity check: it was last done 40 months ago."  # 39.8
    kyc = next(f for f in FEATURES if f.name == "months_since_kyc")
    assert kyc.explain(39.8) == "Your identity was last checked 40 months ago."  # the same


def test_nothing_to_renew_or_migrate_for_fresh_current_accounts():
    valid = _late(kyc_date=dt.date(2023, 4, 20))
    codes = {a.code for a in RC.applicable(RC.read_state(valid, AS_OF), 0)}
    assert RC.RENEW_KYC not in codes and RC.MIGRATE not in codes
    migrated = _late(product_version="legacy", migrated_date=dt.date(2023, 3, 1))
    assert RC.MIGRATE not in {a.code for a in RC.applicable(RC.read_state(migrated, AS_OF), 0)}


def test_payments_need_the_statement_cut_at_the_as_of_date():
    valid = _late()
    mid_month = dt.date(2023, 4, 15)
    state = RC.read_state(valid.slice(0, 1), mid_month)
    codes = {a.code for a in RC.applicable(state, 0)}
    assert RC.PAY_OVERDUE not in codes and RC.REDUCE_UTILISATION not in codes


def test_no_account_no_recourse(predictor, model, thousand):
    valid = thousand[0].slice(0, 0)
    out = RC.find_recourse(predictor, valid, model.as_of, probability=np.zeros(0))
    assert out.type == RC.RECOURSE_TYPE and len(out) == 0
    assert RC.apply_plans(valid, model.as_of, np.zeros(0, np.int64), []).num_rows == 0
