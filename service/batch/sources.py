"""The inputs of ``slant label``: format detection, fingerprints and streaming readers.

Readers stream: JSONL and CSV are read a line (a record) at a time, Parquet a record batch at a
time (``ParquetFile.iter_batches``), a Hugging Face dataset through its memory-mapped Arrow
files or in streaming mode. Each yields :class:`RawRow` values in input order; a record that
cannot be parsed becomes a RawRow with a ``problem`` instead of stopping the run.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io as _io
import itertools
import json
import lzma
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from model.errors import ConfigError, InvalidInputError

InputFormat = Literal["jsonl", "csv", "parquet", "hf"]

INPUT_FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "hf")

_COMPRESSED: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass
class RawRow:
    """One input record, as read: ``record`` maps column names to values, or ``problem`` says why not."""

    row: int
    record: dict[str, Any] | None
    problem: str | None = None


class Source(Protocol):
    """A corpus that can be read row by row, in order, with a stable fingerprint."""

    description: str
    total_rows: int | None

    def __iter__(self) -> Iterator[RawRow]: ...

    def fraction(self) -> float | None:
        """Share of the input consumed so far (0..1), when it is known without a total row count."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this input: a re-run resumes only when it is unchanged."""
        ...


def require_pyarrow() -> None:
    """Raise a ConfigError with the install command when Parquet support (pyarrow) is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(
            "reading or writing Parquet needs pyarrow, which is not installed",
            fix="pip install pyarrow (it comes with slant[train] and slant[cluster])",
        ) from None


# -- format detection ----------------------------------------------------------------------------


def _strip_compression(name: str) -> tuple[str, str]:
    """(name without a .gz/.xz/.bz2 suffix, that suffix or '')."""
    for suffix in _COMPRESSED:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def detect_input_format(spec: str, given: str | None = None) -> InputFormat:
    """The input format from ``--input-format``, else from the path: suffix, dataset dir or hub name."""
    if given:
        if given not in INPUT_FORMATS:
            raise InvalidInputError(
                f"unknown input format {given!r}",
                field="--input-format",
                fix=f"use one of {', '.join(INPUT_FORMATS)}",
            )
        return given  # type: ignore[return-value]
    path = Path(spec)
    if path.is_dir():
        return "hf"
    base, _ = _strip_compression(path.name)
    suffix = Path(base).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if not path.exists() and not suffix and spec.count("/") <= 1 and not spec.startswith((".", "/", "~")):
        return "hf"  # looks like a hub dataset name, e.g. "user/corpus"
    if not path.exists():
        raise InvalidInputError(
            f"input {spec} does not exist", field="INPUT", fix="check the path (or give a dataset name)"
        )
    raise InvalidInputError(
        f"cannot tell the format of {spec} from its name",
        field="INPUT",
        fix="name it .jsonl, .csv or .parquet, or pass --input-format jsonl|csv|parquet|hf",
    )


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Path, size and the SHA-256 of the whole file: a resume is refused when any byte changed.

    Sizes and times miss an edit that keeps both (the first MiB's hash missed one past it). One
    more read of the input costs about a second per GB, little next to labelling it; a file only
    touched (same bytes) still resumes.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
    return {"path": str(path.resolve()), "size": size, "sha256": digest.hexdigest()}


def _missing_columns(kind: str, columns: Sequence[str], found: Sequence[str]) -> None:
    missing = [c for c in columns if c not in found]
    if missing:
        shown = ", ".join(map(repr, list(found)[:20]))
        raise InvalidInputError(
            f"{kind} has no column {', '.join(map(repr, missing))}; its columns are {shown}",
            field="INPUT",
            fix="name the right columns with --text-field, --id-field and --actors-field",
        )


# -- readers -------------------------------------------------------------------------------------


class _FileSource:
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        if not path.is_file():
            raise InvalidInputError(f"input {path} does not exist or is not a file", field="INPUT")
        self.path = path
        self.columns = list(columns)
        self.description = str(path)
        self.total_rows: int | None = None
        self._size = max(1, path.stat().st_size)
        self._raw: IO[bytes] | None = None

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        """The file as bytes (decompressed); its raw handle is kept to measure progress."""
        with self.path.open("rb") as raw:
            self._raw = raw
            _, suffix = _strip_compression(self.path.name)
            if not suffix:
                yield raw
                return
            with _COMPRESSED[suffix](raw, "rb") as stream:
                yield stream

    def fraction(self) -> float | None:
        if self._raw is None or self._raw.closed:
            return None
        return min(1.0, self._raw.tell() / self._size)

    def fingerprint(self) -> dict[str, Any]:
        return file_fingerprint(self.path)


class JsonlSource(_FileSource):
    """One JSON object per line; blank lines are skipped and are not rows."""

    lookahead = 100

    def __init__(self, path: Path, columns: Sequence[str], *, expected: Sequence[str] = ()) -> None:
        super().__init__(path, columns)
        self.expected = list(expected)

    def _records(self) -> Iterator[RawRow]:
        row = 0
        with self._open() as f:
            for line in f:
                if not line.strip():
                    continue
                if row == 0:
                    line = line.removeprefix(b"\xef\xbb\xbf")
                # surrogateescape keeps undecodable bytes inside strings, so that a bad byte in
                # one text fails that row with the byte's position, not the whole file.
                try:
                    record = json.loads(line.decode("utf-8", errors="surrogateescape"))
                except ValueError as exc:
                    yield RawRow(row, None, f"line is not valid JSON ({exc})")
                else:
                    if isinstance(record, dict):
                        yield RawRow(row, record)
                    else:
                        yield RawRow(row, None, f"expected a JSON object, found {type(record).__name__}")
                row += 1

    def __iter__(self) -> Iterator[RawRow]:
        records = self._records()
        # A text-field typo would make every row an error: stop at once when none of the first
        # records has the text field (one bad record among good ones is only a bad row).
        head = list(itertools.islice(records, self.lookahead))
        found = [r.record for r in head if r.record is not None]
        for column in [self.columns[0], *self.expected]:
            # The same for a kept field (--keep-fields): a typo would make it null on every row.
            if found and not any(column in rec for rec in found):
                _missing_columns(f"the first records of {self.path.name}", [column], list(found[0]))
        for raw in itertools.chain(head, records):
            if raw.record is not None:
                raw.record = {c: raw.record.get(c) for c in self.columns}
            yield raw


class CsvSource(_FileSource):
    """A CSV file with a header row; quoted fields may hold newlines."""

    def __iter__(self) -> Iterator[RawRow]:
        # Article bodies are far longer than the csv module's default 128 KiB field limit.
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with (
            self._open() as raw,
            _io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as f,
        ):
            reader = csv.reader(f)
            try:
                header = next(reader)
            except StopIteration:
                return
            _missing_columns(f"the CSV header of {self.path.name}", self.columns, header)
            index = {name: i for i, name in enumerate(header)}
            row = 0
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield RawRow(row, None, f"CSV record cannot be parsed ({exc})")
                    row += 1
                    continue
                if not values:
                    continue
                yield RawRow(
                    row,
                    {c: values[index[c]] if index[c] < len(values) else None for c in self.columns},
                )
                row += 1


class ParquetSource(_FileSource):
    """A Parquet file read one record batch at a time, only the needed columns."""

    def __init__(self, path: Path, columns: Sequence[str], *, batch_rows: int = 1024) -> None:
        super().__init__(path, columns)
        require_pyarrow()
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise InvalidInputError(f"{path} is not a readable Parquet file ({exc})", field="INPUT") from None
        _missing_columns(path.name, self.columns, self._file.schema_arrow.names)
        self.total_rows = self._file.metadata.num_rows
        self.batch_rows = batch_rows

    def fraction(self) -> float | None:
        return None

    def __iter__(self) -> Iterator[RawRow]:
        row = 0
        for batch in self._file.iter_batches(batch_size=self.batch_rows, columns=self.columns):
            for record in batch.to_pylist():
                yield RawRow(row, record)
                row += 1


class HfSource:
    """A Hugging Face ``datasets`` dataset: a ``save_to_disk`` directory, a data folder or a hub name.

    Saved datasets are memory-mapped Arrow files, so iterating them keeps memory flat; folders and
    hub names are read in streaming mode.
    """

    def __init__(self, spec: str, columns: Sequence[str], *, split: str, batch_rows: int = 1024) -> None:
        try:
            import datasets
        except ImportError:
            raise InvalidInputError(
                "reading Hugging Face datasets needs the datasets package",
                field="INPUT",
                fix="pip install 'slant[train]' (or pip install datasets)",
            ) from None
        self.spec = spec
        self.split = split
        self.columns = list(columns)
        self.batch_rows = batch_rows
        self.description = f"{spec} [{split}]"
        self.total_rows: int | None = None
        path = Path(spec)
        self._saved = path.is_dir() and (
            (path / "dataset_dict.json").exists() or (path / "state.json").exists()
        )
        ds: Any
        try:
            if self._saved:
                ds = datasets.load_from_disk(str(path))
                if isinstance(ds, datasets.DatasetDict):
                    if split not in ds:
                        raise InvalidInputError(
                            f"{spec} has splits {sorted(ds)}, not {split!r}",
                            field="--split",
                            fix=f"pass --split {sorted(ds)[0]}",
                        )
                    ds = ds[split]
                self.total_rows = len(ds)
            else:
                ds = datasets.load_dataset(spec, split=split, streaming=True)
        except InvalidInputError:
            raise
        except Exception as exc:  # datasets raises many types (FileNotFoundError, DatasetNotFoundError...)
            raise InvalidInputError(
                f"cannot open dataset {spec!r} split {split!r}: {str(exc).splitlines()[0]}",
                field="INPUT",
                fix="pass a save_to_disk directory, a data folder, or a dataset name reachable from here",
            ) from None
        names = list(ds.column_names or []) if getattr(ds, "column_names", None) is not None else None
        if names is not None:
            _missing_columns(f"dataset {spec}", self.columns, names)
            ds = ds.select_columns(self.columns)
        self.dataset = ds

    def fraction(self) -> float | None:
        return None

    def fingerprint(self) -> dict[str, Any]:
        if self._saved:
            files = sorted(p for p in Path(self.spec).rglob("*") if p.is_file())
            return {
                "path": str(Path(self.spec).resolve()),
                "split": self.split,
                "files": [
                    [str(p.relative_to(self.spec)), fp["size"], fp["sha256"]]
                    for p in files
                    for fp in [file_fingerprint(p)]
                ],
            }
        return {"dataset": self.spec, "split": self.split}

    def __iter__(self) -> Iterator[RawRow]:
        row = 0
        if self._saved:
            for batch in self.dataset.iter(batch_size=self.batch_rows):
                cols = [batch[c] for c in self.columns]
                for values in zip(*cols, strict=True):
                    yield RawRow(row, dict(zip(self.columns, values, strict=True)))
                    row += 1
            return
        for record in self.dataset:
            yield RawRow(row, {c: record.get(c) for c in self.columns})
            row += 1


def open_source(
    spec: str,
    *,
    columns: Sequence[str],
    input_format: str | None = None,
    split: str = "train",
    expected: Sequence[str] = (),
) -> Source:
    """A streaming reader for ``spec`` that yields only ``columns`` (the first is the text column).

    Every column must exist in a CSV header, a Parquet schema or a dataset; in JSONL, where a
    record may lack a field, the text column and the ``expected`` ones must appear among the first
    records.

    >>> src = open_source("corpus.jsonl", columns=["text", "id"])        # doctest: +SKIP
    >>> next(iter(src)).record                                           # doctest: +SKIP
    {'text': '...', 'id': 'a1'}
    """
    fmt = detect_input_format(spec, input_format)
    if fmt == "hf":
        return HfSource(spec, columns, split=split)
    path = Path(spec)
    if fmt == "parquet":
        return ParquetSource(path, columns)
    if fmt == "csv":
        return CsvSource(path, columns)
    return JsonlSource(path, columns, expected=expected)
