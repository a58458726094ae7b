"""``slant label``: a thin typer wrapper over :func:`service.batch.label_corpus`.

It imports nothing heavy at module level, so ``slant --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from model.errors import SlantError

from .options import ModelOpt, fail


def label(
    input: Annotated[
        str,
        typer.Argument(
            help="JSONL, CSV or Parquet file, a `datasets` save_to_disk directory or a dataset name "
            "(with --engine ray: any path Ray reads, e.g. s3://bucket/news.parquet).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output .jsonl or .parquet (Ray: a directory).")
    ],
    text_field: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    id_field: Annotated[
        str | None, typer.Option(help="Column holding the row id (default: the 0-based row number).")
    ] = None,
    actor: Annotated[
        list[str] | None,
        typer.Option("--actor", "-a", help="Actor for every row; repeat for several."),
    ] = None,
    actors_field: Annotated[
        str | None,
        typer.Option(help="Column with each row's actors: a list or a ';'-separated string."),
    ] = None,
    date_field: Annotated[
        str | None,
        typer.Option(
            help="Column with each row's publication date: an ISO date or date and time, or a year "
            "(default: the year the text names most). It decides who titles such as 'the Speaker' "
            "mean; a row whose date does not parse goes to the errors file."
        ),
    ] = None,
    model: ModelOpt = None,
    evidence: Annotated[int, typer.Option(help="Evidence sentences per actor.")] = 3,
    batch_size: Annotated[int, typer.Option(help="Rows per predict call (per worker task).")] = 32,
    workers: Annotated[int, typer.Option(help="Worker processes (local) or model actors (ray).")] = 1,
    chunk_size: Annotated[int, typer.Option(help="Rows per committed chunk (the unit of resume).")] = 1000,
    format: Annotated[
        str | None, typer.Option("--format", help="Output format: jsonl or parquet (default: from --output).")
    ] = None,
    input_format: Annotated[
        str | None, typer.Option(help="Input format: jsonl, csv, parquet or hf (default: from INPUT).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split of a Hugging Face dataset.")] = "train",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing OUTPUT; discard a mismatched partial run.")
    ] = False,
    engine: Annotated[str, typer.Option(help="local (resumable) or ray (Ray Data, clusters).")] = "local",
    gpus_per_worker: Annotated[float, typer.Option(help="Ray: GPUs per model actor (0: CPU).")] = 0.0,
    cpus_per_worker: Annotated[float, typer.Option(help="Ray: CPUs per model actor.")] = 1.0,
    backend: Annotated[
        str | None,
        typer.Option(help="Forward pass: auto, torch, onnx, onnx-int8 (default $SLANT_BACKEND or auto)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="torch device, e.g. cpu or cuda (default: cuda when available).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on a terminal, log lines otherwise.")] = True,
    bias: Annotated[
        bool,
        typer.Option(
            help="Add each row's `bias` (leaning, hyperpartisan, loaded language) from the model's bias "
            "heads and $SLANT_HEADS; off by default, so outputs keep their columns."
        ),
    ] = False,
    keep_fields: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-fields",
            help="Input columns to copy into every output row (after `row`), comma-separated or "
            "repeated, e.g. --keep-fields source,date: what `slant report` groups by.",
        ),
    ] = None,
) -> None:
    """Label a whole corpus: one JSON/Parquet row per input row, bad rows to OUTPUT.errors.jsonl.

    Resumable: re-run the same command after a crash and finished chunks are kept. Prints a JSON
    summary (rows read, labelled, errors, seconds, rows/s, output paths) at the end.
    """
    from service.batch import label_corpus

    try:
        summary = label_corpus(
            input,
            output=output,
            text_field=text_field,
            id_field=id_field,
            actors=actor or None,
            actors_field=actors_field,
            date_field=date_field,
            model=model,
            evidence=evidence,
            batch_size=batch_size,
            workers=workers,
            chunk_size=chunk_size,
            output_format=format,
            input_format=input_format,
            split=split,
            force=force,
            engine=engine,  # type: ignore[arg-type]
            gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker,
            backend=backend,
            device=device,
            progress=progress,
            bias=bias,
            keep_fields=[name.strip() for value in keep_fields or [] for name in value.split(",")],
        )
    except SlantError as exc:
        fail(exc)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished chunks are kept; run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    typer.echo(json.dumps(summary.to_json(), indent=2))
