"""The Ray engine: the same labelling as a Ray Data pipeline, for clusters and object stores.

    read_parquet / read_json / read_csv (any path Ray reads: local, s3://, gs://, ...)
      -> zip with range(n): the 0-based row number of every row
      -> map_batches(_RayLabeller): one model per actor, ``concurrency=workers``,
         ``num_gpus`` per actor when ``--gpus-per-worker`` > 0, else ``num_cpus``
      -> write_parquet / write_json into the OUTPUT directory (one file per block)

Each actor runs :func:`service.batch.rows.label_batch`, the function the local engine uses, so
both engines write the same rows. Bad rows are collected on the driver into
``OUTPUT.errors.jsonl``. Ray is imported only here, and only when ``--engine ray`` is chosen.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from model.errors import ConfigError, InvalidInputError

from .heads import check_heads, describe_heads, leaning_labels
from .job import LabelJob, LabelSummary, model_identity
from .output import output_schema
from .parts import atomic_write_bytes, dump_jsonl
from .rows import RowOptions, label_batch
from .sources import HfSource, RawRow, detect_input_format

ROW_COL = "__slant_row"
_ERROR_COLS = ("error_code", "error_field", "error_reason")


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray Data, which is not installed",
            field="--engine",
            fix="pip install 'slant[cluster]' (or: pip install 'ray[data]>=2.40'), or use --engine local",
        ) from None
    return ray


def _combined_schema(
    id_is_row: bool, *, bias: bool = False, leaning: list[str] | None = None, kept: tuple[str, ...] = ()
) -> Any:
    import pyarrow as pa

    # Kept fields are strings here: each block is written on its own, so one type cannot be
    # inferred over the whole output as the local engine does.
    schema = output_schema(
        id_is_row=id_is_row, bias=bias, leaning_labels=leaning, kept=[(n, pa.string()) for n in kept]
    )
    for name in _ERROR_COLS:
        schema = schema.append(pa.field(name, pa.string()))
    return schema


class _RayLabeller:
    """A Ray Data actor: loads the model once, labels pyarrow batches with ``label_batch``."""

    def __init__(
        self,
        *,
        model: str | None,
        opts: RowOptions,
        threads: int,
        device: str | None,
        heads: list[str] | None = None,
        backend: str | None = None,
    ) -> None:
        from .local import load_predictor, quiet_worker

        quiet_worker(threads)
        self.predictor = load_predictor(model, backend=backend, device=device, heads=heads)
        self.opts = opts
        found = describe_heads(self.predictor) if opts.bias else []
        if opts.bias:
            check_heads(found, self.predictor.name)
        self.schema = _combined_schema(
            opts.id_field is None, bias=opts.bias, leaning=leaning_labels(found), kept=opts.keep_fields
        )

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        raws = []
        for record in batch.to_pylist():
            row = int(record.pop(ROW_COL))
            raws.append(RawRow(row, record))
        results, errors = label_batch(self.predictor, raws, self.opts)
        rows: list[dict[str, Any]] = list(results)
        for r in rows:
            for name in self.opts.keep_fields:
                value = r.get(name)
                r[name] = value if value is None or isinstance(value, str) else json.dumps(value)
        for e in errors:
            rows.append(
                {
                    "id": e["id"],
                    "row": e["row"],
                    "error_code": e["code"],
                    "error_field": e["field"],
                    "error_reason": e["reason"],
                }
            )
        rows.sort(key=lambda r: r["row"])
        return pa.Table.from_pylist(rows, schema=self.schema)


def _only_results(batch: Any) -> Any:
    import pyarrow.compute as pc

    return batch.filter(pc.is_null(batch["error_code"])).drop_columns(list(_ERROR_COLS))


def _only_errors(batch: Any) -> Any:
    import pyarrow.compute as pc

    kept = batch.filter(pc.is_valid(batch["error_code"]))
    return kept.select(["id", "row", *_ERROR_COLS]).rename_columns(["id", "row", "code", "field", "reason"])


def _filesystem(path: str) -> tuple[Any, str, bool]:
    """(pyarrow filesystem, path inside it, is_local) for a local path or a URI such as s3://b/k."""
    import pyarrow.fs as pafs

    if "://" in path and not path.startswith("file://"):
        fs, inner = pafs.FileSystem.from_uri(path)
        return fs, inner, False
    local = os.path.abspath(path.removeprefix("file://"))
    return pafs.LocalFileSystem(), local, True


