"""Options and helpers more than one ``slant`` command shares: each declared once, here."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from model.errors import SlantError

ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model directory or hub id (default: shipped model).")
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="Forward pass: auto (torch on a GPU, else the CPU default), torch, onnx, onnx-int8.",
    ),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="SLANT_DATABASE_URL",
        show_envvar=True,
        help="Database of the label store and the registry index: sqlite:////path/labels.db, a file path, "
        "or postgresql://user:pass@host/db (default: ~/.local/share/slant/labels.db).",
    ),
]
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar="SLANT_REGISTRY",
        show_envvar=True,
        help="Folder of the model versions (default: ~/.local/share/slant/registry).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(exc: SlantError) -> NoReturn:
    """End a command on a :class:`SlantError`: its one-line message (what, and the fix), exit status 2."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2) from None
