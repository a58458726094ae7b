"""The label store on SQLite and on a real PostgreSQL server (tests/_postgres.py starts one)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _postgres import postgres_server_fixture, postgres_url_fixture  # noqa: F401  (fixtures)
from sqlalchemy import create_engine, inspect, text

from model.errors import ConfigError, InvalidInputError
from training.store import LabelStore, StoreUnavailableError, database_url, new_label
from training.store.files import export_labels, import_file
from training.store.store import LabelIn, text_sha256

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/labels.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str):
    with LabelStore.open(store_url) as s:
        yield s


def lab(text: str, actor: str, label: str, **kw) -> LabelIn:
    return new_label(text=text, actor=actor, label=label, **kw)


def test_migrations_from_empty_match_the_schema(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from training.store.schema import Base

    for _ in range(2):  # the second open finds the schema at head and changes nothing
        LabelStore.open(store_url).close()
    engine = create_engine(database_url(store_url))
    with engine.connect() as conn:
        tables = {"texts", "labels", "model_versions", "slant_alembic_version"}
        assert set(inspect(conn).get_table_names()) == tables
        assert conn.execute(text("SELECT version_num FROM slant_alembic_version")).scalar() == "0003"
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": "slant_alembic_version"}
        )
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


def test_sqlite_is_wal_with_foreign_keys(tmp_path):
    with LabelStore.open(str(tmp_path / "sub" / "labels.db")) as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert s.backend == "sqlite" and s.url == f"sqlite:///{tmp_path}/sub/labels.db"


def test_stored_duplicate_conflict(store):
    r = store.add([lab("Go Bernie!", "Bernie", "positive", annotator="al")])
    assert r.committed and [o.status for o in r.outcomes] == ["stored"]
    first = r.outcomes[0]
    assert (first.actor, first.label) == ("Bernie Sanders", "favor")

    # Same text (modulo whitespace), same canonical actor, same label: a duplicate, not stored again.
    r = store.add([lab("  Go   Bernie! ", "Bernie Sanders", "favor", annotator="bo")])
    assert [o.status for o in r.outcomes] == ["duplicate"] and r.outcomes[0].label_id == first.label_id
    # A different label: a conflict, stored, and it supersedes the first.
    r = store.add([lab("Go Bernie!", "Bernie Sanders", "against", annotator="cy")])
    c = r.outcomes[0]
    assert (c.status, c.previous_label, c.previous_label_id) == ("conflict", "favor", first.label_id)
    assert c.label_id > first.label_id
    # Back to favor: compared with the *current* label (against), so a conflict again.
    r = store.add([lab("Go Bernie!", "Bernie Sanders", "favor")])
    assert (r.outcomes[0].status, r.outcomes[0].previous_label) == ("conflict", "against")
    assert store.counts() == {"texts": 1, "labels": 3, "current": 1}
    page = store.labels()
    assert [(x.label, x.current) for x in page.items] == [
        ("favor", True),
        ("against", False),
        ("favor", False),
    ]


def test_duplicates_and_conflicts_inside_one_batch(store):
    r = store.add(
        [
            lab("The DNC met.", "DNC", "neutral"),
            lab("The DNC met.", "Democratic National Committee", "neutral"),
            lab("The DNC met.", "DNC", "against"),
            lab("The DNC met.", "Bernie Sanders", "neutral"),
        ]
    )
    assert [o.status for o in r.outcomes] == ["stored", "duplicate", "conflict", "stored"]
    assert r.outcomes[1].label_id == r.outcomes[0].label_id
    assert r.outcomes[2].previous_label_id == r.outcomes[0].label_id
    assert (r.stored, r.duplicates, r.conflicts) == (2, 1, 1)
    assert {o.text_id for o in r.outcomes} == {r.outcomes[0].text_id}
    rows = store.training_rows()
    assert sorted((x["target"], x["label"]) for x in rows) == [
        ("Bernie Sanders", "neutral"),
        ("Democratic National Committee", "against"),
    ]
    assert {x["dataset"] for x in rows} == {"labels"}


def test_text_identity_is_the_normalised_hash(store):
    a = "Cafe\u0301 owners\n  back   Sanders."
    b = "Café owners back Sanders. "
    assert text_sha256(a) == text_sha256(b)
    r = store.add(
        [
            lab(a, "Bernie Sanders", "favor"),
            lab(b, "Bernie Sanders", "favor", source_ref="https://x.example/1"),
        ]
    )
    assert [o.status for o in r.outcomes] == ["stored", "duplicate"]
    (t,) = store.recent_texts()
    assert t.text == a and t.source_ref == "https://x.example/1" and t.labels == 1


def test_label_fields_round_trip(store):
    pred = {"label": "against", "probabilities": {"against": 0.6, "none": 0.3, "pro": 0.1}}
    store.add(
        [
            lab(
                "Clinton spoke.",
                "Hillary",
                "neutral",
                annotator=" ann ",
                corrected_prediction=pred,
                model_version="tiny 0",
                source="import",
            )
        ],
        batch_id="b1",
    )
    (x,) = store.labels(batch_id="b1").items
    assert (x.actor, x.label, x.annotator, x.source, x.model_version) == (
        "Hillary Clinton",
        "neutral",
        "ann",
        "import",
        "tiny 0",
    )
    assert x.corrected_prediction == {
        "label": "against",
        "probabilities": {"against": 0.6, "neutral": 0.3, "favor": 0.1},
    }
    assert x.created_at.utcoffset() is not None and x.created_at.utcoffset().total_seconds() == 0
    assert abs(time.time() - x.created_at.timestamp()) < 60


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"label": "maybe"}, "label", "unknown stance label 'maybe'"),
        ({"text": "  "}, "text", "text is empty"),
        ({"actor": ""}, "actor", "actor name is empty"),
        ({"actor": 3}, "actor", "expected an actor name (a string), found int"),
        ({"source": "web"}, "source", "unknown label source 'web'"),
        ({"annotator": "x" * 201}, "annotator", "201 characters; the limit is 200"),
        (
            {"corrected_prediction": {"label": "favor", "probabilities": {"favor": 1.5}}},
            "corrected_prediction.probabilities.favor",
            "must be a number from 0 to 1",
        ),
        ({"corrected_prediction": {"lbl": "favor"}}, "corrected_prediction", "with a 'label'"),
    ],
)
def test_new_label_says_what_is_wrong(kwargs, field, message):
    args = {"text": "Go Bernie!", "actor": "Bernie", "label": "favor"} | kwargs
    with pytest.raises(InvalidInputError, match=re.escape(message)) as info:
        new_label(**args, field="items[2].")
    assert info.value.field == f"items[2].{field}"
    assert info.value.fix


def test_a_failing_batch_stores_nothing(store, monkeypatch):
    store.add([lab("Earlier text.", "DNC", "favor")])
    before = store.counts()
    # A database-level failure mid-batch: the third label breaks the CHECK constraint on insert,
    # after the batch's new texts were inserted.
    bad = LabelIn(text="New text two.", actor="DNC", label="sideways")
    with pytest.raises(Exception, match="(?i)check|constraint"):
        store.add([lab("New text one.", "DNC", "favor"), lab("Earlier text.", "DNC", "against"), bad])
    assert store.counts() == before
    # A crash in our own code between the text inserts and the label inserts.
    from training.store.store import LabelStore as Cls

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash mid-batch")

    monkeypatch.setattr(Cls, "_current", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        store.add([lab("New text three.", "DNC", "favor")])
    monkeypatch.undo()
    assert store.counts() == before
    assert [t.text for t in store.recent_texts()] == ["Earlier text."]


def test_dry_run_reports_and_stores_nothing(store):
    store.add([lab("Go Bernie!", "Bernie", "favor")])
    r = store.add([lab("Go Bernie!", "Bernie", "favor"), lab("New.", "DNC", "neutral")], dry_run=True)
    assert not r.committed and [o.status for o in r.outcomes] == ["duplicate", "stored"]
    assert store.counts()["labels"] == 1


_CHILD = """
import sys, time
from pathlib import Path
from training.store import LabelStore, new_label
from training.store.store import LabelStore as Cls
real = Cls._current
def stall(self, *args, **kwargs):
    out = real(self, *args, **kwargs)
    Path(sys.argv[2]).write_text("in the middle")
    time.sleep(120)
    return out
