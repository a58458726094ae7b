"""`slant labels import` / `export`: the wiring over training.store (CliRunner)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from training.store import LabelStore

ROWS = [
    {"text": "Go Bernie!", "target": "Bernie", "label": "favor"},
    {"text": "The DNC rigged it.", "target": "DNC", "label": "AGAINST", "annotator": "zed"},
    {"text": "Clinton spoke in Ohio.", "target": "Hillary Clinton", "label": "none"},
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/labels.db"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_reports_bad_rows_by_line_and_stores_the_rest(tmp_path, db):
    path = tmp_path / "new.jsonl"
    lines = [
        json.dumps(ROWS[0]),
        '{"text": "x", "target": "DNC", "label": "maybe"}',
        "{oops",
        json.dumps(ROWS[1]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run("labels", "import", str(path), "--database", db, "--annotator", "al")
    assert code == 1
    assert f"{path}:2: bad row, not stored: label: unknown stance label 'maybe'" in err
    assert f"{path}:3: bad row, not stored: not valid JSON" in err
    assert "4 rows, 2 bad (not stored), 2 stored, 0 duplicates, 0 conflicts (batch " in out
    with LabelStore.open(db) as store:
        assert sorted((x.actor, x.annotator) for x in store.labels().items) == [
            ("Bernie Sanders", "al"),
            ("Democratic National Committee", "zed"),
        ]


def test_conflicts_are_reported_and_dry_run_stores_nothing(tmp_path, db):
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    assert run("labels", "import", str(path), "--database", db)[0] == 0
    changed = tmp_path / "b.jsonl"
    changed.write_text(json.dumps({**ROWS[0], "label": "against"}) + "\n", encoding="utf-8")
    code, out, err = run("labels", "import", str(changed), "--database", db, "--dry-run")
    assert code == 0 and "1 conflicts" in out and "[dry run: nothing stored]" in out
    assert f"{changed}:1: conflict: 'Bernie Sanders' was favor (label id 1), now against" in err
    with LabelStore.open(db) as store:
        assert store.counts()["labels"] == 3


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_reimport_is_all_duplicates(tmp_path, db, monkeypatch, fmt):
    src = tmp_path / "src.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "target", "label", "annotator"])
        writer.writeheader()
        writer.writerows(ROWS)
    assert run("labels", "import", str(src), "--database", db)[0] == 0
    out_file = tmp_path / f"export.{fmt}"
    code, _, err = run("labels", "export", "--output", str(out_file), "--database", db)
    assert code == 0 and f"exported 3 labels to {out_file}" in err
    code, out, _ = run("labels", "import", str(out_file), "--database", db)
    assert code == 0 and "3 rows, 0 bad (not stored), 0 stored, 3 duplicates, 0 conflicts" in out
    # The database may come from the environment instead; the export goes to stdout by default.
    monkeypatch.setenv("SLANT_DATABASE_URL", db)
    code, out, _ = run("labels", "export", "--format", fmt)
    assert code == 0 and out == out_file.read_text(encoding="utf-8")
    if fmt == "csv":
        assert out.splitlines()[0] == "text,target,label,task,annotator,source,created_at,source_ref"
    else:
        first = json.loads(out.splitlines()[0])
        assert (first["target"], first["label"], first["source"]) == ("Bernie Sanders", "favor", "import")


def test_export_is_a_training_dataset(tmp_path, db):
    from training.config import DatasetSpec
    from training.data import load_rows

    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    run("labels", "import", str(src), "--database", db)
    run("labels", "export", "-o", str(tmp_path / "labels.jsonl"), "--database", db)
    rows = load_rows(DatasetSpec(name="labels", path="labels.jsonl"), root=str(tmp_path))
    with LabelStore.open(db) as store:
        assert rows == store.training_rows()
    assert [r["label"] for r in rows] == ["favor", "against", "neutral"]


def test_errors_are_one_line_with_exit_2(tmp_path, db):
    code, _, err = run("labels", "import", str(tmp_path / "missing.jsonl"), "--database", db)
    assert code == 2 and err.startswith("error: cannot read label file") and "Fix: check the path" in err
    code, _, err = run("labels", "export", "--database", "mysql://u@h/db")
    assert code == 2 and "error: database 'mysql' is not supported" in err
    code, _, err = run("labels", "export", "--format", "xml", "--database", db)
    assert code == 2 and "unknown file format 'xml'" in err
    code, out, _ = run("labels", "--help")
    assert code == 0 and "import" in out and "export" in out


def test_bias_label_files_import_as_their_tasks(tmp_path, db):
    path = tmp_path / "bias.jsonl"
    rows = [
        {"text": "An article about the budget.", "leaning": "center"},
        {"text": "An outrageous rant.", "hyperpartisan": True},
        {"text": "A loaded sentence.", "task": "loaded_language", "label": "biased"},
        {"text": "Another article.", "leaning": "sideways"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = run("labels", "import", str(path), "--database", db)
    assert code == 1 and "4 rows, 1 bad (not stored), 3 stored" in out
    assert f"{path}:4: bad row, not stored: label: unknown leaning label 'sideways'" in err
    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps({**rows[0], "leaning": "right"}) + "\n", encoding="utf-8")
    code, _, err = run("labels", "import", str(changed), "--database", db)
    assert code == 0 and f"{changed}:1: conflict: leaning was center (label id 1), now right" in err
    code, out, _ = run("labels", "export", "--task", "leaning", "--database", db)
    assert code == 0
    assert [(r["task"], r["target"], r["label"]) for r in map(json.loads, out.splitlines())] == [
        ("leaning", None, "right")
    ]
    code, _, err = run("labels", "export", "--task", "tone", "--database", db)
    assert code == 2 and "unknown label task 'tone'" in err
