"""Reading labelled rows from JSONL/CSV files or Hugging Face ``datasets`` sources.

Every row comes out as ``{"text", "target", "label", "dataset"}`` with the label normalised to
against/neutral/favor. Files are streamed; a bad row stops the load with its line number.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import lzma
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model.errors import InvalidInputError
from model.labels import normalize_label

from .config import DatasetSpec, data_root, spec_path

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _iter_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.exists():
        raise InvalidInputError(
            f"data file {path} does not exist",
            fix="check the path, or set SLANT_DATA_ROOT to the folder that holds the datasets",
        )
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                yield i, row
        return
    with lzma.open(path, "rb") if path.suffix == ".xz" else path.open("rb") as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield i, json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidInputError(
                    f"{path}:{i} is not valid UTF-8 (byte {exc.start})", fix="re-encode the file as UTF-8"
                ) from None
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{path}:{i} is not valid JSON ({exc.msg})", fix="fix that line"
                ) from None


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) of a JSONL or CSV file as it is, before any normalisation."""
    return _iter_file(path)


def _iter_hf(spec: DatasetSpec) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import datasets
    except ImportError:  # pragma: no cover - depends on the install
        raise InvalidInputError(
            "reading a Hugging Face dataset needs the `datasets` package", fix="pip install 'slant[train]'"
        ) from None
    assert spec.hf is not None
    if Path(spec.hf).is_dir():
        ds = datasets.load_from_disk(spec.hf)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[spec.hf_split]
    else:
        ds = datasets.load_dataset(spec.hf, spec.hf_config, split=spec.hf_split)
    yield from enumerate(ds)


