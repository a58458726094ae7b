"""``slant serve`` (the HTTP API under uvicorn) and ``slant bench`` (its benchmark)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from model.errors import SlantError

from .options import ModelOpt, fail

_REPO = Path(__file__).resolve().parents[2]


def serve(
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1, or $SLANT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000, or $SLANT_PORT).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    backend: Annotated[
        str | None, typer.Option(help="Forward pass: auto, torch, onnx, onnx-int8 (or $SLANT_BACKEND).")
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn (docs at /docs). Other settings come from SLANT_* variables."""
    try:
        run_server(model=model, host=host, port=port, log_level=log_level, backend=backend)
    except SlantError as exc:
        fail(exc)


def run_server(
    *,
    model: str | None = None,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    backend: str | None = None,
) -> None:
    """Run the service in this process until interrupted; arguments override ``SLANT_*`` settings.

    >>> run_server(model="models/default", port=8080)  # doctest: +SKIP
    """
    from model.errors import ConfigError
    from model.loading import preflight
    from model.predictor import default_model_path

    try:
        import uvicorn
        from pydantic import ValidationError

        from service.app import Settings, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the HTTP service needs more packages ({exc.name} is missing)", fix="pip install 'slant[serve]'"
        ) from None
    overrides: dict[str, Any] = {"model": model, "host": host, "port": port, "backend": backend}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            (f"SLANT_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(
            f"invalid service settings: {problems}",
            fix="check the SLANT_* environment variables and the options",
        ) from None
    # A missing or incomplete model directory stops here with its message, not in a lifespan traceback.
    preflight(settings.model or default_model_path())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    level = logging.getLevelName(log_level.upper())
    if isinstance(level, int):
        logging.getLogger("service.app").setLevel(level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


def bench(ctx: typer.Context) -> None:
    """Benchmark the service against a naive pipeline baseline (runs benchmarks/bench_service.py).

    Options are passed through, e.g. `slant bench --concurrency 1,4,16 --articles 32`; see --help there.
    """
    import subprocess

    script = _REPO / "benchmarks" / "bench_service.py"
    if not script.exists():
        typer.echo(f"error: {script} not found: run `slant bench` from a source checkout", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))