def _remote_format(uri: str, given: str | None) -> str:
    """The format of a remote input from ``--input-format`` or its suffix (a prefix has none)."""
    if given:
        return detect_input_format(uri, given)
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    for suffixes, fmt in (((".parquet", ".pq"), "parquet"), ((".jsonl", ".json", ".ndjson"), "jsonl")):
        if name.lower().endswith(suffixes) or name.lower().endswith(tuple(x + ".gz" for x in suffixes)):
            return fmt
    if name.lower().endswith((".csv", ".csv.gz")):
        return "csv"
    raise InvalidInputError(
        f"cannot tell the format of {uri} from its name",
        field="--input-format",
        fix="pass --input-format parquet, jsonl or csv",
    )


def _clear(fs: Any, path: str, *, force: bool, what: str) -> None:
    import pyarrow.fs as pafs

    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        return
    if not force:
        raise InvalidInputError(
            f"{what} {path} already exists",
            field="--output",
            fix="pass --force to overwrite it, or choose another --output",
        )
    if info.type == pafs.FileType.Directory:
        fs.delete_dir(path)
    else:
        fs.delete_file(path)


def _read(ray: Any, input: str, *, fmt: str, columns: list[str], split: str) -> Any:
    if fmt == "parquet":
        return ray.data.read_parquet(input, columns=columns)
    if fmt == "jsonl":
        return ray.data.read_json(input, lines=True).select_columns(columns)
    if fmt == "csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Every column as text, as the csv module reads it locally (ids stay "007", not 7).
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, include_columns=columns
        )
        return ray.data.read_csv(input, convert_options=convert)
    return ray.data.from_huggingface(HfSource(input, columns, split=split).dataset)


def label_with_ray(job: LabelJob) -> LabelSummary:
    """Label a corpus with Ray Data; OUTPUT becomes a directory of Parquet or JSONL files.

    Connects to the cluster named by ``$RAY_ADDRESS`` (or starts a local Ray) unless Ray is
    already initialised. Not resumable chunk by chunk: a failed run is re-run with ``--force``.

    >>> job = LabelJob("s3://b/news.parquet", output="s3://b/stance",  # doctest: +SKIP
    ...                output_format="parquet", opts=RowOptions(), workers=4, gpus_per_worker=1)
    >>> label_with_ray(job)                                            # doctest: +SKIP
    """
    ray = _import_ray()
    t0 = time.perf_counter()
    fmt = (
        detect_input_format(job.input, job.input_format)
        if "://" not in job.input
        else _remote_format(job.input, job.input_format)
    )
    from model.bias import default_heads
    from model.predictor import default_model_path

    # Resolve the default model here: $SLANT_MODEL on the nodes may differ.
    model = job.model if job.model is not None else default_model_path()

    # Likewise $SLANT_HEADS: the actors load the heads the driver was told about.
    heads = [str(Path(h).resolve()) if Path(h).exists() else h for h in default_heads()]
    out = job.output.rstrip("/")
    fs, out_path, is_local = _filesystem(out)
    errors_uri = out + ".errors.jsonl"
    _, errors_path, _ = _filesystem(errors_uri)
    _clear(fs, out_path, force=job.force, what="output")
    _clear(fs, errors_path, force=job.force, what="errors file")

    if not ray.is_initialized():
        ray.init()  # honours RAY_ADDRESS; without it, a local Ray on this machine
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True

    ds = _read_numbered(ray, job, fmt=fmt)
    n = ds.count()
    labelled = _label(ds, job, model=model, heads=heads).materialize()

    # Errors first, then the output: an OUTPUT that exists belongs to a finished run.
    errors = _write_errors(labelled, fs, errors_path, is_local=is_local)
    results = labelled.map_batches(_only_results, batch_format="pyarrow")
    target = out_path + f".tmp-{uuid.uuid4().hex[:8]}" if is_local else out
    if job.output_format == "parquet":
        results.write_parquet(target)
    else:
        results.write_json(target, force_ascii=False)
    if is_local:
        os.replace(target, out_path)

    first = results.take(1)
    loaded = {"name": first[0]["model"], "version": first[0]["version"]} if first else {}
    return LabelSummary(
        rows_read=n,
        labelled=results.count(),
        errors=errors,
        seconds=time.perf_counter() - t0,
        output=out,
        errors_file=errors_uri,
        engine="ray",
        workers=job.workers,
        model=model_identity(model, loaded, backend=job.backend),
    )