def _in_holdout(key: str, fraction: float) -> bool:
    digest = hashlib.sha1(key.strip().lower().encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < fraction


_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its", "i", "we", "you"}


def _names_the_target(mention: str, target: str) -> bool:
    """A mention worth marking: a name ("Trump", "President Obama"), not a pronoun or the name itself."""
    m = mention.strip()
    return bool(m) and m.lower() not in _PRONOUNS and any(c.isupper() for c in m) and m != target.strip()


def _selected(
    source: Iterator[tuple[int, dict[str, Any]]], spec: DatasetSpec
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of ``source`` that the spec's ``where`` and ``holdout`` keep."""
    for line, row in source:
        if any(str(row.get(k)) not in ([v] if isinstance(v, str) else v) for k, v in spec.where.items()):
            continue
        if spec.holdout is not None:
            held = _in_holdout(str(row.get(spec.holdout.by, "")), spec.holdout.fraction)
            if held != (spec.holdout.part == "holdout"):
                continue
        yield line, row


def _joined(
    source: Iterator[tuple[int, dict[str, Any]]], spec: DatasetSpec, root: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The (selected) rows of ``source`` with their text read from ``text_from.path`` by id, into
    the spec's ``text_field`` (one pass over that file)."""
    join = spec.text_from
    assert join is not None
    rows = list(source)
    keyless = [line for line, row in rows if row.get(join.key) in (None, "")]
    if keyless:
        raise InvalidInputError(
            f"{spec.name} row {keyless[0]}: no {join.key!r} field to find its text by "
            f"({len(keyless)} rows lack it)",
            fix=f"give every row its {join.key!r} id, or set text_from.key to the field that holds it",
        )
    wanted = {str(row[join.key]) for _, row in rows}
    path = data_root(root) / join.path
    texts: dict[str, str] = {}
    for _, record in _iter_file(path):
        rid = str(record.get(join.id_field))
        if rid in wanted and isinstance(record.get(join.field), str):
            texts[rid] = record[join.field]
    missing = sorted(wanted - texts.keys())
    if missing:
        raise InvalidInputError(
            f"{spec.name}: {len(missing)} ids have no {join.field!r} in {path} (first: {missing[0]!r})",
            fix="point text_from.path at the file the labels were made from, or leave those rows out "
            "(where / holdout are applied before the join)",
        )
    for line, row in rows:
        yield line, {**row, spec.text_field: texts[str(row[join.key])]}


def load_rows(spec: DatasetSpec, root: str = "../shared/data") -> list[dict[str, Any]]:
    """Load, filter, normalise and (deterministically) subsample one dataset spec."""
    source = _selected(_iter_hf(spec) if spec.hf else _iter_file(spec_path(spec, root)), spec)
    if spec.text_from is not None:
        source = _joined(source, spec, root)
    strip = [re.compile(p) for p in spec.strip]
    exclude = [re.compile(p) for p in spec.exclude_text]
    swapper = None
    if spec.swap_names:
        from .augment import NameSwapper  # Faker: a training dependency only

        swapper = NameSwapper()
    rows: list[dict[str, Any]] = []
    for line, row in source:
        text, target = row.get(spec.text_field), row.get(spec.target_field)
        if not isinstance(text, str) or not isinstance(target, str):
            raise InvalidInputError(
                f"{spec.name} row {line}: expected string fields {spec.text_field!r} and "
                f"{spec.target_field!r}, found {type(text).__name__} and {type(target).__name__}",
                fix="set text_field / target_field in the dataset spec",
            )
        if any(pattern.search(text) for pattern in exclude):
            continue
        for pattern in strip:
            text = pattern.sub("", text)
        label = normalize_label(row.get(spec.label_field), field=f"{spec.name} row {line} {spec.label_field}")
        out: dict[str, Any] = {
            "text": text.strip(),
            "target": target.strip(),
            "label": label,
            "dataset": spec.name,
        }
        aliases = row.get("aliases")
        if isinstance(aliases, list) and aliases and all(isinstance(a, str) and a.strip() for a in aliases):
            out["aliases"] = [a.strip() for a in aliases]  # other names of the target in this text
        mention = row.get(spec.alias_field) if spec.alias_field else None
        if isinstance(mention, str) and _names_the_target(mention, out["target"]):
            out["aliases"] = [*out.get("aliases", []), mention.strip()]
        if isinstance(row.get("kind"), str):
            out["kind"] = row["kind"]  # contrast sets: which kind of tone/stance disagreement
        if swapper is not None:
            out = swapper.swap(out, f"{spec.name}:{line}") or out
        if out["text"] and out["target"]:
            rows.append(out)
    if spec.max_rows is not None and len(rows) > spec.max_rows:
        rng = random.Random(f"{spec.name}:{spec.max_rows}")
        rows = rng.sample(rows, spec.max_rows)
    return rows


def spec_hash(spec: DatasetSpec, root: str) -> str:
    """Content hash of a file source (plus the spec), or the spec alone for hub sources."""
    spec_part = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]
    joined = f"|text:{file_sha256(data_root(root) / spec.text_from.path)}" if spec.text_from else ""
    if spec.path:
        return f"sha256:{file_sha256(spec_path(spec, root))}{joined}|spec:{spec_part}"
    return f"hf:{spec.hf}{joined}|spec:{spec_part}"


RowTransform = Callable[[DatasetSpec, list[dict[str, Any]]], list[dict[str, Any]]]
"""Rewrites one source's rows as they are mixed (``load_mix(transform=...)``)."""


def load_mix(
    specs: list[DatasetSpec],
    data_root: str,
    *,
    transform: RowTransform | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows of every spec in order (each capped at its ``max_rows``) and each source's content
    hash: the training mix of ``slant train`` and the base mix of ``slant retrain``. ``transform``
    may rewrite a source's rows (``slant distill --rehearse`` blends in a teacher's judgement)."""
    rows: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    for spec in specs:
        part = load_rows(spec, data_root)
        if transform is not None:
            part = transform(spec, part)
        log.info("train source %s: %d rows", spec.name, len(part))
        rows.extend(part)
        hashes[spec.name] = spec_hash(spec, data_root)
    return rows, hashes
