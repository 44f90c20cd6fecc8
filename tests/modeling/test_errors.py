import pytest

from risk_model.modeling.errors import ArtefactError, ModelLoadError, fail, shown


def test_shown_quotes_short_values_as_repr():
    assert shown("abc") == "'abc'"
    assert shown(12.5) == "12.5"
    assert shown(None) == "None"


def test_shown_escapes_control_characters_and_cuts_long_values():
    forged = "ok\nERROR model accepted\x1b[31m"
    out = shown(forged)
    assert "\n" not in out and "\x1b" not in out
    assert all(c.isprintable() and c.isascii() for c in shown("é\u2028" + forged))
    long = shown("x" * 10_000)
    assert len(long) == 60 and long.endswith("...")
    assert not shown("x" * 40).endswith("...")


def test_shown_survives_a_failing_repr():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    assert shown(Hostile()) == "<Hostile>"


def test_fail_names_file_field_and_problem():
    with pytest.raises(ModelLoadError) as caught:
        fail("spec.json", "scale.base_odds", f"must be positive, got {shown(-1)}")
    assert str(caught.value) == "spec.json: scale.base_odds: must be positive, got -1"
    # Callers catch the broader kinds too.
    assert isinstance(caught.value, ArtefactError) and isinstance(caught.value, ValueError)
    assert not issubclass(ArtefactError, ModelLoadError)
