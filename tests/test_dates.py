import datetime as dt

import pytest

from risk_model.dates import add_months, as_date, month_end, month_start


def test_month_end():
    assert month_end(dt.date(2024, 2, 10)) == dt.date(2024, 2, 29)
    assert month_end(dt.date(2023, 12, 1)) == dt.date(2023, 12, 31)
    assert month_end(dt.date(2023, 4, 30)) == dt.date(2023, 4, 30)  # already a month end


def test_add_months_lands_on_month_ends_across_years():
    assert add_months(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 31), -1) == dt.date(2023, 12, 31)
    assert add_months(dt.date(2024, 1, 31), 0) == dt.date(2024, 1, 31)
    # Clamped to February's last day, not rolled over into March.
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)


def test_month_start():
    assert month_start(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 1)
    assert month_start(dt.date(2024, 3, 31)) == dt.date(2024, 3, 1)
    assert month_start(dt.date(2024, 1, 31), -1) == dt.date(2023, 12, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2025, 12, 31), dt.date(2025, 12, 31)),
        (dt.datetime(2025, 12, 31, 23, 59), dt.date(2025, 12, 31)),
        ("2025-12-31", dt.date(2025, 12, 31)),
    ],
)
def test_as_date_reads_dates_datetimes_and_iso_strings(value, expected):
    assert as_date(value) == expected


@pytest.mark.parametrize("value", ["2025-12", "2", "20251231", "2025-13-01", "31/12/2025", ""])
def test_as_date_refuses_strings_that_are_not_iso_days(value):
    with pytest.raises(ValueError, match="ISO date"):
        as_date(value)


@pytest.mark.parametrize("value", [20251231, 2025.12, ["2025-12-31"], None])
def test_as_date_refuses_other_types(value):
    with pytest.raises(TypeError, match="as_of must be a date"):
        as_date(value)