Cls._current = stall
store = LabelStore.open(sys.argv[1])
store.add([new_label(text=f"Crash text {i}.", actor="DNC", label="favor") for i in range(50)])
"""


def test_a_killed_writer_leaves_the_store_consistent(store, store_url, tmp_path):
    """A writer killed (SIGKILL) inside its transaction, texts already inserted: nothing of it remains."""
    store.add([lab("Before the crash.", "DNC", "favor")])
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, store_url, str(marker)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the writer exited before reaching the middle of its batch"
            assert time.monotonic() < deadline, "the writer never reached the middle of its batch"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert store.counts() == {"texts": 1, "labels": 1, "current": 1}
    # The lock the dead writer held is gone: writing works again at once.
    assert store.add([lab("After the crash.", "DNC", "favor")]).stored == 1
    if store.backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_concurrent_writers_never_double_a_label(store):
    barrier = threading.Barrier(4)
    reports = []

    def write():
        barrier.wait()
        reports.append(
            store.add([lab("Same text.", "DNC", "favor"), lab(f"t{threading.get_ident()}", "DNC", "favor")])
        )

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.outcomes[0].status for r in reports)
    assert statuses == ["duplicate", "duplicate", "duplicate", "stored"]
    assert store.counts() == {"texts": 5, "labels": 5, "current": 5}


def test_filters_paging_and_recent_texts(store):
    store.add(
        [lab(f"Text {i}.", "DNC" if i % 2 else "Bernie", "favor", annotator=f"a{i % 3}") for i in range(7)]
    )
    store.add([lab("Text 0.", "Bernie", "against")], batch_id="fix")
    store.add([lab("Imported.", "Trump", "neutral", source="import")])
    page = store.labels(actor="Bernie", limit=2)
    assert page.total == 5 and [x.text for x in page.items] == ["Text 0.", "Text 6."]
    assert store.labels(actor="bernie sanders", current_only=True).total == 4
    assert store.labels(source="import").items[0].actor == "Donald Trump"
    assert store.labels(label="against").total == 1 and store.labels(annotator="a1").total == 2
    oldest = store.labels(newest_first=False, limit=3, offset=1)
    assert [x.text for x in oldest.items] == ["Text 1.", "Text 2.", "Text 3."] and oldest.total == 9
    recent = store.recent_texts(limit=3)
    assert [t.text for t in recent] == ["Imported.", "Text 6.", "Text 5."]
    since = store.labels(batch_id="fix").items[0].created_at
    assert [t.text for t in store.recent_texts(since=since)] == ["Imported."]
    assert store.recent_texts(limit=20)[-1].labels == 2  # Text 0: favor, then against


def test_export_then_import_gives_only_duplicates(store, tmp_path):
    store.add([lab("Go Bernie!", "Bernie", "favor", annotator="al"), lab("The DNC met.", "DNC", "neutral")])
    store.add([lab("Go Bernie!", "Bernie", "against", annotator="bo", source_ref="https://x.example/a")])
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"export.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as fh:
            assert export_labels(store, fh, fmt=fmt) == 2  # current labels only
        result = import_file(store, path)
        assert result.bad == [] and result.report is not None
        assert [o.status for o in result.report.outcomes] == ["duplicate", "duplicate"]
    rows = [json.loads(line) for line in (tmp_path / "export.jsonl").read_text().splitlines()]
    assert rows[0]["target"] == "Democratic National Committee" and rows[1]["label"] == "against"
    assert rows[1]["annotator"] == "bo" and rows[1]["source"] == "correction"
    assert rows[1]["source_ref"] == "https://x.example/a" and rows[1]["created_at"].endswith("+00:00")
    assert store.counts()["labels"] == 3


def test_import_reports_bad_rows_and_stores_the_rest(store, tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_bytes(
        b'{"text": "Go Bernie!", "target": "Bernie", "label": "FAVOR"}\n'
        b"\n"
        b'{"text": "Bad label.", "target": "DNC", "label": "maybe"}\n'
        b"{not json\n"
        b'{"text": "No target.", "label": "favor"}\n'
        b'{"text": "Bad \xff byte.", "target": "DNC", "label": "favor"}\n'
        b'["a list"]\n'
        b'{"text": "The DNC met.", "target": "DNC", "label": "none", "annotator": "zed"}\n'
    )
    result = import_file(store, path, annotator="importer")
    assert result.rows == 7
    assert [(b.line, b.message.split(" Fix")[0]) for b in result.bad] == [
        (3, "label: unknown stance label 'maybe'"),
        (4, "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        (5, "missing 'target'"),
        (6, "not valid UTF-8 (bad byte 0xff at column 15)"),
        (7, "expected a JSON object, found list"),
    ]
    assert result.lines == [1, 8] and result.report is not None and result.report.stored == 2
    assert {(x.annotator, x.source) for x in store.labels().items} == {
        ("importer", "import"),
        ("zed", "import"),
    }
    assert "7 rows, 5 bad (not stored), 2 stored, 0 duplicates, 0 conflicts" in result.summary()


def _label_file(path: Path, n: int) -> Path:
    """``n`` label rows; a few (text, task, actor) come back across chunks: repeats and changes of mind."""
    rows = [{"text": f"Imported text {i}.", "target": "Bernie", "label": "favor"} for i in range(n)]
    for line, label in ((10, "favor"), (600, "against"), (1100, "favor"), (1150, "favor")):
        rows[line] = {"text": "Changing text.", "target": "DNC", "label": label, "annotator": f"a{line}"}
    for line, label in ((20, "neutral"), (700, "neutral"), (1200, "against")):
        rows[line] = {"text": "Known text.", "target": "DNC", "label": label}
    rows[30] = {"text": "Known text.", "leaning": "left"}
    rows[800] = {"text": "Known text.", "leaning": "right"}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _history(store: LabelStore) -> list[tuple]:
    """Every label, superseded ones too, in the order they were stored (with an import's batch id)."""
    return [
        (r.text, r.task, r.actor, r.label, r.annotator, r.source, r.source == "import" and r.batch_id)
        for r in sorted(store.iter_labels(current_only=False), key=lambda r: r.id)
    ]


def test_an_import_lets_other_writers_in_between_its_chunks(store, store_url, tmp_path, monkeypatch):
    """An import is 500 labels per transaction: the service's label writes wait for one, not the file."""
    path = _label_file(tmp_path / "big.jsonl", 1300)
    real_add = LabelStore.add
    chunks: list[int] = []
    between: list[int] = []
    with LabelStore.open(store_url) as service:

        def add(self, items, **kwargs):
            if self is store and chunks:
                # Another connection writes while the import is under way: had the import kept its
                # transaction open, this would wait for the write lock (and fail after 15 s on SQLite).
                between.append(real_add(service, [lab(f"Meanwhile {len(chunks)}.", "DNC", "against")]).stored)
            report = real_add(self, items, **kwargs)
            chunks.append(len(report.outcomes))
            return report

        monkeypatch.setattr(LabelStore, "add", add)
        result = import_file(store, path)
    assert chunks == [500, 500, 300] and between == [1, 1]
    assert result.report is not None and result.report.committed and result.report.resumed == 0
    assert len(result.report.outcomes) == 1300 == len(result.lines)
    assert store.counts()["labels"] == 1300 - 2 + 2  # 2 repeats are duplicates; 2 writes in between


class _Crash(Exception):
    pass


def test_an_interrupted_import_run_again_ends_as_one_run(store, tmp_path, monkeypatch):
    path = _label_file(tmp_path / "big.jsonl", 1300)
    before = [lab("Known text.", "DNC", "neutral", annotator="earlier")]
    with LabelStore.open(f"sqlite:///{tmp_path}/reference.db") as reference:
        reference.add(before)
        whole = import_file(reference, path)
        expected = _history(reference)
    assert whole.report is not None
    assert (whole.report.stored, whole.report.duplicates, whole.report.conflicts) == (1293, 3, 4)

    store.add(before)
    real_add = LabelStore.add
    calls: list[int] = []

    def crash_on_the_third_chunk(self, items, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise _Crash("killed between two chunks")
        return real_add(self, items, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(LabelStore, "add", crash_on_the_third_chunk)
        with pytest.raises(_Crash):
            import_file(store, path)
    assert store.counts()["labels"] == 1 + 1000 - 2  # two chunks: 2 of their labels were repeats

    again = import_file(store, path)
    assert _history(store) == expected
    # The first 1,000 labels were handled; the 2 that stored nothing ("Known text." repeating the
    # earlier label) are judged again, and are duplicates again.
    assert again.report is not None and again.report.resumed == 998
    assert again.report.stored + again.report.conflicts == 300 - 1  # 1 repeat of the current label
    assert again.report.duplicates == 998 + 2 + 1
    assert "1001 duplicates (998 from an earlier run of this import)" in again.summary()
    assert [o.status for o in again.report.outcomes[:1000]] == ["duplicate"] * 1000
    # Finished, the same import stores nothing; a changed file is another import.
    for dry_run in (True, False):
        third = import_file(store, path, dry_run=dry_run)
        assert third.report is not None and third.report.duplicates == 1300 and _history(store) == expected


def test_import_csv_with_line_numbers(store, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        'text,target,label\n"Two\nlines.",DNC,favor\n"Bad.",DNC,maybe\n"x",DNC,favor,extra\nOk.,Bernie,con\n',
        encoding="utf-8",
    )
    result = import_file(store, path)
    assert [(b.line, b.message[:34]) for b in result.bad] == [
        (4, "label: unknown stance label 'maybe"),
        (5, "4 fields; the header has 3"),
    ]
    assert result.lines == [2, 6]
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("body,actor,label\nx,y,favor\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"\['text', 'target'\] missing"):
        import_file(store, bad_header)


def test_database_urls(monkeypatch, tmp_path):
    monkeypatch.delenv("SLANT_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert database_url().render_as_string() == f"sqlite:///{tmp_path}/slant/labels.db"
    monkeypatch.setenv("SLANT_DATABASE_URL", "postgres://u:secret@db:5433/labels")
    url = database_url()
    assert url.drivername == "postgresql+psycopg" and url.port == 5433
    assert "secret" not in LabelStore.__module__ + url.render_as_string(hide_password=True)
    assert database_url("relative.db").database == str(Path("relative.db").resolve())
    for bad, message in [
        ("mysql://u@h/db", "'mysql' is not supported"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("postgresql+asyncpg://u@h/db", "'asyncpg' is not supported"),
        ("not a url://x", "not a database URL"),
    ]:
        with pytest.raises(ConfigError, match=message):
            database_url(bad)


def test_unreachable_or_unwritable_store_is_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailableError, match="cannot create the folder"):
        LabelStore.open(f"sqlite:///{blocker}/sub/labels.db")
    with pytest.raises(
        StoreUnavailableError, match=r"label store at postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"
    ):
        LabelStore.open("postgresql://u:pw@127.0.0.1:1/x")


def test_a_store_from_a_newer_slant_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/labels.db"
    LabelStore.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE slant_alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="a newer slant may have written it"):
        LabelStore.open(url)


def test_the_postgres_fixture_skips_with_the_reason_without_a_server(monkeypatch):
    import _postgres

    monkeypatch.setattr(_postgres, "find_bin_dir", lambda: None)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install postgresql"):
        next(_postgres.start_postgres())


# -- label tasks (migration 0003) -------------------------------------------------------------------


def test_migration_0003_up_and_down(store_url):
    """0002 -> 0003 makes every stance label a 'stance' label; 0003 -> 0002 drops the bias labels."""
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from training.store.db import alembic_config, create_store_engine, upgrade, writer

    engine = create_store_engine(database_url(store_url))
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO texts (sha256, text, created_at) VALUES (:s, 'Go Bernie!', :t)"),
            {"s": text_sha256("Go Bernie!"), "t": "2025-01-01T00:00:00+00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO labels (text_id, actor, label, source, batch_id, created_at) "
                "VALUES (1, 'Bernie Sanders', 'favor', 'import', 'old', :t)"
            ),
            {"t": "2025-01-01T00:00:00+00:00"},
        )
    with LabelStore(engine) as store:
        upgrade(engine)
        (old,) = store.labels().items
        assert (old.task, old.actor, old.label) == ("stance", "Bernie Sanders", "favor")
        r = store.add([new_label(text="Go Bernie!", task="leaning", label="left")])
        assert [(o.status, o.task, o.actor) for o in r.outcomes] == [("stored", "leaning", None)]
        # The database itself refuses a bias label with an actor, or a label of another task.
        for actor, task, label in (
            ("DNC", "leaning", "left"),
            ("", "leaning", "favor"),
            ("", "stance", "favor"),
        ):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO labels (text_id, task, actor, label, source, batch_id, created_at) "
                        "VALUES (1, :task, :actor, :label, 'import', 'x', :t)"
                    ),
                    {"task": task, "actor": actor, "label": label, "t": "2025-01-01T00:00:00+00:00"},
                )
        with writer(engine).begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("labels")}
            assert "task" not in columns
            assert conn.execute(text("SELECT actor, label FROM labels")).all() == [
                ("Bernie Sanders", "favor")
            ]
            assert conn.execute(text("SELECT version_num FROM slant_alembic_version")).scalar() == "0002"
        upgrade(engine)  # and up again
        assert [x.task for x in store.labels().items] == ["stance"]


