"""An article's date (``dates=``): its year decides who time-bound titles ("the Speaker") mean."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from model import InvalidInputError
from model.linking import parse_year

SPEAKER = "The Speaker said the budget would pass the House before the recess."


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("2016-07-25", 2016),
        ("2016-07-25T14:30:00", 2016),
        ("2016-07-25T14:30:00+02:00", 2016),
        ("2016-07-25 14:30", 2016),
        ("2016", 2016),
        ("2016-02-31", 2016),  # only the year is used; month and day are checked for range only
        (2016, 2016),
        (2016.0, 2016),  # an integer column with empty cells, as Parquet and pandas give it
        (np.int64(2016), 2016),
        (np.float64(2016.0), 2016),
        (dt.date(2016, 7, 25), 2016),
        (dt.datetime(2019, 1, 3, 12, 0), 2019),
        (None, None),
    ],
)
def test_parse_year_reads_dates_and_years(value, year):
    assert parse_year(value) == year


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "'yesterday' is not a date"),
        ("2016-13-40", "'2016-13-40' is not a date"),
        (" 2016 ", "' 2016 ' is not a date"),
        ("2016\n", "'2016\\n' is not a date"),
        ("2016-07-25T25:00", "'2016-07-25T25:00' is not a date"),
        ("", "'' is not a date"),
        ("July 2016", "'July 2016' is not a date"),
        (1800, "1800 is outside the years 1900..2100"),
        ("2101-01-01", "'2101-01-01' is outside the years 1900..2100"),
        (True, "True is not a date"),
        (2016.5, "2016.5 is not a date"),
        (float("nan"), "nan is not a date"),
        (float("inf"), "inf is not a date"),
        (1800.0, "1800.0 is outside the years 1900..2100"),
    ],
)
def test_parse_year_refuses_anything_else_and_says_what_it_takes(value, message):
    with pytest.raises(InvalidInputError) as info:
        parse_year(value, field="dates[3]")
    text = str(info.value)
    assert text.startswith("dates[3]: ") and message in text
    assert "ISO date (2016-07-25)" in text and "a year (2016)" in text


def test_a_date_inside_the_years_of_a_title_finds_the_title(tiny_predictor):
    """Paul Ryan is "the Speaker" from 2015 to 2018: the text names no year, the date decides."""
    inside, outside, undated = tiny_predictor.predict(
        [SPEAKER] * 3, ["Paul Ryan"], dates=["2016-07-25", 2020, None]
    )
    ryan = inside[0]
    assert ryan.status == "scored" and ryan.mentions_via == {"name": 0, "title": 1, "pronoun": 0}
    assert [e.via for e in ryan.evidence] == ["title"]
    for found in (outside[0], undated[0]):
        assert found.status == "not_mentioned" and found.mentions == 0 and found.evidence == []


def test_analyze_takes_dates_and_a_date_beats_the_year_in_the_text(tiny_predictor):
    text = "In 2021 the committee met again. " + SPEAKER
    dated, by_text = tiny_predictor.analyze([text, text], ["Paul Ryan"], dates=[dt.date(2017, 1, 1), None])
    assert dated.stance[0].mentions_via["title"] == 1
    assert by_text.stance[0].status == "not_mentioned"  # 2021, the year the text names


def test_discovery_uses_the_date(tiny_predictor):
    text = "Paul Ryan met reporters on Monday. The Speaker said the budget would pass."
    dated, later = tiny_predictor.predict([text, text], dates=["2016", "2024"])
    ryan = {r.actor: r for r in dated}["Paul Ryan"]
    assert ryan.mentions_via["title"] == 1
    assert {r.actor: r for r in later}["Paul Ryan"].mentions_via["title"] == 0


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (["2016"], "dates has 1 entries for 2 texts"),
        ("2016-07-25", "dates is a single string for 2 texts"),
        (["2016", "yesterday"], "dates[1]: 'yesterday' is not a date"),
    ],
)
def test_bad_dates_are_refused_before_the_model_runs(tiny_predictor, dates, message):
    with pytest.raises(InvalidInputError) as info:
        tiny_predictor.predict([SPEAKER, SPEAKER], ["Paul Ryan"], dates=dates)
    assert message in str(info.value)


SAMPLES = [
    "2016",
    "1900",
    "2100",
    "1899",
    "2101",
    "0000",
    "2016-07-25",
    "2016-00-10",
    "2016-12-32",
    "2016-02-31",
    "2016-07-25T14:30",
    "2016-07-25 14:30:00.5",
    "2016-07-25T24:00",
    "2016-07-25T14:30Z",
    "2016-07-25T14:30:00+0200",
    "2016-07-25T14:30:00+02:00",
    "2016-07-25T14:30:00+24:00",
    "2016-7-25",
    "20160725",
    "2016\n",
    " 2016",
    "2016-07-25T",
    "２０１６",
]


@pytest.mark.parametrize("value", SAMPLES)
def test_the_schema_pattern_and_parse_year_accept_the_same_strings(value):
    # The HTTP schema publishes DATE_PATTERN: a client that follows it must never be refused, and a
    # string it rules out must be refused (the fuzz tests generate requests from the schema).
    import re

    from model.errors import InvalidInputError
    from model.linking import DATE_PATTERN

    try:
        parse_year(value)
        accepted = True
    except InvalidInputError:
        accepted = False
    assert accepted == bool(re.fullmatch(DATE_PATTERN, value)), value


def test_strings_drawn_from_the_schema_pattern_all_parse():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from model.linking import DATE_PATTERN

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(st.from_regex(DATE_PATTERN, fullmatch=True))
    def check(value):
        assert 1900 <= parse_year(value) <= 2100

    check()
