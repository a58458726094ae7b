"""Label files in and out of the store, in the training data schema (``text``, ``target``, ``label``)
plus a ``task``.

Which labels a row holds:

- a row with a ``task`` (``stance``, ``leaning``, ``hyperpartisan``, ``loaded_language``) is one
  label of that task in ``label``; only stance rows have a ``target``;
- a row without one is a stance label (``target``, ``label``) as before, and a ``leaning`` or
  ``hyperpartisan`` field is a label of that bias task for the whole text, so files laid out like
  the bias datasets (``{"text", "leaning": "left"}``, ``{"text", "hyperpartisan": true}``) import
  as they are; a row may carry a stance label and bias labels at once.

An import checks every row, reports the bad ones with their line numbers (none of a bad row's
labels is stored) and stores the rest in transactions of ``IMPORT_CHUNK`` (500) labels, so the
service's label writes are never held up for long. An import cut short (a crash, Ctrl-C) is run
again as it was: it finds the labels it stored, stores the rest and ends as one uninterrupted run
would. An export writes the current label of
each (text, task, actor) with ``task``, ``annotator``, ``source``, ``created_at`` and ``source_ref``
columns (``target`` is empty for the bias tasks); it can be imported again (every row is then a
duplicate) or named as a training ``DatasetSpec`` path (with ``where: {task: stance}`` when it holds
bias labels too).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from model.errors import InvalidInputError, SlantError
from model.labels import check_task
from model.text import MAX_TEXT_CHARS

from .store import LabelIn, LabelStore, WriteReport, new_label

Format = Literal["jsonl", "csv"]
EXPORT_FIELDS = ("text", "target", "label", "task", "annotator", "source", "created_at", "source_ref")
BIAS_FIELDS = ("leaning", "hyperpartisan")
"""Fields that hold a bias task's label in place of ``task`` + ``label`` (as the bias datasets do)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ImportResult:
    """What an import read, rejected and stored; ``lines[i]`` is the line of ``report.outcomes[i]``
    (a row with several labels has its line once per label)."""

    path: str
    rows: int
    bad: list[BadRow]
    lines: list[int]
    report: WriteReport | None

    def summary(self) -> str:
        r = self.report
        stored = "would store" if r is not None and not r.committed else "stored"
        resumed = f" ({r.resumed} from an earlier run of this import)" if r and r.resumed else ""
        return (
            f"{self.path}: {self.rows} rows, {len(self.bad)} bad (not stored), "
            f"{r.stored if r else 0} {stored}, {r.duplicates if r else 0} duplicates{resumed}, "
            f"{r.conflicts if r else 0} conflicts" + (f" (batch {r.batch_id})" if r and r.outcomes else "")
        )


def file_format(path: Path, fmt: str | None = None) -> Format:
    """``csv`` for .csv files, else ``jsonl``, unless ``fmt`` says which."""
    chosen = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if chosen not in ("jsonl", "csv"):
        raise InvalidInputError(f"unknown file format {chosen!r}", field="format", fix="use jsonl or csv")
    return "csv" if chosen == "csv" else "jsonl"