def _read_numbered(ray: Any, job: LabelJob, *, fmt: str) -> Any:
    """The input as a materialised dataset with each row's 0-based number in ``ROW_COL``."""
    # The input is read and numbered before the model actors start: actors hold their CPUs (or
    # GPUs) for the whole map, and on a small cluster read tasks queued behind them would wait
    # forever. Materialised blocks spill to disk when the object store fills.
    try:
        ds = _read(ray, job.input, fmt=fmt, columns=job.opts.columns, split=job.split).materialize()
    except Exception as exc:  # Ray wraps reader errors in its own task errors
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise InvalidInputError(
            f"Ray could not read {job.input}: {lines[-1] if lines else type(exc).__name__}",
            field="INPUT",
            fix="Ray reads with Arrow and stops at a malformed line or a column of mixed types; "
            "--engine local reads row by row and lists such rows in the errors file",
        ) from None
    n = ds.count()
    # Row numbers: zip is positional, so row k of the input gets k (the local engine's numbering).
    ds = ds.zip(ray.data.range(n).rename_columns({"id": ROW_COL})).materialize()
    if n and ds.num_blocks() < 2 * job.workers:
        # At least two blocks per actor, or some actors sit idle on a small input.
        ds = ds.repartition(min(n, 2 * job.workers)).materialize()
    return ds


def _label(ds: Any, job: LabelJob, *, model: str, heads: list[str]) -> Any:
    """``ds`` mapped through ``job.workers`` :class:`_RayLabeller` actors (results and errors)."""
    compute: dict[str, Any] = {"concurrency": job.workers}
    if job.gpus_per_worker > 0:
        compute["num_gpus"] = job.gpus_per_worker
    else:
        compute["num_cpus"] = job.cpus_per_worker
    return ds.map_batches(
        _RayLabeller,
        fn_constructor_kwargs={
            "model": model,
            "opts": job.opts,
            "threads": int(job.cpus_per_worker),
            "device": job.device,
            "heads": heads,
            "backend": job.backend,
        },
        batch_size=job.batch_size,
        batch_format="pyarrow",
        **compute,
    )


def _write_errors(labelled: Any, fs: Any, errors_path: str, *, is_local: bool) -> int:
    """Collect the bad rows on the driver and write them, in row order, as OUTPUT.errors.jsonl."""
    errors = labelled.map_batches(_only_errors, batch_format="pyarrow")
    error_rows = [{k: row[k] for k in ("id", "row", "code", "field", "reason")} for row in errors.iter_rows()]
    error_rows.sort(key=lambda r: r["row"])
    data = dump_jsonl(error_rows)
    if is_local:
        atomic_write_bytes(Path(errors_path), data)
    else:
        with fs.open_output_stream(errors_path) as f:
            f.write(data)
    return len(error_rows)
