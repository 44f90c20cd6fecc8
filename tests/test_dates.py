import datetime as dt

from risk_model.dates import add_months, month_end, month_start


def test_month_end():
    assert month_end(dt.date(2024, 2, 10)) == dt.date(2024, 2, 29)
    assert month_end(dt.date(2023, 12, 1)) == dt.date(2023, 12, 31)
    assert month_end(dt.date(2023, 4, 30)) != dt.date(2023, 4, 29)


def test_add_months_lands_on_month_ends_across_years():
    assert add_months(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 31), -1) == dt.date(2023, 12, 31)
    assert add_months(dt.date(2024, 1, 31), 0) == dt.date(2024, 1, 31)
    assert add_months(dt.date(2024, 1, 31), 1) != dt.date(2024, 3, 2)


def test_month_start():
    assert month_start(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 1)
    assert month_start(dt.date(2024, 3, 31)) == dt.date(2024, 3, 1)
    assert month_start(dt.date(2024, 1, 31), -1) != dt.date(2023, 12, 31)
