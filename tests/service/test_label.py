"""`slant label`: formats in and out, order and ids, resume after a crash, bad rows, engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTICLE, REPO
from typer.testing import CliRunner

from model.errors import ConfigError, InvalidInputError
from service.batch import label_corpus
from service.batch.parts import PartStore, parts_dir_for
from service.cli import app

ACTORS = ["DNC", "Bernie Sanders"]


def corpus(n: int = 12) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        if i % 5 == 0:
            text = ARTICLE
        elif i % 2:
            text = f"Sanders told voters in town {i} that the DNC must stay neutral."
        else:
            text = f"Hillary Clinton spoke in Ohio on day {i}."
        rows.append({"doc": f"doc-{i}", "text": text, "who": ["Bernie Sanders", "Hillary Clinton"]})
    return rows


def write_input(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSONL, CSV (actors as 'a; b'), Parquet or a datasets save_to_disk directory."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        import csv

        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in r.items()})
    elif path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5)
    else:
        import datasets

        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL or Parquet file, or of every file of a Ray output directory (by row)."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    out: list[dict[str, Any]] = []
    for f in files:
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            out.extend(pq.read_table(f).to_pylist())
        else:
            out.extend(json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line)
    return sorted(out, key=lambda r: r["row"]) if path.is_dir() else out


def read_errors(output: Path) -> list[dict[str, Any]]:
    text = output.with_name(output.name + ".errors.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]], tol: float = 2e-3) -> None:
    """Equal rows; probabilities may differ in the last digits (batch padding changes float sums)."""
    assert [(r["id"], r["row"]) for r in a] == [(r["id"], r["row"]) for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert (ra["model"], ra["version"]) == (rb["model"], rb["version"])
        assert len(ra["actors"]) == len(rb["actors"])
        for x, y in zip(ra["actors"], rb["actors"], strict=True):
            for key in ("actor", "status", "mentions", "windows", "level", "aliases_matched"):
                assert x[key] == y[key], (ra["row"], key)
            assert (x["probabilities"] is None) == (y["probabilities"] is None)
            for lab, p in (x["probabilities"] or {}).items():
                assert abs(p - y["probabilities"][lab]) <= tol
            assert len(x["evidence"]) == len(y["evidence"])
            if tol == 0:  # the tiny random model scores windows almost alike: a float flips their order
                assert [(e["start"], e["end"]) for e in x["evidence"]] == [
                    (e["start"], e["end"]) for e in y["evidence"]
                ]


def run(tiny_model_dir: Path, input: Path, output: Path, **kw: Any) -> dict[str, Any]:
    kw.setdefault("actors", ACTORS)
    kw.setdefault("evidence", 1)
    kw.setdefault("batch_size", 4)
    return label_corpus(
        str(input), output=str(output), model=str(tiny_model_dir), progress=False, **kw
    ).to_json()


@pytest.fixture(scope="module")
def baseline(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    d = tmp_path_factory.mktemp("baseline")
    src = write_input(d / "in.jsonl", corpus())
    out = d / "out.jsonl"
    summary = run(tiny_model_dir, src, out, id_field="doc")
    assert summary["labelled"] == 12 and summary["errors"] == 0
    return read_output(out)


@pytest.mark.parametrize("name", ["in.csv", "in.parquet", "in_dataset"])
def test_every_input_format_gives_the_same_rows(tiny_model_dir, tmp_path, baseline, name):
    src = write_input(tmp_path / name, corpus())
    out = tmp_path / "out.jsonl"
    summary = run(tiny_model_dir, src, out, id_field="doc")
    assert summary["rows_read"] == 12 and summary["labelled"] == 12
    same_rows(read_output(out), baseline, tol=0)
    assert not parts_dir_for(out).exists()


def test_parquet_output_matches_jsonl(tiny_model_dir, tmp_path, baseline):
    src = write_input(tmp_path / "in.jsonl", corpus())
    out = tmp_path / "out.parquet"
    run(tiny_model_dir, src, out, id_field="doc", chunk_size=5)
    rows = read_output(out)
    same_rows(rows, baseline)
    first = rows[0]["actors"][0]
    assert set(first) >= {"actor", "status", "label", "probabilities", "mentions", "evidence"}
    assert set(first["probabilities"]) == {"against", "neutral", "favor"}
    assert set(first["evidence"][0]) >= {"text", "start", "end", "label"}
    assert rows[0]["model"] == "tiny-test" and rows[0]["version"] == "0"


def test_order_and_row_number_ids(tiny_model_dir, tmp_path, baseline):
    src = write_input(tmp_path / "in.jsonl", corpus())
    out = tmp_path / "out.jsonl"
    run(tiny_model_dir, src, out, chunk_size=5, batch_size=3)
    rows = read_output(out)
    assert [r["id"] for r in rows] == list(range(12)) == [r["row"] for r in rows]
    assert [r["id"] for r in baseline] == [f"doc-{i}" for i in range(12)]
    # Evidence offsets point into the row's own text.
    texts = [r["text"] for r in corpus()]
    for r in rows:
        for a in r["actors"]:
            for e in a["evidence"]:
                assert texts[r["row"]][e["start"] : e["end"]] == e["text"]


def test_per_row_actors_list_or_semicolons(tiny_model_dir, tmp_path):
    for name in ("in.jsonl", "in.csv"):
        src = write_input(tmp_path / name, corpus(4))
        out = tmp_path / f"{name}.out.jsonl"
        run(tiny_model_dir, src, out, actors=None, actors_field="who")
        for r in read_output(out):
            assert [a["actor"] for a in r["actors"]] == ["Bernie Sanders", "Hillary Clinton"]


def test_bad_rows_go_to_the_errors_file(tiny_model_dir, tmp_path):
    good = corpus(6)
    lines = [json.dumps(r).encode() for r in good]
    lines.insert(1, json.dumps({"doc": "empty", "text": "   "}).encode())
    lines.insert(3, json.dumps({"doc": "number", "text": 42}).encode())
    lines.insert(4, b"{this is not json")
    lines.insert(5, b'{"doc": "bytes", "text": "Clinton \xff\xfe spoke"}')
    lines.insert(6, json.dumps({"doc": "actors", "text": "Clinton spoke.", "who": 7}).encode())
    lines.insert(7, json.dumps({"doc": "none", "text": "Clinton spoke.", "who": []}).encode())
    lines.insert(8, json.dumps({"text": "Clinton spoke, but this row has no id."}).encode())
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    summary = run(tiny_model_dir, src, out, actors=None, actors_field="who", id_field="doc", chunk_size=4)
    assert summary["rows_read"] == 13 and summary["labelled"] == 6 and summary["errors"] == 7
    assert [r["id"] for r in read_output(out)] == [f"doc-{i}" for i in range(6)]
    errors = {e["row"]: e for e in read_errors(out)}
    assert sorted(errors) == [1, 3, 4, 5, 6, 7, 8]
    assert errors[1]["id"] == "empty" and "empty" in errors[1]["reason"]
    assert errors[3]["code"] == "invalid_input" and "found int" in errors[3]["reason"]
    assert errors[4]["code"] == "unreadable_row" and errors[4]["id"] is None
    assert "not valid UTF-8" in errors[5]["reason"] and "0xff" in errors[5]["reason"]
    assert errors[6]["field"] == "who" and "found int" in errors[6]["reason"]
    assert "empty" in errors[7]["reason"]
    assert errors[8]["field"] == "doc" and errors[8]["id"] is None


def test_rows_with_text_that_is_not_utf8_go_to_the_errors_file(tiny_model_dir, tmp_path, monkeypatch):
    # JSON can carry lone surrogates ("\ud800"), and the reader keeps an undecodable byte as one:
    # such a row used to pass validation and crash its chunk's commit, on every resume too.
    lines = [json.dumps(r).encode() for r in corpus(6)]
    lines.insert(1, b'{"doc": "lone", "text": "Trump spoke.", "who": ["Trump\\ud800"]}')
    lines.insert(3, b'{"doc": "byte", "text": "Trump spoke.", "who": "Trump \xff; DNC"}')
    lines.insert(
        5, b'{"doc": "alias", "text": "Trump spoke.", "who": [{"name": "T", "aliases": ["\\udfff"]}]}'
    )
    lines.insert(6, b'{"doc": "nul", "text": "Trump spoke.", "who": ["Trump\\u0000"]}')
    lines.insert(7, b'{"doc": "id\\ud800", "text": "Trump spoke."}')
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    summary = run(tiny_model_dir, src, out, actors=None, actors_field="who", id_field="doc", chunk_size=4)
    assert summary["rows_read"] == 11 and summary["labelled"] == 6 and summary["errors"] == 5
    assert [r["id"] for r in read_output(out)] == [f"doc-{i}" for i in range(6)]
    errors = {e["row"]: e for e in read_errors(out)}
    assert sorted(errors) == [1, 3, 5, 6, 7]
    assert errors[1]["field"] == "who[0]" and errors[1]["id"] == "lone"
    assert "unpaired UTF-16 surrogate (\\ud800) at character 5" in errors[1]["reason"]
    assert "Fix:" in errors[1]["reason"]
    assert (
        errors[3]["field"] == "who"
        and "not valid UTF-8 (bad byte 0xff at character 6)" in errors[3]["reason"]
    )
    assert errors[5]["field"] == "who[0].aliases[0]" and "surrogate (\\udfff)" in errors[5]["reason"]
    assert errors[6]["field"] == "who[0]" and "NUL" in errors[6]["reason"]
    assert errors[7]["field"] == "doc" and "unpaired UTF-16 surrogate (\\ud800)" in errors[7]["reason"]
    # A run cut short after its first chunk resumes to the same files.
    again = tmp_path / "again.jsonl"
    with monkeypatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            run(tiny_model_dir, src, again, actors=None, actors_field="who", id_field="doc", chunk_size=4)
    resumed = run(tiny_model_dir, src, again, actors=None, actors_field="who", id_field="doc", chunk_size=4)
    assert resumed["resumed_rows"] == 4 and resumed["labelled"] == 6 and resumed["errors"] == 5
    assert read_errors(again) == read_errors(out)


def test_a_failing_batch_is_retried_row_by_row(tiny_model_dir, tmp_path, monkeypatch):
    from model import StancePredictor

    real = StancePredictor.predict

    def flaky(self, texts, *args, **kwargs):
        if any("BOOM" in t for t in texts):
            raise RuntimeError("kernel exploded")
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(StancePredictor, "predict", flaky)
    rows = corpus(8)
    rows[5]["text"] = "Sanders said BOOM."
    src = write_input(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    summary = run(tiny_model_dir, src, out, batch_size=4)
    assert summary["labelled"] == 7 and summary["errors"] == 1
    [err] = read_errors(out)
    assert err["row"] == 5 and err["code"] == "prediction_failed" and "kernel exploded" in err["reason"]
    assert [r["row"] for r in read_output(out)] == [0, 1, 2, 3, 4, 6, 7]


class Crash(Exception):
    pass


def crash_after(monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    """Make the run die after committing ``k`` chunks (as a kill between two chunks would)."""
    real = PartStore.commit
    done = []

    def commit(self: PartStore, *args: Any, **kwargs: Any) -> None:
        if len(done) == k:
            raise Crash
        real(self, *args, **kwargs)
        done.append(1)

    monkeypatch.setattr(PartStore, "commit", commit)


def count_predicted_texts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from model import StancePredictor

    real = StancePredictor.predict
    seen: list[int] = []

    def counting(self, texts, *args, **kwargs):
        seen.append(len(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(StancePredictor, "predict", counting)
    return seen


def test_resume_after_a_crash_skips_finished_chunks(tiny_model_dir, tmp_path, monkeypatch, baseline):
    src = write_input(tmp_path / "in.jsonl", corpus())
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as m:
        crash_after(m, 2)
        with pytest.raises(Crash):
            run(tiny_model_dir, src, out, id_field="doc", chunk_size=4)
    parts = parts_dir_for(out)
    assert not out.exists() and sorted(p.name for p in parts.glob("part-*.jsonl")) == [
        "part-000000.errors.jsonl",
        "part-000000.jsonl",
        "part-000001.errors.jsonl",
        "part-000001.jsonl",
    ]
    (parts / ".part-000002.jsonl.999.tmp").write_text('{"torn": ')  # a write cut short by kill -9
    seen = count_predicted_texts(monkeypatch)
    summary = run(tiny_model_dir, src, out, id_field="doc", chunk_size=4)
    assert sum(seen) == 4, "only the last chunk is labelled again"
    assert summary["resumed_rows"] == 8 and summary["labelled"] == 12 and summary["rows_read"] == 12
    same_rows(read_output(out), baseline, tol=0)
    assert not parts.exists()


def test_a_new_run_sweeps_the_temp_files_of_a_killed_one(tmp_path):
    """The parts' temp files are model.files.atomic_path's: the store's sweep matches their names."""
    from model.files import atomic_path

    store = PartStore(tmp_path / "out.jsonl.parts")
    store.open({"run": 1}, force=False)
    with atomic_path(store.path / "part-000000.jsonl") as tmp:
        tmp.write_text('{"torn": ')
        torn = tmp.with_name(tmp.name.replace(f".{os.getpid()}.", ".999."))
        tmp.rename(torn)  # what a run with pid 999, killed mid-write, left behind
        tmp.write_text("")
    assert torn.exists() and torn.name.startswith(".part-000000.jsonl.")
    assert store.open({"run": 1}, force=False) == 1
    assert not torn.exists() and store.is_committed(0)


