"""`slant label --date-field`: each row's publication date decides who time-bound titles mean."""

from __future__ import annotations

import json

import pytest
from test_label import read_errors, read_output, write_input
from typer.testing import CliRunner

from service.batch.rows import RowOptions
from service.cli import app

SPEAKER = "The Speaker said the budget would pass the House before the recess."


def test_date_field_fixes_titles_and_a_bad_date_goes_to_the_errors_file(tiny_model_dir, tmp_path):
    rows = [
        {"doc": "a", "text": SPEAKER, "published": "2016-07-25"},
        {"doc": "b", "text": SPEAKER, "published": "not a date"},
        {"doc": "c", "text": SPEAKER, "published": "2021-03-01T09:00:00"},
        {"doc": "d", "text": SPEAKER, "published": ""},
        {"doc": "e", "text": SPEAKER, "published": 2015},
    ]
    src = write_input(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["label", str(src), "-o", str(out), "-m", str(tiny_model_dir), "-a", "Paul Ryan"]
    result = CliRunner().invoke(app, [*args, "--id-field", "doc", "--date-field", "published"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["labelled"] == 4 and summary["errors"] == 1
    by_id = {r["id"]: r["actors"][0] for r in read_output(out)}
    assert sorted(by_id) == ["a", "c", "d", "e"]
    assert by_id["a"]["mentions_via"]["title"] == 1 and by_id["e"]["mentions_via"]["title"] == 1
    assert by_id["c"]["status"] == "not_mentioned" and by_id["d"]["status"] == "not_mentioned"
    (error,) = read_errors(out)
    assert (error["row"], error["id"], error["field"], error["code"]) == (
        1,
        "b",
        "published",
        "invalid_input",
    )
    assert "'not a date' is not a date" in error["reason"]


def test_date_field_is_in_the_resume_manifest():
    assert RowOptions(date_field="published").to_json()["date_field"] == "published"
    assert "date_field" not in RowOptions().to_json()  # runs started before --date-field still resume
    assert RowOptions(date_field="published").columns == ["text", "published"]


def test_a_parquet_year_column_with_empty_cells_reads_as_years(tiny_model_dir, tmp_path):
    """pandas stores an integer column with empty cells as floats: 2016.0 is a year, NaN no date."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"doc": ["a", "b", "c"], "text": [SPEAKER] * 3, "year": [2016, None, 2021]})
    assert str(frame["year"].dtype) == "float64"
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    out = tmp_path / "out.jsonl"
    args = ["label", str(src), "-o", str(out), "-m", str(tiny_model_dir), "-a", "Paul Ryan"]
    result = CliRunner().invoke(app, [*args, "--id-field", "doc", "--date-field", "year"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["errors"] == 0
    by_id = {r["id"]: r["actors"][0] for r in read_output(out)}
    assert by_id["a"]["mentions_via"]["title"] == 1
    assert by_id["b"]["status"] == "not_mentioned" and by_id["c"]["status"] == "not_mentioned"


def test_an_empty_cell_is_missing_text_blank_text_or_nan_for_dates_and_actors_alike():
    from service.batch.rows import _empty_cell

    assert all(_empty_cell(v) for v in (None, "", "  ", float("nan")))
    assert not any(_empty_cell(v) for v in ("2016", 2016, 2016.0, 0, []))