def test_the_schema_check_is_the_migrations():
    import importlib

    from training.store.schema import TASK_LABEL_RULE

    migration = importlib.import_module("training.store.migrations.versions.r0003_label_tasks")
    assert TASK_LABEL_RULE == migration._RULE


def test_each_task_has_its_own_current_label(store):
    text_ = "The Senate passed the bill after a long debate."
    r = store.add(
        [
            lab(text_, "Senate", "neutral"),
            new_label(text=text_, task="leaning", label="center"),
            new_label(text=text_, task="hyperpartisan", label=False),
        ]
    )
    assert [(o.status, o.task, o.actor, o.label) for o in r.outcomes] == [
        ("stored", "stance", "Senate", "neutral"),
        ("stored", "leaning", None, "center"),
        ("stored", "hyperpartisan", None, "not_hyperpartisan"),
    ]
    r = store.add(
        [
            new_label(text=f"  {text_} ", task="leaning", label="centre"),  # same text, same label
            new_label(text=text_, task="leaning", label="right"),
            new_label(text=text_, task="hyperpartisan", label="not hyperpartisan"),
        ]
    )
    assert [o.status for o in r.outcomes] == ["duplicate", "conflict", "duplicate"]
    assert (r.outcomes[1].previous_label, r.outcomes[1].task) == ("center", "leaning")
    assert store.labels(task="leaning").total == 2
    assert store.labels(task="leaning", current_only=True).items[0].label == "right"
    assert store.labels(label="right").total == 1 and store.labels(label="neutral").total == 1
    assert store.training_rows() == [
        {"text": text_, "target": "Senate", "label": "neutral", "dataset": "labels"}
    ]
    assert store.training_rows(task="leaning") == [
        {"text": text_, "task": "leaning", "label": "right", "dataset": "labels"}
    ]
    (tid,) = {x.text_id for x in store.labels().items}
    assert store.current_labels_by_text([tid]) == {tid: {"Senate": "neutral"}}
    assert store.current_bias_labels_by_text([tid]) == {
        tid: {"hyperpartisan": "not_hyperpartisan", "leaning": "right"}
    }
    with pytest.raises(InvalidInputError, match="unknown label 'maybe'"):
        store.labels(label="maybe")
    with pytest.raises(InvalidInputError, match="unknown leaning label 'favor'"):
        store.labels(task="leaning", label="favor")


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        (
            {"task": "leaning", "actor": "DNC"},
            "actor",
            "a leaning label is about the whole text and takes no actor",
        ),
        (
            {"task": "leaning", "actor": None, "label": "favor"},
            "label",
            "unknown leaning label 'favor'; the leaning labels are left, center, right",
        ),
        (
            {"task": "hyperpartisan", "actor": None, "label": "maybe"},
            "label",
            "the hyperpartisan labels are not_hyperpartisan, hyperpartisan",
        ),
        (
            {"task": "loaded_language", "actor": None, "label": "left"},
            "label",
            "the loaded_language labels are non-biased, biased",
        ),
        ({"task": "tone"}, "task", "unknown label task 'tone'"),
        ({"actor": None}, "actor", "a stance label needs the actor it is about"),
        (
            {"task": "leaning", "actor": None, "label": "left", "corrected_prediction": {"label": "favor"}},
            "corrected_prediction.label",
            "unknown leaning label 'favor'",
        ),
    ],
)
def test_task_labels_say_what_is_wrong(kwargs, field, message):
    args = {"text": "An article.", "actor": "Bernie", "label": "favor"} | kwargs
    with pytest.raises(InvalidInputError, match=re.escape(message)) as info:
        new_label(**args, field="items[0].")
    assert info.value.field == f"items[0].{field}" and info.value.fix


