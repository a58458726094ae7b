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
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from model.backends import check_backend
from model.errors import InvalidInputError

from .heads import check_heads, leaning_labels
from .job import LabelJob, LabelSummary, model_identity
from .local import LocalEngine
from .output import detect_output_format, kept_field_types, output_schema, text_fields
from .parts import PartStore, errors_path_for, merge_jsonl, merge_parquet, parts_dir_for
from .rows import RowOptions
from .sources import RawRow, Source, open_source, require_pyarrow

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
    """Raise InvalidInputError for option values or combinations that cannot work.

    The ``--actor`` list itself is parsed (and refused when bad) by :class:`RowOptions`.
    """
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


def label_corpus(
    input: str,
    *,
    output: str,
    text_field: str = "text",
    id_field: str | None = None,
    actors: list[Any] | None = None,
    actors_field: str | None = None,
    date_field: str | None = None,
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
    ``row``, so that ``slant report`` can group by them. ``date_field`` names the column of each
    row's publication date (:func:`model.linking.parse_year`; a bad one sends the row to the errors
    file). ``backend``: every worker's forward pass (default ``$SLANT_BACKEND`` or ``auto``).

    >>> s = label_corpus("news.jsonl", output="stance.parquet", actors=["DNC"])  # doctest: +SKIP
    >>> s.to_json()["labelled"]                                                    # doctest: +SKIP
    """
    limits = {"batch_size": batch_size, "workers": workers, "chunk_size": chunk_size, "evidence": evidence}
    check_options(actors=actors, actors_field=actors_field, **limits)
    backend = check_backend(backend) if backend is not None else None
    opts = RowOptions(
        text_field=text_field,
        id_field=id_field,
        actors=tuple(actors) if actors else None,
        actors_field=actors_field,
        date_field=date_field,
        evidence=evidence,
        bias=bias,
        keep_fields=tuple(keep_fields),
    )
    fmt = detect_output_format(output, output_format)
    if fmt == "parquet":
        require_pyarrow()  # fail before hours of labelling, not at the final merge
    job = LabelJob(
        input,
        output=output,
        output_format=fmt,
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
        gpus_per_worker=gpus_per_worker,
        cpus_per_worker=cpus_per_worker,
    )
    return _engine(engine)(job)


def _engine(name: str) -> Callable[[LabelJob], LabelSummary]:
    if name == "ray":
        from .ray_engine import label_with_ray  # Ray is imported only when it is asked for

        return label_with_ray
    if name != "local":
        raise InvalidInputError(f"unknown engine {name!r}", field="--engine", fix="use local or ray")
    return _label_local


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _label_local(job: LabelJob) -> LabelSummary:
    """Run ``job`` with the local engine: label the chunks not committed yet, then merge them all."""
    t0 = time.perf_counter()
    output = Path(job.output)
    _check_output(output, force=job.force)
    opts = job.opts
    source = open_source(
        job.input,
        columns=opts.columns,
        input_format=job.input_format,
        split=job.split,
        expected=opts.keep_fields,
    )
    store = PartStore(parts_dir_for(output))
    summary = LabelSummary(
        output=str(output), errors_file=str(errors_path_for(output)), engine="local", workers=job.workers
    )
    with LocalEngine(model=job.model, workers=job.workers, backend=job.backend, device=job.device) as engine:
        summary.model = model_identity(job.model, engine.identity(), backend=job.backend)
        heads = engine.heads() if opts.bias else []
        if opts.bias:
            check_heads(heads, summary.model.get("name", ""))
        resumable = store.open(_manifest(source, job, summary.model, heads), force=job.force)
        if resumable:
            log.warning("resuming: %d finished chunks in %s are kept", resumable, store.path)
        bar = _Progress(source, initial=resumable * job.chunk_size, enabled=job.progress)
        try:
            n_chunks = _label_chunks(engine, _Feed(source, store, job, summary), opts, store, summary, bar)
        finally:
            bar.close()
    _merge(store, n_chunks, output, opts=opts, heads=heads, output_format=job.output_format)
    store.remove()
    summary.seconds = time.perf_counter() - t0
    return summary


def _check_output(output: Path, *, force: bool) -> None:
    """Refuse an OUTPUT that exists (without ``force``) or is a directory; create its folder."""
    if output.exists() and not force:
        raise InvalidInputError(
            f"{output} already exists",
            field="--output",
            fix="pass --force to overwrite it, or choose another --output",
        )
    if output.is_dir():
        raise InvalidInputError(f"{output} is a directory", field="--output", fix="name a file")
    output.parent.mkdir(parents=True, exist_ok=True)


def _manifest(
    source: Source, job: LabelJob, model: dict[str, str], heads: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a partial run must match to be resumed: the input, the options, the model (and heads)."""
    manifest = {
        "input": source.fingerprint(),
        "options": job.opts.to_json(),
        "chunk_size": job.chunk_size,
        "model": model,
    }
    if job.opts.bias:
        manifest["heads"] = heads  # other heads ($SLANT_HEADS) would write other bias columns
    return manifest