def test_kill_9_of_a_two_worker_run_then_resume(tiny_model_dir, tiny_predictor, tmp_path, monkeypatch):
    """A real crash: SIGKILL to `slant label --workers 2` once two chunks are committed, then re-run.

    The chunks the worker processes wrote must equal what the in-process engine computes.
    """
    from service.batch.rows import RowOptions, label_batch
    from service.batch.sources import RawRow

    rows = [{"text": f"Sanders and the DNC met in town {i}. Clinton was not there."} for i in range(400)]
    src = write_input(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    parts = parts_dir_for(out)
    cmd = [sys.executable, "-m", "service.cli", "label", str(src), "-o", str(out), "--workers", "2"]
    cmd += [
        "-m",
        str(tiny_model_dir),
        "-a",
        "DNC",
        "--chunk-size",
        "20",
        "--evidence",
        "1",
        "--batch-size",
        "4",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (parts / "part-000001.jsonl").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk was committed in 120 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    done = {int(p.name[5:11]) for p in parts.glob("part-??????.jsonl")}
    assert done and done == set(range(len(done)))
    n_done = 20 * len(done)
    seen = count_predicted_texts(monkeypatch)
    summary = run(tiny_model_dir, src, out, actors=["DNC"], chunk_size=20, batch_size=4)
    assert summary["resumed_rows"] == n_done and sum(seen) == 400 - n_done
    got = read_output(out)
    assert [r["row"] for r in got] == list(range(400))
    opts = RowOptions(actors=("DNC",), evidence=1)
    expected = []
    for s in range(0, n_done, 4):
        batch = [RawRow(i, rows[i]) for i in range(s, s + 4)]
        expected.extend(label_batch(tiny_predictor, batch, opts)[0])
    same_rows(got[:n_done], expected)


def test_resume_sees_any_change_to_the_input(tiny_model_dir, tmp_path, monkeypatch):
    """The manifest hashes the whole input: a same-size edit past the first MiB, with the mtime put
    back, is refused; a file only touched resumes."""
    rows = corpus(12)
    for i in (6, 7, 8, 9):
        rows[i]["pad"] = "p" * 300_000  # row 11 starts past the first MiB
    src = write_input(tmp_path / "in.jsonl", rows)
    assert src.read_bytes().index(b"town 11") > 1 << 20

    def interrupted(out: Path) -> None:
        with monkeypatch.context() as m:
            crash_after(m, 1)
            with pytest.raises(Crash):
                run(tiny_model_dir, src, out, id_field="doc", chunk_size=4)

    touched = tmp_path / "touched.jsonl"
    interrupted(touched)
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes, new mtime
    summary = run(tiny_model_dir, src, touched, id_field="doc", chunk_size=4)
    assert summary["resumed_rows"] == 4 and summary["labelled"] == 12

    edited = tmp_path / "edited.jsonl"
    interrupted(edited)
    st = src.stat()
    src.write_bytes(src.read_bytes().replace(b"town 11", b"town 99"))  # same size
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size and src.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(InvalidInputError, match="holds a partial run with different input"):
        run(tiny_model_dir, src, edited, id_field="doc", chunk_size=4)


def test_file_system_errors_are_one_line_with_exit_2(tiny_model_dir, tmp_path, monkeypatch):
    """A read-only output folder or a full disk: one line naming the path and the fix, exit 2.

    Tests run as root, where a read-only mode does not stop writes: the errors are raised instead."""
    import errno

    src = write_input(tmp_path / "in.jsonl", corpus(3))
    out = tmp_path / "out" / "labels.jsonl"
    args = ["label", str(src), "-o", str(out), "-m", str(tiny_model_dir), "-a", "DNC"]
    real_mkdir = Path.mkdir

    def read_only(self, *a, **kw):
        if self.name.endswith(".parts"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(Path, "mkdir", read_only)
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {out}.parts: Read-only file system. "
        "Fix: the file system is read-only: write to another folder"
    ]

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() and fsync() raise it: no path

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", full)
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {out}.parts/manifest.json: No space left on device. Fix: free some space")
    assert "run the same command again" in line
    assert not [p.name for p in (out.parent / "labels.jsonl.parts").glob(".*tmp*")]

    missing = tmp_path / "nowhere" / "article.txt"
    result = CliRunner().invoke(app, ["predict", "-f", str(missing), "-m", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {missing}: No such file or directory. Fix: check the path: the file or the folder above it "
        "does not exist"
    )


def test_changed_options_refuse_to_resume(tiny_model_dir, tmp_path, monkeypatch):
    src = write_input(tmp_path / "in.jsonl", corpus())
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            run(tiny_model_dir, src, out, chunk_size=4)
    with pytest.raises(InvalidInputError, match="different options") as err:
        run(tiny_model_dir, src, out, chunk_size=4, evidence=2)
    assert "--force" in str(err.value)
    with pytest.raises(InvalidInputError, match="different chunk_size"):
        run(tiny_model_dir, src, out, chunk_size=5)
    write_input(src, corpus(13))  # the input changed
    with pytest.raises(InvalidInputError, match="different input"):
        run(tiny_model_dir, src, out, chunk_size=4)
    summary = run(tiny_model_dir, src, out, chunk_size=4, force=True)
    assert summary["resumed_rows"] == 0 and summary["labelled"] == 13


def test_existing_output_needs_force(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.jsonl", corpus(3))
    out = tmp_path / "out.jsonl"
    run(tiny_model_dir, src, out)
    with pytest.raises(InvalidInputError, match="already exists") as err:
        run(tiny_model_dir, src, out)
    assert "--force" in str(err.value)
    write_input(src, corpus(4))
    assert run(tiny_model_dir, src, out, force=True)["labelled"] == 4
    assert len(read_output(out)) == 4


def test_cli_prints_a_summary_and_one_line_errors(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.csv", corpus(3))
    out = tmp_path / "out.parquet"
    args = ["label", str(src), "-o", str(out), "-m", str(tiny_model_dir), "-a", "DNC", "--id-field", "doc"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["labelled"] == 3 and summary["output"] == str(out) and summary["rows_per_s"] > 0
    assert [r["id"] for r in read_output(out)] == ["doc-0", "doc-1", "doc-2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--force" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, [*args, "--force", "--actors-field", "who"])
    assert result.exit_code == 2 and "--actor and --actors-field" in result.output
    result = CliRunner().invoke(app, [*args[:4], "--text-field", "body", "--force"])
    assert result.exit_code == 2 and "no column 'body'" in result.output


def test_cli_backend_option(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SLANT_BACKEND", raising=False)
    src = write_input(tmp_path / "in.jsonl", corpus(2))
    out = tmp_path / "out.jsonl"
    base = ["label", str(src), "-o", str(out), "-m", str(tiny_model_dir), "-a", "DNC"]
    result = CliRunner().invoke(app, [*base, "--backend", "tpu"])
    assert result.exit_code == 2 and "unknown inference backend" in result.output and not out.exists()
    result = CliRunner().invoke(app, [*base, "--backend", "onnx"])
    assert result.exit_code == 0, result.output
    assert len(read_output(out)) == 2 and list((tmp_path / "cache" / "onnx").glob("*/model.onnx"))
    # An argument all the way down (the summary and the resume manifest record it), not an
    # environment variable the command sets for the rest of the process.
    assert json.loads(result.stdout)["model"]["backend"] == "onnx" and "SLANT_BACKEND" not in os.environ


def test_plain_progress_lines_off_a_terminal(capsys):
    from service.batch.runner import _Progress

    class Rows:
        description, total_rows = "x", 200

        def fraction(self):
            return None

    progress = _Progress(Rows(), initial=0, enabled=True, every=0.0)  # type: ignore[arg-type]
    progress.update(50)
    line = capsys.readouterr().err
    assert "50/200 rows (25%)" in line and "rows/s" in line and "ETA" in line


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'slant[cluster]'")
    pytest.importorskip("ray.data", reason="ray[data] is not installed: pip install 'slant[cluster]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_agrees_with_local(local_ray, tiny_model_dir, tmp_path, baseline):
    rows = corpus()
    rows.insert(3, {"doc": "blank", "text": "", "who": []})
    src = write_input(tmp_path / "in.parquet", rows)
    out = tmp_path / "ray-out.parquet"
    summary = run(tiny_model_dir, src, out, id_field="doc", engine="ray", workers=2)
    assert summary["engine"] == "ray" and summary["rows_read"] == 13
    assert summary["labelled"] == 12 and summary["errors"] == 1
    assert out.is_dir() and all(f.suffix == ".parquet" for f in out.iterdir())
    got = read_output(out)
    for r in got:  # the local baseline has no blank row: number the rows as it does
        r["row"] -= r["row"] > 3
    same_rows(got, baseline)
    [err] = read_errors(out)
    assert err["row"] == 3 and err["id"] == "blank" and err["code"] == "invalid_input"
    with pytest.raises(InvalidInputError, match="already exists"):
        run(tiny_model_dir, src, out, id_field="doc", engine="ray", workers=2)


def test_ray_missing_gives_the_install_command(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"pip install 'slant\[cluster\]'"):
        label_corpus("in.parquet", output=str(tmp_path / "o.jsonl"), engine="ray")


# -- --bias: the bias heads' reading of every row ------------------------------------------------------


def same_bias(a: dict[str, Any] | None, b: dict[str, Any] | None, tol: float = 2e-3) -> None:
    """Equal ``bias`` values; probabilities may differ in the last digits (batch padding)."""
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    assert set(a) == set(b) == {"leaning", "hyperpartisan", "loaded_language", "sentences"}
    assert a["sentences"] == b["sentences"]
    for lab, p in b["leaning"]["probabilities"].items():
        assert abs(a["leaning"]["probabilities"][lab] - p) <= tol
    assert abs(a["hyperpartisan"] - b["hyperpartisan"]) <= tol
    la, lb = a["loaded_language"], b["loaded_language"]
    assert (la["scored"], la["threshold"]) == (lb["scored"], lb["threshold"])
    near = {(s["start"], s["end"]) for s in lb["sentences"] if abs(s["probability"] - lb["threshold"]) <= tol}
    assert {(s["start"], s["end"]) for s in la["sentences"]} - near == {
        (s["start"], s["end"]) for s in lb["sentences"]
    } - near


@pytest.fixture
def bias_env(tiny_bias_model_dir, monkeypatch):
    """The tiny model with leaning and hyperpartisan heads, plus the loaded-language head via SLANT_HEADS."""
    model_dir, loaded = tiny_bias_model_dir
    monkeypatch.setenv("SLANT_HEADS", str(loaded))
    return model_dir


def test_bias_adds_a_bias_field_in_jsonl_and_parquet(bias_env, tiny_bias_predictor, tmp_path):
    rows = corpus(6)
    src = write_input(tmp_path / "in.jsonl", rows)
    plain, jsonl, parquet = tmp_path / "plain.jsonl", tmp_path / "out.jsonl", tmp_path / "out.parquet"
    run(bias_env, src, plain, id_field="doc")
    assert "bias" not in read_output(plain)[0]  # off by default: the rows keep their fields
    summary = run(bias_env, src, jsonl, id_field="doc", bias=True)
    assert summary["labelled"] == 6
    got = read_output(jsonl)
    assert list(got[0]) == ["id", "row", "actors", "bias", "model", "version"]
    same_rows(got, read_output(plain))  # the stance part is unchanged
    expected = tiny_bias_predictor.analyze([r["text"] for r in rows], ACTORS, evidence=1)
    for row, exp in zip(got, expected, strict=True):
        assert exp.bias is not None
        same_bias(row["bias"], exp.bias.to_dict())
        for s in row["bias"]["loaded_language"]["sentences"]:
            assert rows[row["row"]]["text"][s["start"] : s["end"]] == s["text"]

    run(bias_env, src, parquet, id_field="doc", bias=True, chunk_size=4)
    import pyarrow.parquet as pq

    schema = pq.read_schema(parquet)
    assert schema.names == ["id", "row", "actors", "bias", "model", "version"]
    assert schema.field("bias").type.field("leaning").type.field("probabilities").type.names == [
        "left",
        "center",
        "right",
    ]
    from_parquet = read_output(parquet)
    same_rows(from_parquet, got)
    for a, b in zip(from_parquet, got, strict=True):
        same_bias(a["bias"], b["bias"])


def test_bias_parquet_round_trips_exactly(bias_env, tmp_path):
    """The Parquet writer reads the chunks' JSON lines: a bias struct comes back as it went in."""
    from service.batch.output import output_schema
    from service.batch.parts import merge_jsonl, merge_parquet

    src = write_input(tmp_path / "in.jsonl", corpus(3))
    run(bias_env, src, tmp_path / "out.jsonl", bias=True)
    rows = read_output(tmp_path / "out.jsonl")
    rows[1]["bias"]["leaning"] = None  # a missing head: null fields stay null
    rows[2]["bias"] = None
    (tmp_path / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    schema = output_schema(id_is_row=True, bias=True, leaning_labels=["left", "center", "right"])
    merge_parquet([tmp_path / "part.jsonl"], tmp_path / "rt.parquet", schema)
    assert read_output(tmp_path / "rt.parquet") == rows
    merge_jsonl([tmp_path / "part.jsonl"], tmp_path / "rt.jsonl")
    assert read_output(tmp_path / "rt.jsonl") == rows


def test_the_parquet_schema_follows_the_result_types():
    """The Arrow types of ``actors`` and ``bias`` are read from model.types, not written out by hand."""
    import dataclasses

    from model.labels import STANCE_LABELS
    from model.types import ActorStance, Bias, Evidence, LoadedLanguage
    from service.batch.output import MENTION_KINDS, actor_type, bias_type

    actor = actor_type()
    assert actor.names == [f.name for f in dataclasses.fields(ActorStance)]
    assert actor.field("probabilities").type.names == list(STANCE_LABELS)
    assert actor.field("mentions_via").type.names == list(MENTION_KINDS) == ["name", "title", "pronoun"]
    assert actor.field("evidence").type.value_type.names == [f.name for f in dataclasses.fields(Evidence)]
    bias = bias_type(["left", "center", "right"])
    assert bias.names == [f.name for f in dataclasses.fields(Bias)]
    loaded = bias.field("loaded_language").type
    assert loaded.names == [*(f.name for f in dataclasses.fields(LoadedLanguage)), "share"]
    assert str(bias_type(None).field("leaning").type) == "null"


def test_bias_without_a_leaning_head_writes_a_null_leaning(tiny_bias_model_dir, tmp_path, monkeypatch):
    import shutil

    model_dir, loaded = tiny_bias_model_dir
    only_loaded = tmp_path / "model"
    shutil.copytree(model_dir, only_loaded, ignore=shutil.ignore_patterns("bias"))
    monkeypatch.setenv("SLANT_HEADS", str(loaded))
    src = write_input(tmp_path / "in.jsonl", corpus(2))
    run(only_loaded, src, tmp_path / "out.parquet", bias=True)
    [a, b] = read_output(tmp_path / "out.parquet")
    assert a["bias"]["leaning"] is None and a["bias"]["hyperpartisan"] is None
    assert a["bias"]["loaded_language"]["scored"] > 0


def test_bias_needs_heads(tiny_model_dir, tmp_path):
    src = write_input(tmp_path / "in.jsonl", corpus(2))
    with pytest.raises(InvalidInputError, match="has no bias heads") as err:
        run(tiny_model_dir, src, tmp_path / "out.jsonl", bias=True)
    assert err.value.field == "--bias" and "SLANT_HEADS" in str(err.value)


def test_a_resume_with_other_bias_options_is_refused(bias_env, tmp_path, monkeypatch, tiny_bias_model_dir):
    src = write_input(tmp_path / "in.jsonl", corpus())
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            run(bias_env, src, out, chunk_size=4)
    with pytest.raises(InvalidInputError, match="different heads, options;"):
        run(bias_env, src, out, chunk_size=4, bias=True)
    with monkeypatch.context() as m:
        crash_after(m, 1)
        with pytest.raises(Crash):
            run(bias_env, src, out, chunk_size=4, bias=True, force=True)
    manifest = json.loads((parts_dir_for(out) / "manifest.json").read_text())
    assert manifest["options"]["bias"] is True
    assert sorted(h["task"] for h in manifest["heads"]) == ["hyperpartisan", "leaning", "loaded_language"]
    with pytest.raises(InvalidInputError, match="different heads, options;"):
        run(bias_env, src, out, chunk_size=4)  # now without --bias
    monkeypatch.delenv("SLANT_HEADS")  # other heads: other bias values
    with pytest.raises(InvalidInputError, match="different heads;"):
        run(bias_env, src, out, chunk_size=4, bias=True)
    _, loaded = tiny_bias_model_dir
    monkeypatch.setenv("SLANT_HEADS", str(loaded))
    seen: list[int] = []
    from model import StancePredictor

    real = StancePredictor.analyze

    def counting(self, texts, *args, **kwargs):
        seen.append(len(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(StancePredictor, "analyze", counting)
    summary = run(bias_env, src, out, chunk_size=4, bias=True)  # the same options: resumed
    assert summary["resumed_rows"] == 4 and sum(seen) == 8
    assert all(r["bias"] is not None for r in read_output(out))


def test_cli_bias_option(bias_env, tmp_path):
    src = write_input(tmp_path / "in.jsonl", corpus(2))
    out = tmp_path / "out.jsonl"
    base = ["label", str(src), "-o", str(out), "-m", str(bias_env), "-a", "DNC"]
    result = CliRunner().invoke(app, [*base, "--bias"])
    assert result.exit_code == 0, result.output
    assert all(r["bias"]["leaning"] for r in read_output(out))
    result = CliRunner().invoke(app, [*base, "--no-bias", "--force"])
    assert result.exit_code == 0, result.output
    assert all("bias" not in r for r in read_output(out))


def test_bias_with_two_workers(bias_env, tmp_path):
    src = write_input(tmp_path / "in.jsonl", corpus(8))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.parquet"
    run(bias_env, src, one, bias=True)
    run(bias_env, src, two, bias=True, workers=2)
    a, b = read_output(two), read_output(one)
    same_rows(a, b)
    for x, y in zip(a, b, strict=True):
        same_bias(x["bias"], y["bias"])


def test_ray_engine_with_bias(local_ray, bias_env, tmp_path):
    src = write_input(tmp_path / "in.parquet", corpus(6))
    local, ray_out = tmp_path / "local.jsonl", tmp_path / "ray-out"
    run(bias_env, src, local, id_field="doc", bias=True)
    summary = run(
        bias_env, src, ray_out, id_field="doc", bias=True, engine="ray", workers=2, output_format="parquet"
    )
    assert summary["labelled"] == 6
    got, expected = read_output(ray_out), read_output(local)
    same_rows(got, expected)
    for x, y in zip(got, expected, strict=True):
        same_bias(x["bias"], y["bias"])
