import pytest

from risk_model.modeling.templates import MAX_TEMPLATE_CHARS, TemplateError, check_template, render


def test_numbers_fill_their_placeholders_with_their_format():
    assert render("{value:.0f} late payment{s} in 6 months", {"value": 1.0}) == (
        "1 late payment in 6 months"
    )
    assert render("{value:.0f} late payment{s}", {"value": 3.0}) == "3 late payments"
    assert render("{value:.1%} of the limit", {"value": 0.934}) == "93.4% of the limit"
    assert render("adds {contribution:+.2f}", {"contribution": 0.5}) == "adds +0.50"
    assert render("", {}) == "" and render("no numbers", {}) == "no numbers"
    check_template("{value:,.0f} CNY")


@pytest.mark.parametrize(
    "template",
    [
        "{value.__class__}",  # attribute access
        "{value[0]}",  # indexing
        "{account_id}",  # a name outside the allowed ones
        "{value!r}",  # a conversion
        "{value:>{contribution}}",  # nested spec
        "{value:x<99999999}",  # spec outside the grammar (padding to a huge width)
        "{value",  # malformed
        "x" * (MAX_TEMPLATE_CHARS + 1),  # too long
    ],
)
def test_unsafe_templates_are_refused(template):
    with pytest.raises(TemplateError):
        check_template(template)
    with pytest.raises(TemplateError):
        render(template, {"value": 1.0, "contribution": 1.0})


def test_a_missing_value_or_a_non_string_template_is_refused():
    with pytest.raises(TemplateError, match=r"no value for placeholder \{contribution\}"):
        render("{contribution:.2f}", {"value": 1.0})
    with pytest.raises(TemplateError, match="must be a string"):
        check_template(["{value}"])
