"""``label_corpus``: validate options, then run the local engine (resumable) or the Ray engine.

The local run reads the input as a stream of chunks of ``chunk_size`` rows. A chunk already
committed in ``OUTPUT.parts/`` by an earlier, interrupted run with the same input and options is
skipped; the others are cut into batches of ``batch_size`` rows, labelled in order (in-process or
by worker processes) and committed. At the end the chunks are merged into OUTPUT and
``OUTPUT.errors.jsonl`` atomically and the parts directory is removed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from model.actors import parse_actors
from model.backends import check_backend
from model.errors import InvalidInputError

from .io import (
    RawRow,
    Source,
    detect_output_format,
    kept_field_types,
    merge_jsonl,
    merge_parquet,
    open_source,
    output_schema,
    pa_string,
    require_pyarrow,
)
from .local import LocalEngine, check_heads, leaning_labels
from .parts import PartStore, errors_path_for, parts_dir_for
from .rows import RowOptions, check_keep_fields
from .summary import LabelSummary, model_identity

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]


def check_options(
    *,
    actors: list[Any] | None,
    actors_field: str | None,
    batch_size: int,
    workers: int,
    chunk_size: int,
    evidence: int,
) -> None:
    """Raise InvalidInputError for option values or combinations that cannot work."""
    if actors and actors_field:
        raise InvalidInputError(
            "--actor and --actors-field were both given",
            field="--actor",
            fix="use --actor for one list for every row, or --actors-field for a per-row column",
        )
    for name, value, low in (
        ("--batch-size", batch_size, 1),
        ("--workers", workers, 1),
        ("--chunk-size", chunk_size, 1),
        ("--evidence", evidence, 0),
    ):
        if value < low:
            raise InvalidInputError(f"{name} is {value}; it must be at least {low}", field=name)
    if actors:
        parse_actors(list(actors), field="--actor")


def label_corpus(
    input: str,
    *,
    output: str,
    text_field: str = "text",
    id_field: str | None = None,
    actors: list[Any] | None = None,
    actors_field: str | None = None,
    model: str | None = None,
    evidence: int = 3,
    batch_size: int = 32,
    workers: int = 1,
    chunk_size: int = 1000,
    output_format: str | None = None,
    input_format: str | None = None,
    split: str = "train",
    force: bool = False,
    engine: Engine = "local",
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    backend: str | None = None,
    device: str | None = None,
    progress: bool = True,
    bias: bool = False,
    keep_fields: list[str] | tuple[str, ...] = (),
) -> LabelSummary:
    """Label every row of a corpus and write one output row per good input row, in input order.

    Bad rows go to ``OUTPUT.errors.jsonl``. A local run killed part-way resumes from its last
    committed chunk when re-run with the same input and options. With ``bias`` every row also
    gets ``bias`` from the model's bias heads (the model's ``bias/`` and ``$SLANT_HEADS``).
    ``keep_fields`` names input columns (an outlet, a date) copied into every output row, after
    ``row``, so that ``slant report`` can group by them. ``backend`` is the forward pass of every
    worker (default: ``$SLANT_BACKEND`` or ``auto``, see :mod:`model.backends`).

    >>> s = label_corpus("news.jsonl", output="stance.parquet", actors=["DNC"])  # doctest: +SKIP
    >>> s.to_json()["labelled"]                                                    # doctest: +SKIP
    """
    if backend is not None:
        backend = check_backend(backend)
    check_options(
        actors=actors,
        actors_field=actors_field,
        batch_size=batch_size,
        workers=workers,
        chunk_size=chunk_size,
        evidence=evidence,
    )
    opts = RowOptions(
        text_field=text_field,
        id_field=id_field,
        actors=tuple(actors) if actors else None,
        actors_field=actors_field,
        evidence=evidence,
        bias=bias,
        keep_fields=check_keep_fields(keep_fields),
    )
    fmt = detect_output_format(output, output_format)
    if fmt == "parquet":
        require_pyarrow()  # fail before hours of labelling, not at the final merge
    if engine == "ray":
        from .ray_engine import label_with_ray

        return label_with_ray(
            input,
            output=output,
            opts=opts,
            model=model,
            output_format=fmt,
            input_format=input_format,
            split=split,
            batch_size=batch_size,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker,
            backend=backend,
            device=device,
            force=force,
        )
    if engine != "local":
        raise InvalidInputError(f"unknown engine {engine!r}", field="--engine", fix="use local or ray")
    return _label_local(
        input,
        output=Path(output),
        fmt=fmt,
        opts=opts,
        model=model,
        input_format=input_format,
        split=split,
        batch_size=batch_size,
        workers=workers,
        chunk_size=chunk_size,
        force=force,
        backend=backend,
        device=device,
        progress=progress,
    )


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _label_local(
    input: str,
    *,
    output: Path,
    fmt: str,
    opts: RowOptions,
    model: str | None,
    input_format: str | None,
    split: str,
    batch_size: int,
    workers: int,
    chunk_size: int,
    force: bool,
    backend: str | None,
    device: str | None,
    progress: bool,
) -> LabelSummary:
    t0 = time.perf_counter()
    errors_path = errors_path_for(output)
    if output.exists() and not force:
        raise InvalidInputError(
            f"{output} already exists",
            field="--output",
            fix="pass --force to overwrite it, or choose another --output",
        )
    if output.is_dir():
        raise InvalidInputError(f"{output} is a directory", field="--output", fix="name a file")
    output.parent.mkdir(parents=True, exist_ok=True)
    source = open_source(
        input, columns=opts.columns, input_format=input_format, split=split, expected=opts.keep_fields
    )
    store = PartStore(parts_dir_for(output))
    summary = LabelSummary(output=str(output), errors_file=str(errors_path), engine="local", workers=workers)

    with LocalEngine(model=model, workers=workers, backend=backend, device=device) as engine:
        summary.model = model_identity(model, engine.identity(), backend=backend)
        heads = engine.heads() if opts.bias else []
        if opts.bias:
            check_heads(heads, summary.model.get("name", ""))
        manifest = {
            "input": source.fingerprint(),
            "options": opts.to_json(),
            "chunk_size": chunk_size,
            "model": summary.model,
        }
        if opts.bias:
            manifest["heads"] = heads  # other heads ($SLANT_HEADS) would write other bias columns
        resumable = store.open(manifest, force=force)
        if resumable:
            log.warning("resuming: %d finished chunks in %s are kept", resumable, store.path)
        bar = _Progress(source, initial=resumable * chunk_size, enabled=progress)
        pending: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        n_chunks = 0

        def tagged() -> Iterator[tuple[tuple[int, bool, int], list[RawRow]]]:
            nonlocal n_chunks
            for index, chunk in enumerate(_chunks(source, chunk_size)):
                n_chunks = index + 1
                summary.rows_read += len(chunk)
                if store.is_committed(index):
                    rows, errs = store.counts(index)
                    if rows + errs == len(chunk):
                        summary.resumed_rows += len(chunk)
                        summary.labelled += rows
                        summary.errors += errs
                        continue
                    log.warning("chunk %d in %s is incomplete; labelling it again", index, store.path)
                starts = range(0, len(chunk), batch_size)
                for k, s in enumerate(starts):
                    batch = chunk[s : s + batch_size]
                    yield (index, k == len(starts) - 1, len(batch)), batch

        try:
            for (index, last, n), (rows, errs) in engine.map(tagged(), opts):
                acc = pending.setdefault(index, ([], []))
                acc[0].extend(rows)
                acc[1].extend(errs)
                bar.update(n)
                if last:
                    rows_all, errs_all = pending.pop(index)
                    commit_chunk(store, index, rows_all, errs_all)
                    summary.labelled += len(rows_all)
                    summary.errors += len(errs_all)
        finally:
            bar.close()

    id_is_row = opts.id_field is None
    merge_jsonl(store.error_files(n_chunks), errors_path)
    if fmt == "parquet":
        parts = store.row_files(n_chunks)
        kept = kept_field_types(parts, opts.keep_fields)
        schema = output_schema(
            id_is_row=id_is_row, bias=opts.bias, leaning_labels=leaning_labels(heads), kept=kept
        )
        merge_parquet(parts, output, schema, text_fields=[n for n, t in kept if t == pa_string()])
    else:
        merge_jsonl(store.row_files(n_chunks), output)
    store.remove()
    summary.seconds = time.perf_counter() - t0
    return summary


def commit_chunk(
    store: PartStore, index: int, rows: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> None:
    """Commit one finished chunk (a seam the resume tests use to simulate a crash)."""
    store.commit(index, rows, errors)


class _Progress:
    """A tqdm bar (rows, rows/s, ETA) on a terminal; a plain line every ``every`` seconds otherwise."""

    def __init__(self, source: Source, *, initial: int, enabled: bool, every: float = 10.0) -> None:
        self.source = source
        self.position = initial
        self.done = 0
        self.every = every
        self.t0 = time.monotonic()
        self.last = self.t0
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=source.total_rows,
                initial=initial,
                unit="rows",
                desc="labelling",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def _estimated_total(self) -> int | None:
        if self.source.total_rows is not None:
            return self.source.total_rows
        frac = self.source.fraction()
        if frac and frac > 0.001:
            return max(self.position, int(self.position / frac))
        return None

    def update(self, n: int) -> None:
        self.position += n
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            if self.source.total_rows is None:
                self.bar.total = self._estimated_total()
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.t0, 1e-9)
        total = self._estimated_total()
        if total:
            left = max(0, total - self.position) / rate if rate > 0 else float("inf")
            eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left != float("inf") else "?"
            where = f"{self.position:,}/{'~' if self.source.total_rows is None else ''}{total:,} rows"
            return f"slant label: {where} ({100 * self.position / total:.0f}%), {rate:.1f} rows/s, ETA {eta}"
        return f"slant label: {self.position:,} rows, {rate:.1f} rows/s"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
