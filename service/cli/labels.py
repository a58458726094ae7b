"""``slant labels``: import label files into the label store and export it (thin typer wrappers
over ``training.store``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from model.errors import SlantError

from .options import DatabaseOpt, fail

labels = typer.Typer(
    help="The label store (SQLite by default, PostgreSQL via SLANT_DATABASE_URL): import and export labels.",
    no_args_is_help=True,
)

FormatOpt = Annotated[
    str | None, typer.Option("--format", help="jsonl or csv (default: from the file name, else jsonl).")
]
_SHOWN = 50  # bad rows and conflicts printed one per line; the rest are counted


@labels.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL or CSV with text, target, label (annotator, source_ref); task, or a leaning / "
            "hyperpartisan field, for bias labels."
        ),
    ],
    database: DatabaseOpt = None,
    annotator: Annotated[
        str | None, typer.Option(help="Annotator for rows without an 'annotator' column.")
    ] = None,
    fmt: FormatOpt = None,
    text_field: str = "text",
    target_field: str = "target",
    label_field: str = "label",
    dry_run: Annotated[bool, typer.Option(help="Check and report, store nothing.")] = False,
) -> None:
    """Import labels: bad rows are reported with their line numbers and skipped; the rest are stored
    500 per transaction, so the service's label writes go on meanwhile. An import cut short is
    resumed by running it again (what it stored counts as duplicates). Exit status 0, or 1 when
    some rows were bad, 2 when nothing could be done.

    A row equal to the current label of its text and actor is a duplicate (not stored again); a
    different label is a conflict: stored, it becomes the current label.

    Bias labels (of the whole text, no target): a `task` column (leaning, hyperpartisan,
    loaded_language) with the label in `label`, or a `leaning` (left/center/right) or
    `hyperpartisan` (true/false, hyperpartisan/not_hyperpartisan) field in place of `label`.
    """
    from training.store import LabelStore, import_file

    try:
        with LabelStore.open(database) as store:
            result = import_file(
                store,
                file,
                fmt=fmt,
                text_field=text_field,
                target_field=target_field,
                label_field=label_field,
                annotator=annotator,
                dry_run=dry_run,
            )
    except SlantError as exc:
        fail(exc)
    for bad in result.bad[:_SHOWN]:
        typer.echo(f"{file}:{bad.line}: bad row, not stored: {bad.message}", err=True)
    if len(result.bad) > _SHOWN:
        typer.echo(f"... and {len(result.bad) - _SHOWN} more bad rows", err=True)
    conflicts = [
        (line, o)
        for line, o in zip(result.lines, result.report.outcomes if result.report else [], strict=True)
        if o.status == "conflict"
    ]
    for line, o in conflicts[:_SHOWN]:
        about = repr(o.actor) if o.task == "stance" else o.task
        typer.echo(
            f"{file}:{line}: conflict: {about} was {o.previous_label} (label id {o.previous_label_id}), "
            f"now {o.label}",
            err=True,
        )
    if len(conflicts) > _SHOWN:
        typer.echo(f"... and {len(conflicts) - _SHOWN} more conflicts", err=True)
    typer.echo(result.summary() + (" [dry run: nothing stored]" if dry_run else ""))
    if result.bad:
        raise typer.Exit(1)


@labels.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: standard output).")
    ] = None,
    fmt: FormatOpt = None,
    history: Annotated[
        bool, typer.Option("--all", help="Every label, superseded ones too (re-importing them conflicts).")
    ] = False,
    task: Annotated[
        str | None,
        typer.Option(help="Only this task's labels: stance, leaning, hyperpartisan, loaded_language."),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Write the current label of each (text, task, actor) as JSONL or CSV: text, target, label, task,
    annotator, source, created_at, source_ref (target is empty for bias labels). The file can be
    imported again or used as a training dataset (`--task stance`, or `where: {task: stance}`)."""
    from model.labels import check_task
    from training.store import LabelStore, export_labels
    from training.store.files import file_format

    try:
        kind = file_format(output or Path("-"), fmt)
        only = check_task(task, field="--task") if task is not None else None
        with LabelStore.open(database) as store:
            if output is None:
                n = export_labels(store, sys.stdout, fmt=kind, current_only=not history, task=only)
            else:
                tmp = output.with_name(output.name + ".part")
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    n = export_labels(store, fh, fmt=kind, current_only=not history, task=only)
                tmp.replace(output)
    except SlantError as exc:
        fail(exc)
    except OSError as exc:
        typer.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"exported {n} labels" + (f" to {output}" if output else ""), err=True)
