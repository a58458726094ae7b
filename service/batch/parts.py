"""Durable files of ``slant label``: committed chunks, the resume manifest, atomic writes and merges.

``OUTPUT.parts/`` holds ``manifest.json`` (input fingerprint and the options that change the
output) and, for each finished chunk ``k`` of ``chunk_size`` input rows, ``part-k.jsonl`` (its
output rows) and ``part-k.errors.jsonl`` (its bad rows). Each file is written to a temp name,
fsynced and renamed (:func:`model.files.atomic_path`); the rows file is renamed last, so its
presence means the chunk is done. A run killed at any point leaves only whole chunks behind, and
the next run with the same input and options skips them. At the end the parts are merged into
OUTPUT and ``OUTPUT.errors.jsonl``, each written the same atomic way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from model.errors import InvalidInputError
from model.files import atomic_path, temp_glob, write_text_atomic

from .output import as_text
from .sources import require_pyarrow

MANIFEST = "manifest.json"
PARTS_FORMAT = 1


def parts_dir_for(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def errors_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


class PartStore:
    """The parts directory of one output: manifest check, chunk commit, listing.

    >>> store = PartStore(Path("out.jsonl.parts"))                     # doctest: +SKIP
    >>> store.open(manifest, force=False)                              # doctest: +SKIP
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, index: int) -> Path:
        return self.path / f"part-{index:06d}.jsonl"

    def _errors(self, index: int) -> Path:
        return self.path / f"part-{index:06d}.errors.jsonl"

    def open(self, manifest: dict[str, Any], *, force: bool) -> int:
        """Create the directory, or check that an existing one was made for the same run.

        Returns the number of chunks already committed (0 for a fresh start). With ``force``, a
        parts directory from a different run is deleted instead of refused.
        """
        manifest = {"parts_format": PARTS_FORMAT, **manifest}
        found = self._read_manifest()
        if found is not None and found != manifest:
            if not force:
                changed = sorted(k for k in set(found) | set(manifest) if found.get(k) != manifest.get(k))
                raise InvalidInputError(
                    f"{self.path} holds a partial run with different {', '.join(changed)}; "
                    "it cannot be resumed with these options",
                    field="--output",
                    fix="re-run with the same input and options to resume, pass --force to discard "
                    "it and start over, or choose another --output",
                )
            shutil.rmtree(self.path)
            found = None
        if found is None and self.path.exists():
            # No (readable) manifest: nothing in here can be trusted.
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(temp_glob()):
            stale.unlink(missing_ok=True)  # a write torn by a crash
        if found is None:
            with writing(self.path / MANIFEST):
                write_text_atomic(self.path / MANIFEST, json.dumps(manifest, indent=2))
        return len(self.committed())

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def committed(self) -> set[int]:
        """Indices of the finished chunks."""
        out = set()
        for p in self.path.glob("part-*.jsonl"):
            stem = p.name.removeprefix("part-").removesuffix(".jsonl")
            if stem.isdigit():
                out.add(int(stem))
        return out

    def is_committed(self, index: int) -> bool:
        return self._rows(index).exists()

    def commit(self, index: int, rows: Sequence[dict[str, Any]], errors: Sequence[dict[str, Any]]) -> None:
        """Write one chunk durably: its errors first, then its rows (whose presence marks it done)."""
        atomic_write_bytes(self._errors(index), dump_jsonl(errors))
        atomic_write_bytes(self._rows(index), dump_jsonl(rows))

    def counts(self, index: int) -> tuple[int, int]:
        """(rows, errors) in a committed chunk."""
        return _count_lines(self._rows(index)), _count_lines(self._errors(index))

    def row_files(self, n: int) -> list[Path]:
        return [self._rows(i) for i in range(n)]

    def error_files(self, n: int) -> list[Path]:
        return [self._errors(i) for i in range(n)]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


# -- durable writes and merges ---------------------------------------------------------------------


def dump_jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    """Rows as UTF-8 JSON lines (non-ASCII kept as is)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name ``path`` in an OSError raised while writing it: a full disk fails write() or fsync(),
    whose errors name no file, and the CLI's one-line message should say where."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` via a temp file in the same directory, fsync, rename: never half-written."""
    with writing(path), atomic_path(path) as tmp:
        tmp.write_bytes(data)


def merge_jsonl(parts: Sequence[Path], dest: Path) -> int:
    """Concatenate JSONL parts into ``dest`` atomically; returns the number of rows."""
    rows = 0
    with writing(dest), atomic_path(dest) as tmp, tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for line in f:
                    out.write(line)
                    rows += 1
    return rows


def merge_parquet(parts: Sequence[Path], dest: Path, schema: Any, *, text_fields: Sequence[str] = ()) -> int:
    """Convert JSONL parts into one Parquet file (a row group per part) atomically; returns rows.

    The ``text_fields`` (kept fields typed as strings) have their non-string values written as JSON.
    """
    require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    with writing(dest), atomic_path(dest) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for part in parts:
            with part.open("rb") as f:
                records = [json.loads(line) for line in f]
            for r in records:
                for name in text_fields:
                    r[name] = as_text(r.get(name))
            if records:
                writer.write_table(pa.Table.from_pylist(records, schema=schema))
                rows += len(records)
    return rows
