"""Label files in and out of the store, in the training data schema (``text``, ``target``, ``label``).

An import checks every row, reports the bad ones with their line numbers (they are not stored) and
stores the rest in one transaction. An export writes the current label of each (text, actor) with
``annotator``, ``source``, ``created_at`` and ``source_ref`` columns; it can be imported again (every
row is then a duplicate) or named as a training ``DatasetSpec`` path.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from model.errors import InvalidInputError, SlantError
from model.text import MAX_TEXT_CHARS

from .store import LabelIn, LabelStore, WriteReport, new_label

Format = Literal["jsonl", "csv"]
EXPORT_FIELDS = ("text", "target", "label", "annotator", "source", "created_at", "source_ref")


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ImportResult:
    """What an import read, rejected and stored; ``lines[i]`` is the line of ``report.outcomes[i]``."""

    path: str
    rows: int
    bad: list[BadRow]
    lines: list[int]
    report: WriteReport | None

    def summary(self) -> str:
        r = self.report
        stored = "would store" if r is not None and not r.committed else "stored"
        return (
            f"{self.path}: {self.rows} rows, {len(self.bad)} bad (not stored), "
            f"{r.stored if r else 0} {stored}, {r.duplicates if r else 0} duplicates, "
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


def _csv_rows(data: bytes, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row does not hide the rest.
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [name for name in required if name not in header]
    if missing:
        raise InvalidInputError(
            f"the CSV header has columns {header}; {missing} missing",
            fix="name the columns text, target, label (or pass the column names as options)",
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
    without one. Every label is recorded with source ``import``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read label file {path}: {exc.strerror or exc}", fix="check the path"
        ) from None
    kind = file_format(path, fmt)
    rows = _csv_rows(data, (text_field, target_field, label_field)) if kind == "csv" else _jsonl_rows(data)
    good: list[tuple[int, LabelIn]] = []
    bad: list[BadRow] = []
    n = 0
    for line, row in rows:
        n += 1
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        missing = [f for f in (text_field, target_field, label_field) if row.get(f) in (None, "")]
        if missing:
            bad.append(BadRow(line, f"missing {', '.join(repr(m) for m in missing)}"))
            continue
        try:
            good.append(
                (
                    line,
                    new_label(
                        text=row[text_field],
                        actor=row[target_field],
                        label=row[label_field],
                        annotator=row.get("annotator") or annotator,
                        source="import",
                        source_ref=row.get("source_ref") or None,
                        field="",
                        max_text_chars=max_text_chars,
                    ),
                )
            )
        except SlantError as exc:
            bad.append(BadRow(line, str(exc)))
    return n, good, bad


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
    """Import a label file: bad rows reported and skipped, the good ones stored in one transaction.

    >>> result = import_file(store, "labels.jsonl", annotator="alice")        # doctest: +SKIP
    >>> print(result.summary())                                               # doctest: +SKIP
    labels.jsonl: 120 rows, 2 bad (not stored), 100 stored, 15 duplicates, 3 conflicts (batch 3f..)
    """
    n, good, bad = read_label_file(
        path,
        fmt=fmt,
        text_field=text_field,
        target_field=target_field,
        label_field=label_field,
        annotator=annotator,
    )
    report = store.add([item for _, item in good], dry_run=dry_run) if good else None
    return ImportResult(str(path), n, bad, [line for line, _ in good], report)


def export_labels(store: LabelStore, out: TextIO, *, fmt: Format = "jsonl", current_only: bool = True) -> int:
    """Write the store's labels (by default the current one per (text, actor)); returns the count."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    n = 0
    for r in store.iter_labels(current_only=current_only):
        row = {
            "text": r.text,
            "target": r.actor,
            "label": r.label,
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