_Tag = tuple[int, bool, int]
"""(chunk index, whether this is the chunk's last batch, rows in the batch)."""


class _Feed:
    """The batches still to label, each tagged; a chunk committed by an earlier run is counted and skipped.

    ``chunks`` is the number of chunks read so far (all of the input once iterated).
    """

    def __init__(self, source: Source, store: PartStore, job: LabelJob, summary: LabelSummary) -> None:
        self.source, self.store, self.summary = source, store, summary
        self.chunk_size, self.batch_size = job.chunk_size, job.batch_size
        self.chunks = 0

    def __iter__(self) -> Iterator[tuple[_Tag, list[RawRow]]]:
        summary, store = self.summary, self.store
        for index, chunk in enumerate(_chunks(self.source, self.chunk_size)):
            self.chunks = index + 1
            summary.rows_read += len(chunk)
            if store.is_committed(index):
                rows, errs = store.counts(index)
                if rows + errs == len(chunk):
                    summary.resumed_rows += len(chunk)
                    summary.labelled += rows
                    summary.errors += errs
                    continue
                log.warning("chunk %d in %s is incomplete; labelling it again", index, store.path)
            starts = range(0, len(chunk), self.batch_size)
            for k, s in enumerate(starts):
                batch = chunk[s : s + self.batch_size]
                yield (index, k == len(starts) - 1, len(batch)), batch


def _label_chunks(
    engine: LocalEngine,
    feed: _Feed,
    opts: RowOptions,
    store: PartStore,
    summary: LabelSummary,
    bar: _Progress,
) -> int:
    """Label the feed's batches, committing each chunk once its last batch is back; returns the chunks."""
    pending: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for (index, last, n), (rows, errs) in engine.map(feed, opts):
        acc = pending.setdefault(index, ([], []))
        acc[0].extend(rows)
        acc[1].extend(errs)
        bar.update(n)
        if last:
            rows_all, errs_all = pending.pop(index)
            store.commit(index, rows_all, errs_all)
            summary.labelled += len(rows_all)
            summary.errors += len(errs_all)
    return feed.chunks


def _merge(
    store: PartStore,
    n_chunks: int,
    output: Path,
    *,
    opts: RowOptions,
    heads: list[dict[str, Any]],
    output_format: str,
) -> None:
    """Merge the committed chunks into OUTPUT and OUTPUT.errors.jsonl (each atomically)."""
    merge_jsonl(store.error_files(n_chunks), errors_path_for(output))
    parts = store.row_files(n_chunks)
    if output_format != "parquet":
        merge_jsonl(parts, output)
        return
    kept = kept_field_types(parts, opts.keep_fields)
    schema = output_schema(
        id_is_row=opts.id_field is None, bias=opts.bias, leaning_labels=leaning_labels(heads), kept=kept
    )
    merge_parquet(parts, output, schema, text_fields=text_fields(kept))


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