def test_bias_label_corrections_keep_their_probabilities(store):
    pred = {"label": "Left", "probabilities": {"left": 0.5, "centre": 0.3, "right": 0.2}}
    store.add([new_label(text="An article.", task="leaning", label="right", corrected_prediction=pred)])
    (r,) = store.labels().items
    assert r.corrected_prediction == {
        "label": "left",
        "probabilities": {"left": 0.5, "center": 0.3, "right": 0.2},
    }


def test_import_and_export_with_tasks(store, tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [
        {"text": "Go Bernie!", "target": "Bernie", "label": "favor"},
        {"text": "Article one.", "leaning": "Left"},
        {"text": "Article two.", "hyperpartisan": True},
        {
            "text": "Article three.",
            "target": "DNC",
            "label": "against",
            "leaning": "right",
            "hyperpartisan": "false",
        },
        {"text": "A loaded sentence.", "task": "loaded_language", "label": "biased"},
        {"text": "Bad.", "task": "leaning", "label": "favor"},
        {"text": "Bad actor.", "task": "leaning", "target": "DNC", "label": "left"},
        {"text": "No target.", "task": "stance", "label": "favor"},
        {"text": "Nothing."},
        {"text": "Bad field.", "leaning": "up"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = import_file(store, path)
    assert [(b.line, b.message.split(" Fix")[0]) for b in result.bad] == [
        (6, "label: unknown leaning label 'favor'; the leaning labels are left, center, right"),
        (7, "actor: a leaning label is about the whole text and takes no actor (target); found 'DNC'"),
        (8, "missing 'target'"),
        (9, "missing 'target', 'label' (or a 'leaning' or 'hyperpartisan' field, or a 'task')"),
        (10, "label: unknown leaning label 'up'; the leaning labels are left, center, right"),
    ]
    assert result.lines == [1, 2, 3, 4, 4, 4, 5]
    assert result.report is not None and result.report.stored == 7
    got = {(x.text, x.task, x.actor, x.label) for x in store.labels().items}
    assert got == {
        ("Go Bernie!", "stance", "Bernie Sanders", "favor"),
        ("Article one.", "leaning", None, "left"),
        ("Article two.", "hyperpartisan", None, "hyperpartisan"),
        ("Article three.", "stance", "Democratic National Committee", "against"),
        ("Article three.", "leaning", None, "right"),
        ("Article three.", "hyperpartisan", None, "not_hyperpartisan"),
        ("A loaded sentence.", "loaded_language", None, "biased"),
    }
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"export.{fmt}"
        with out.open("w", encoding="utf-8", newline="") as fh:
            assert export_labels(store, fh, fmt=fmt) == 7
        again = import_file(store, out)
        assert again.bad == [] and again.report is not None and again.report.duplicates == 7
    exported = [json.loads(line) for line in (tmp_path / "export.jsonl").read_text().splitlines()]
    leaning = [r for r in exported if r["task"] == "leaning"]
    assert [(r["target"], r["label"]) for r in leaning] == [(None, "left"), (None, "right")]
    with (tmp_path / "leaning.jsonl").open("w", encoding="utf-8") as fh:
        assert export_labels(store, fh, task="leaning") == 2
    csv_path = tmp_path / "bias.csv"
    csv_path.write_text("text,leaning\nA csv article.,center\n", encoding="utf-8")
    result = import_file(store, csv_path)
    assert result.bad == [] and result.report is not None and result.report.stored == 1
