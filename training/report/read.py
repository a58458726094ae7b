"""Read what ``slant label`` wrote, a chunk of rows at a time, with a progress bar.

JSONL is read a line at a time (the bar counts bytes: rate and ETA without a first pass), Parquet
a record batch at a time with only the columns the report needs (the bar counts rows). A folder
(``slant label --engine ray`` writes one) is read file by file in name order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.errors import InvalidInputError

_JSONL = {".jsonl", ".ndjson", ".json"}
_PARQUET = {".parquet", ".pq"}
FIX_FORMAT = "give the .jsonl or .parquet file that `slant label -o` wrote"


@dataclass
class Labelled:
    """The labelled files and what their columns are (Parquet: from the schema; JSONL: unknown)."""

    path: Path
    files: list[Path]
    kind: str  # "jsonl" or "parquet"
    columns: list[str] | None
    total_rows: int | None
    total_bytes: int


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "jsonl" if suffix in _JSONL else "parquet" if suffix in _PARQUET else None


def open_labelled(path: str | Path) -> Labelled:
    """Check that ``path`` is labelled output and say what it holds; raise InvalidInputError if not."""
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(
            f"labelled file {p} does not exist",
            field="LABELLED",
            fix="check the path; make one with "
            "`slant label INPUT -o labelled.jsonl --keep-fields source,date`",
        )
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and _kind(f) and not f.name.startswith("."))
        kinds = {_kind(f) for f in files}
        if not files or len(kinds) > 1:
            raise InvalidInputError(
                f"{p} is a folder without labelled files (or with both JSONL and Parquet)",
                field="LABELLED",
                fix=FIX_FORMAT + ", or a folder of one kind (what --engine ray writes)",
            )
        kind = kinds.pop() or "jsonl"
    else:
        files = [p]
        found = _kind(p)
        if found is None:
            raise InvalidInputError(
                f"cannot tell the format of {p} from its name", field="LABELLED", fix=FIX_FORMAT
            )
        kind = found
    size = sum(f.stat().st_size for f in files)
    if size == 0:
        raise InvalidInputError(
            f"{p} is empty: there are no labelled rows to report on",
            field="LABELLED",
            fix="label some articles first (`slant label INPUT -o FILE`), and check that the run finished",
        )
    columns: list[str] | None = None
    total: int | None = None
    if kind == "parquet":
        import pyarrow.parquet as pq

        total = 0
        for f in files:
            try:
                meta = pq.ParquetFile(f)
            except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
                raise InvalidInputError(
                    f"{f} is not a readable Parquet file ({exc})", field="LABELLED", fix=FIX_FORMAT
                ) from None
            names = meta.schema_arrow.names
            columns = names if columns is None else [c for c in columns if c in names]
            total += meta.metadata.num_rows
        if columns is not None and "actors" not in columns:
            raise not_labelled(p, columns)
    return Labelled(p, files, kind, columns, total, size)


def not_labelled(path: Path, columns: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"{path} does not look like `slant label` output: it has no 'actors' column "
        f"(its columns: {', '.join(columns[:20])})",
        field="LABELLED",
        fix="run `slant label` on the articles first and report on what it writes",
    )


class _Bar:
    """tqdm on a terminal (rate and ETA); a plain line every 10 s otherwise; nothing when off."""

    def __init__(self, total: int | None, *, unit: str, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            tty = sys.stderr.isatty()
            self.bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=unit == "B",
                unit_divisor=1024 if unit == "B" else 1000,
                desc="slant report: reading",
                file=sys.stderr,
                mininterval=0.2 if tty else 10.0,
                dynamic_ncols=tty,
                ascii=not tty,
            )

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def iter_chunks(
    labelled: Labelled, *, columns: list[str] | None, chunk_rows: int = 20_000, progress: bool = True
) -> Iterator[list[dict[str, Any]]]:
    """Lists of at most ``chunk_rows`` records, in file order; only ``columns`` for Parquet."""
    if labelled.kind == "parquet":
        bar = _Bar(labelled.total_rows, unit="rows", enabled=progress)
        import pyarrow.parquet as pq

        try:
            for f in labelled.files:
                pf = pq.ParquetFile(f)
                wanted = [c for c in (columns or pf.schema_arrow.names) if c in pf.schema_arrow.names]
                for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
                    records = batch.to_pylist()
                    bar.update(len(records))
                    yield records
        finally:
            bar.close()
        return
    bar = _Bar(labelled.total_bytes, unit="B", enabled=progress)
    try:
        for f in labelled.files:
            with f.open("rb") as stream:
                chunk: list[dict[str, Any]] = []
                pending = 0
                for number, line in enumerate(stream, start=1):
                    pending += len(line)
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise InvalidInputError(
                            f"line {number} of {f} is not JSON ({exc})",
                            field="LABELLED",
                            fix=FIX_FORMAT + " (a run that was killed leaves its rows in OUTPUT.parts/, "
                            "not in OUTPUT: run the same `slant label` command again to finish it)",
                        ) from None
                    if not isinstance(record, dict):
                        raise InvalidInputError(
                            f"line {number} of {f} is a JSON {type(record).__name__}, not an object",
                            field="LABELLED",
                            fix=FIX_FORMAT,
                        )
                    chunk.append(record)
                    if len(chunk) >= chunk_rows:
                        bar.update(pending)
                        pending = 0
                        yield chunk
                        chunk = []
                bar.update(pending)
                if chunk:
                    yield chunk
    finally:
        bar.close()
