"""``slant predict``, ``slant demo`` and ``slant export-onnx``: the model at the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from model.errors import SlantError

from .options import BackendOpt, ModelOpt, fail

DEMO_ARTICLE = Path(__file__).parent.parent / "demo_article.txt"


def predict(
    text: Annotated[
        str | None, typer.Argument(help="Text to label; '-' or nothing reads standard input.")
    ] = None,
    actor: Annotated[
        list[str] | None, typer.Option("--actor", "-a", help="Actor name; repeat for several.")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the text from a file.")] = None,
    model: ModelOpt = None,
    evidence: Annotated[int, typer.Option(help="Evidence sentences per actor.")] = 3,
    backend: BackendOpt = "auto",
) -> None:
    """Print the stance of one text toward each actor (discovered when no --actor is given), as JSON."""
    try:
        raw: str | bytes
        if file is not None:
            raw = file.read_bytes()
        elif text is None or text == "-":
            raw = sys.stdin.buffer.read()
        else:
            raw = text
        typer.echo(
            json.dumps(
                predict_text(raw, actors=actor or None, model=model, evidence=evidence, backend=backend),
                indent=2,
            )
        )
    except SlantError as exc:
        fail(exc)


def predict_text(
    text: str | bytes,
    *,
    actors: list[Any] | None = None,
    model: str | None = None,
    evidence: int = 3,
    backend: str = "auto",
) -> dict[str, Any]:
    """Stance of one text as a JSON-ready dict (model name, version, actor results).

    >>> out = predict_text("The DNC rigged it, says Sanders.", actors=["DNC"])  # doctest: +SKIP
    >>> out["actors"][0]["label"]  # doctest: +SKIP
    'against'
    """
    from model import StancePredictor

    predictor = StancePredictor.load(model, backend=backend)
    results = predictor.predict([text], actors, evidence=evidence)[0]
    return {"model": predictor.name, "version": predictor.version, "actors": [r.to_dict() for r in results]}


def demo(model: ModelOpt = None, backend: BackendOpt = "auto") -> None:
    """Label the bundled sample article and print a short table."""
    try:
        text = DEMO_ARTICLE.read_text(encoding="utf-8")
        out = predict_text(text, model=model, evidence=1, backend=backend)
    except SlantError as exc:
        fail(exc)
    typer.echo(
        f"model: {out['model']} v{out['version']}   "
        f"article: {DEMO_ARTICLE.name} ({len(text.split())} words)\n"
    )
    typer.echo(f"{'actor':32} {'stance':8} {'against':>8} {'neutral':>8} {'favor':>8} {'mentions':>8}")
    for r in out["actors"]:
        p = r["probabilities"] or {}
        typer.echo(
            f"{r['actor'][:32]:32} {str(r['label']):8} {p.get('against', 0):8.2f} {p.get('neutral', 0):8.2f} "
            f"{p.get('favor', 0):8.2f} {r['mentions']:8d}"
        )
        for e in r["evidence"]:
            typer.echo(f"    evidence [{e['start']}:{e['end']}] {e['label']}: {e['text'][:110]}")


def export_onnx(
    model: ModelOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory for model.onnx and model-int8.onnx.")
    ] = None,
) -> None:
    """Export a model to ONNX (fp32 and int8) ahead of time; by default into the backend cache."""
    from model import StancePredictor
    from model.backends import export_onnx as export
    from model.backends import onnx_cache_dir

    try:
        # The export is the encoder and its classifier alone: no bias head is read, so a head of an
        # older encoder in the model's bias/ (which refuses to load) does not stop it.
        predictor = StancePredictor.load(model, backend="torch", device="cpu", with_heads=False)
        target = output or onnx_cache_dir(predictor.encoder_hash)
        path = export(predictor.model, predictor.tokenizer, target, quantize=True)
    except SlantError as exc:
        fail(exc)
    typer.echo(f"{path.parent}: model.onnx, model-int8.onnx (use with --backend onnx or onnx-int8)")
