"""The ``slant`` typer app: its commands in the order ``--help`` lists them, the logging each one
sets up, and file system errors as one line."""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from . import label, labels, predict, registry, report, serve, train

_OS_FIXES = {
    errno.EROFS: "the file system is read-only: write to another folder",
    errno.ENOSPC: "free some space on that disk, or write somewhere else; then run the same command again "
    "(slant label keeps its finished chunks and resumes)",
    errno.EDQUOT: "your disk quota is used up: free some space, or write somewhere else; then run the "
    "same command again",
    errno.EACCES: "give yourself access to it, or use another path",
    errno.EPERM: "give yourself access to it, or use another path",
    errno.ENOENT: "check the path: the file or the folder above it does not exist",
    errno.ENOTDIR: "check the path: a part of it is a file, not a folder",
    errno.EISDIR: "name a file, not a folder",
}


def os_error_message(exc: OSError) -> str:
    """One line for a file system error: which path, what happened, and the fix.

    >>> os_error_message(OSError(errno.EROFS, "Read-only file system", "/data/out.jsonl"))
    '/data/out.jsonl: Read-only file system. Fix: the file system is read-only: write to another folder'
    """
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f"{' -> '.join(paths)}: " if paths else ""
    fix = _OS_FIXES.get(exc.errno or 0, "check the path and that it can be read and written")
    return f"{where}{exc.strerror or exc}. Fix: {fix}"


class _Commands(TyperGroup):
    """Every command of ``slant``: a file system error is one line and exit status 2, not a traceback.

    A read-only output folder or a full disk can strike any command that writes; the commands
    themselves turn their own errors (SlantError) into one line the same way.
    """

    def invoke(self, ctx: Any) -> Any:  # typer.Context; typer vendors its own click
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (slant ... | head): click ends quietly
            logging.getLogger("slant").debug("file system error", exc_info=True)
            typer.echo(f"error: {os_error_message(exc)}", err=True)
            raise typer.Exit(2) from None


def setup_logging(verbose: bool) -> None:
    """INFO logs (and Transformers' own) when ``verbose``; else warnings only and no Hugging Face
    progress bars."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def _logged(command: Callable[..., Any], verbose: bool) -> Callable[..., Any]:
    """``command``, setting up logging first: once its options are parsed, so ``--help`` and a usage
    error never wait for Transformers to import."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        setup_logging(verbose)
        return command(*args, **kwargs)

    return run


# Each command and its logging: True (INFO: the long training runs), False (warnings only), None (as
# it is: `serve` sets up its own once the settings are checked, `bench` runs a script, `report`
# loads no Transformers).
_COMMANDS: list[tuple[str, Callable[..., Any], bool | None]] = [
    ("predict", predict.predict, False),
    ("demo", predict.demo, False),
    ("train", train.train, True),
    ("distill", train.distill, True),
    ("evaluate", train.evaluate, False),
    ("fit-bias", train.fit_bias_command, True),
    ("serve", serve.serve, None),
    ("export-onnx", predict.export_onnx, False),
    ("bench", serve.bench, None),
    ("label", label.label, False),
    ("retrain", registry.retrain_command, False),
    ("report", report.report, None),
]
# `slant bench` hands its options to benchmarks/bench_service.py.
_CONTEXT = {"bench": {"allow_extra_args": True, "ignore_unknown_options": True}}

app = typer.Typer(
    cls=_Commands,
    help="Stance toward named actors in news articles, tweets and sentences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for _name, _command, _verbose in _COMMANDS:
    app.command(_name, context_settings=_CONTEXT.get(_name))(
        _command if _verbose is None else _logged(_command, _verbose)
    )
app.add_typer(labels.labels, name="labels")
app.add_typer(registry.models, name="models")


def main() -> None:  # pragma: no cover
    app()