def _jsonl_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    for i, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield i, BadRow(i, f"not valid UTF-8 (bad byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
            continue
        except json.JSONDecodeError as exc:
            yield i, BadRow(i, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            yield i, BadRow(i, f"expected a JSON object, found {type(row).__name__}")
            continue
        yield i, row


def _csv_rows(
    data: bytes, text_field: str, target_field: str, label_field: str
) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row does not hide the rest.
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    # A task column, or a bias label column, makes target (and label) per-row matters.
    tasks = any(name in header for name in ("task", *BIAS_FIELDS))
    required = [text_field] if tasks else [text_field, target_field, label_field]
    missing = [name for name in required if name not in header]
    if tasks and not any(name in header for name in (label_field, *BIAS_FIELDS)):
        missing.append(label_field)
    if missing:
        raise InvalidInputError(
            f"the CSV header has columns {header}; {missing} missing",
            fix="name the columns text, target, label (or pass the column names as options); bias "
            "labels take a task column (leaning, hyperpartisan, loaded_language) or a leaning / "
            "hyperpartisan column",
        )
    line = reader.line_num
    for row in reader:
        start, line = line + 1, reader.line_num
        if None in row:
            yield start, BadRow(start, f"{len(header) + len(row[None])} fields; the header has {len(header)}")
            continue
        try:
            for value in row.values():
                if isinstance(value, str):
                    value.encode("utf-8")
        except UnicodeEncodeError:
            yield start, BadRow(start, "not valid UTF-8")
            continue
        yield start, row


def read_label_file(
    path: str | Path,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    target_field: str = "target",
    label_field: str = "label",
    annotator: str | None = None,
    max_text_chars: int = MAX_TEXT_CHARS,
) -> tuple[int, list[tuple[int, LabelIn]], list[BadRow]]:
    """Read and check a JSONL or CSV label file: (rows read, good labels with line, bad rows).

    A row's own ``annotator`` and ``source_ref`` columns are kept; ``annotator`` fills in for rows
    without one. Every label is recorded with source ``import``. See the module docstring for the
    ``task``, ``leaning`` and ``hyperpartisan`` fields.
    """
    path = Path(path)
    return _check_rows(
        _read(path), file_format(path, fmt), text_field, target_field, label_field, annotator, max_text_chars
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read label file {path}: {exc.strerror or exc}", fix="check the path"
        ) from None


def _check_rows(
    data: bytes,
    kind: Format,
    text_field: str,
    target_field: str,
    label_field: str,
    annotator: str | None,
    max_text_chars: int,
) -> tuple[int, list[tuple[int, LabelIn]], list[BadRow]]:
    rows = _csv_rows(data, text_field, target_field, label_field) if kind == "csv" else _jsonl_rows(data)
    good: list[tuple[int, LabelIn]] = []
    bad: list[BadRow] = []
    n = 0
    for line, row in rows:
        n += 1
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        try:
            wanted = _labels_of(row, text_field, target_field, label_field)
            if isinstance(wanted, str):
                bad.append(BadRow(line, wanted))
                continue
            labels = [
                new_label(
                    text=row[text_field],
                    task=task,
                    actor=target,
                    label=label,
                    annotator=row.get("annotator") or annotator,
                    source="import",
                    source_ref=row.get("source_ref") or None,
                    field="",
                    max_text_chars=max_text_chars,
                )
                for task, target, label in wanted
            ]
        except SlantError as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        good += [(line, item) for item in labels]
    return n, good, bad


def _given(row: dict[str, Any], name: str) -> bool:
    return row.get(name) not in (None, "")


def _labels_of(
    row: dict[str, Any], text_field: str, target_field: str, label_field: str
) -> list[tuple[str, Any, Any]] | str:
    """(task, target, label) of each label a row holds, or what is missing from it."""
    if _given(row, "task"):
        task = check_task(row["task"], field="task")
        need = [text_field, *([target_field] if task == "stance" else []), label_field]
        missing = [f for f in need if not _given(row, f)]
        if missing:
            return f"missing {', '.join(repr(m) for m in missing)}"
        return [(task, row.get(target_field) or None, row[label_field])]
    bias = [f for f in BIAS_FIELDS if _given(row, f)]
    stance = not bias or _given(row, label_field) or _given(row, target_field)
    need = [text_field, *([target_field, label_field] if stance else [])]
    missing = [f for f in need if not _given(row, f)]
    if missing:
        hint = (
            f" (or a {' or '.join(repr(f) for f in BIAS_FIELDS)} field, or a 'task')"
            if label_field in missing and not bias
            else ""
        )
        return f"missing {', '.join(repr(m) for m in missing)}{hint}"
    out: list[tuple[str, Any, Any]] = [("stance", row[target_field], row[label_field])] if stance else []
    return out + [(f, None, row[f]) for f in bias]


def import_file(
    store: LabelStore,
    path: str | Path,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    target_field: str = "target",
    label_field: str = "label",
    annotator: str | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import a label file: bad rows reported and skipped, the good ones stored ``IMPORT_CHUNK`` at a time.

    The batch id is the file's and the options' hash: the same import run again after a crash
    resumes (:meth:`LabelStore.add_resumable`), and run again after it finished stores nothing.

    >>> result = import_file(store, "labels.jsonl", annotator="alice")        # doctest: +SKIP
    >>> print(result.summary())                                               # doctest: +SKIP
    labels.jsonl: 120 rows, 2 bad (not stored), 100 stored, 15 duplicates, 3 conflicts (batch 3f..)
    """
    path = Path(path)
    data, kind = _read(path), file_format(path, fmt)
    n, good, bad = _check_rows(data, kind, text_field, target_field, label_field, annotator, MAX_TEXT_CHARS)
    report = None
    if good:
        batch = import_batch_id(data, kind, text_field, target_field, label_field, annotator)
        report = store.add_resumable([item for _, item in good], batch_id=batch, dry_run=dry_run)
    return ImportResult(str(path), n, bad, [line for line, _ in good], report)


def import_batch_id(data: bytes, *options: str | None) -> str:
    """The batch id of an import: a hash of the file's bytes and the options that read it (32 hex)."""
    digest = hashlib.sha256(b"slant-import-1\0" + data)
    for option in options:
        digest.update(b"\0" + (option or "").encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def export_labels(
    store: LabelStore,
    out: TextIO,
    *,
    fmt: Format = "jsonl",
    current_only: bool = True,
    task: str | None = None,
) -> int:
    """Write the store's labels (by default the current one per (text, task, actor); only ``task``'s
    when given); returns the count. A bias label's ``target`` is null (JSONL) or empty (CSV)."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    n = 0
    for r in store.iter_labels(current_only=current_only, task=task):
        row = {
            "text": r.text,
            "target": r.actor,
            "label": r.label,
            "task": r.task,
            "annotator": r.annotator,
            "source": r.source,
            "created_at": r.created_at.isoformat(),
            "source_ref": r.source_ref,
        }
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
