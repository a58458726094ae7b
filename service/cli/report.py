"""The ``slant report`` typer command: a thin wrapper over :func:`training.report.build`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from model.errors import SlantError

from .options import fail


def report(
    labelled: Annotated[
        str,
        typer.Argument(
            help="What `slant label` wrote: a .jsonl or .parquet file (or a folder of them).",
            show_default=False,
        ),
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="Folder to write the report into.")],
    by: Annotated[
        str | None,
        typer.Option(
            help="Column to group by: one kept with `slant label --keep-fields` (source, outlet, ...), "
            "or `leaning` (the model's leaning, from `slant label --bias`). Default: no groups."
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Date column for the over-time view (ISO 8601 dates).")
    ] = None,
    freq: Annotated[str, typer.Option(help="Over-time periods: W (weeks) or M (months).")] = "W",
    actors: Annotated[
        list[str] | None,
        typer.Option(
            "--actors",
            "-a",
            help="Actor to report (canonical name); repeat. Default: the 12 scored most often.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model directory that labelled the file, for its dev ECE "
            "(default: the shipped model, when the labels are its own).",
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws per interval.")] = 1000,
    min_articles: Annotated[
        int, typer.Option(help="Fewest articles in a period to draw it (else a gap).")
    ] = 5,
    low_margin: Annotated[
        float, typer.Option(help="A label is low-margin when its top two probabilities are closer than this.")
    ] = 0.2,
    max_groups: Annotated[
        int, typer.Option(help="Groups drawn per figure (the largest; tables list all).")
    ] = 20,
    max_lines: Annotated[
        int, typer.Option(help="Groups drawn over time beside all articles (the largest).")
    ] = 5,
    skip_bad_dates: Annotated[
        bool,
        typer.Option("--skip-bad-dates", help="Leave rows with unreadable dates out of the over-time view."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing report folder.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bar (rate, ETA) while reading.")] = True,
) -> None:
    """Report on labelled articles: stance toward each actor by group and over time, as a static page.

    Writes OUTPUT/index.html (self-contained: opens from a file, offline), figures/ (PNG, SVG) and
    aggregates/ (tidy CSV and Parquet). Prints a JSON summary.
    """
    from training.report import build

    try:
        summary = build(
            labelled,
            out=output,
            by=by,
            time_column=time,
            freq=freq,
            actors=actors,
            model=model,
            bootstrap=bootstrap,
            min_articles=min_articles,
            low_margin=low_margin,
            max_groups=max_groups,
            max_lines=max_lines,
            skip_bad_dates=skip_bad_dates,
            seed=seed,
            force=force,
            progress=progress,
        )
    except SlantError as exc:
        fail(exc)
    typer.echo(json.dumps({k: v for k, v in summary.to_json().items() if k != "files"}, indent=2))
