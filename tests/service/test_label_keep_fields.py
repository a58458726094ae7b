"""`slant label --keep-fields`: input metadata (outlet, date, ...) copied into every output row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_label import corpus, read_output, run, write_input
from typer.testing import CliRunner

from model.errors import InvalidInputError
from service.cli import app


def with_metadata(n: int = 6) -> list[dict]:
    rows = corpus(n)
    for i, r in enumerate(rows):
        r["source"] = ["Outlet A", "Outlet B"][i % 2]
        r["date"] = f"2016-0{1 + i % 3}-1{i % 10}"
        r["words"] = 100 + i
    return rows


def test_kept_fields_follow_row_in_jsonl_and_parquet(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.jsonl", with_metadata())
    for name in ("out.jsonl", "out.parquet"):
        out = tmp_path / name
        summary = run(tiny_model_dir, src, out, id_field="doc", keep_fields=["source", "date", "words"])
        assert summary["labelled"] == 6
        rows = read_output(out)
        assert list(rows[0])[:5] == ["id", "row", "source", "date", "words"]
        assert [(r["source"], r["date"], r["words"]) for r in rows] == [
            (m["source"], m["date"], m["words"]) for m in with_metadata()
        ]
    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "out.parquet")
    assert [str(schema.field(n).type) for n in ("source", "date", "words")] == ["string", "string", "int64"]


def test_without_keep_fields_the_columns_are_unchanged(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.jsonl", with_metadata(2))
    out = tmp_path / "out.jsonl"
    run(tiny_model_dir, src, out)
    assert list(read_output(out)[0]) == ["id", "row", "actors", "model", "version"]


def test_parquet_dates_become_iso_strings_and_mixed_types_text(tiny_model_dir, tmp_path):
    rows = with_metadata(4)
    for i, r in enumerate(rows):
        r["date"] = dt.date(2016, 1, 1 + i)
    src = write_input(tmp_path / "in.parquet", rows)
    out = tmp_path / "out.jsonl"
    run(tiny_model_dir, src, out, keep_fields=["date"])
    assert [r["date"] for r in read_output(out)] == ["2016-01-01", "2016-01-02", "2016-01-03", "2016-01-04"]

    mixed = with_metadata(4)
    mixed[1]["words"] = "many"  # a number on some rows, text on another: a string column
    src = write_input(tmp_path / "mixed.jsonl", mixed)
    out = tmp_path / "mixed.parquet"
    run(tiny_model_dir, src, out, keep_fields=["words"], chunk_size=2)
    assert [r["words"] for r in read_output(out)] == ["100", "many", "102", "103"]


def test_bad_keep_fields_stop_the_run(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.jsonl", with_metadata(3))
    out = tmp_path / "out.jsonl"
    with pytest.raises(InvalidInputError, match="a column that slant label writes itself") as err:
        run(tiny_model_dir, src, out, keep_fields=["actors"])
    assert err.value.field == "--keep-fields"
    with pytest.raises(InvalidInputError, match="no column 'outlet'"):
        run(tiny_model_dir, src, out, keep_fields=["outlet"])
    assert not out.exists()
    csv_src = write_input(tmp_path / "in.csv", with_metadata(3))
    with pytest.raises(InvalidInputError, match="no column 'outlet'"):
        run(tiny_model_dir, csv_src, tmp_path / "csv.jsonl", keep_fields=["source", "outlet"])


def test_cli_keep_fields_comma_separated_or_repeated(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.csv", with_metadata(3))
    base = ["label", str(src), "-m", str(tiny_model_dir), "-a", "DNC", "--id-field", "doc"]
    for k, options in enumerate(
        (["--keep-fields", "source,date"], ["--keep-fields", "source", "--keep-fields", "date"])
    ):
        out = tmp_path / f"out{k}.jsonl"
        result = CliRunner().invoke(app, [*base, "-o", str(out), *options])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in Path(out).read_text(encoding="utf-8").splitlines()]
        assert [(r["source"], r["date"]) for r in rows] == [
            (m["source"], m["date"]) for m in with_metadata(3)
        ]
    result = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "x.jsonl"), "--keep-fields", "id"])
    assert result.exit_code == 2 and "--id-field" in result.output and "Traceback" not in result.output
