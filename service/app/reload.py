"""Hot swap: serve the registry's promoted model version without dropping a request.

The new model is loaded and warmed up beside the serving one on a worker thread (the event loop
keeps answering); then, on the event loop, the app state switches to it in one step (the state owns
the serving predictor; the batcher reads it there for each batch).
Batches formed after the switch use the new model; a batch already running finishes on the old one,
which is freed when it ends. A version that fails to load or warm up is reported and the old
model keeps serving.

Triggers: ``POST /v1/models/reload`` (admin) and, with ``SLANT_RELOAD_SECONDS`` > 0, a background
poll of the registry's promoted pointer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model import StancePredictor
from model.errors import SlantError
from model.predictor import default_model_path
from training.registry import ModelRegistry, ModelVersion

from .errors import ReloadFailedError
from .label_store import StoreHolder
from .state import ServiceState

log = logging.getLogger("service.app")

_WARMUP_ARTICLE = Path(__file__).resolve().parent.parent / "demo_article.txt"
_WARMUP_SENTENCE = "Bernie Sanders is right about wages."
_WARMUP_ACTORS = ("Bernie Sanders", "DNC")


def _registry(state: ServiceState, holder: StoreHolder) -> ModelRegistry:
    # The registry's index is in the label store's database; the holder keeps one engine open.
    return ModelRegistry(holder.get().engine, state.settings.registry)


def _default_model(state: ServiceState) -> str:
    return state.settings.model or default_model_path()


def startup_versions(state: ServiceState) -> list[ModelVersion]:
    """The registry versions to try at start-up, when no model is configured: the promoted one, then
    those promoted before it, most recent first. Empty when the registry is empty, absent or
    unreachable (then the shipped model serves, with a warning)."""
    s = state.settings
    try:
        promoted = ModelRegistry.peek_promoted(s.database_url, s.registry)
        if promoted is None:
            return []
        with ModelRegistry.open(s.database_url, s.registry) as registry:
            earlier = [v for v in registry.versions() if v.status != "promoted" and v.promoted_at is not None]
    except Exception as exc:
        log.warning("cannot read the model registry (%s); serving %s", exc, default_model_path())
        return []
    earlier.sort(key=lambda v: v.promoted_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return [promoted, *earlier]


def load_startup_model(state: ServiceState) -> tuple[StancePredictor, str, str | None]:
    """Load the model to serve at start-up (blocking): ``(predictor, path, registry version)``.

    ``SLANT_MODEL`` when set; else the registry's promoted version, or, when that one does not load
    (a bad version was promoted), the last version promoted before it that does, loudly: a warning
    in the log and a ``model_fallback`` notice in ``GET /v1/models`` until the promoted version
    serves. Nothing in the registry: the shipped model. A model that cannot be loaded stops the
    server with the loader's message.
    """
    s = state.settings
    candidates = [] if s.model else startup_versions(state)
    if not candidates:
        source = s.model or default_model_path()
        return _load(source, state), source, None
    promoted, failures = candidates[0], []  # "version (why)" of each that did not load
    for version in candidates:
        try:
            predictor = _load(version.path, state)
        except Exception as exc:
            reason = exc.message if isinstance(exc, SlantError) else f"{type(exc).__name__}: {exc}"
            failures.append(f"{version.version} does not load ({reason})")
            log.warning("model version %s from %s does not load: %s", version.version, version.path, reason)
            continue
        if version is not promoted:
            state.model_notice = (
                f"the promoted model version {failures[0]}; serving "
                f"{version.version}, the last version promoted before it that loads"
            )
            log.warning(
                "%s. Fix or roll back the registry (`slant models rollback`), then POST /v1/models/reload",
                state.model_notice,
            )
        return predictor, version.path, version.version
    raise ReloadFailedError(
        f"no model version of the registry loads: {'; '.join(failures)}",
        fix="fix or roll back the registry (`slant models rollback`, `slant models promote VERSION`), "
        "or serve a model directory with SLANT_MODEL",
    )


def _load(path: str, state: ServiceState) -> StancePredictor:
    s = state.settings
    return StancePredictor.load(
        path, device=s.device, backend=s.backend, heads=s.heads, skip_stale_heads=True
    )


def load_and_warm(path: str, state: ServiceState) -> StancePredictor:
    """Load a model with the service's device and backend and warm it up for a hot swap (blocking;
    on a worker thread, beside the serving model)."""
    # The same extra heads as at start-up (SLANT_HEADS); a head fitted on another encoder is
    # refused, so a version they do not fit fails to load and the old model keeps serving.
    predictor = _load(path, state)
    warm_up(predictor, spacy=False)
    return predictor


def warm_up(predictor: StancePredictor, *, spacy: bool) -> None:
    """Run a model once before it serves (blocking): the service's one warm-up, at start-up and
    before a hot swap, on the demo article and a short sentence.

    With ``spacy`` (the first model, at start-up, on the inference thread): one real prediction,
    through spaCy, the tokenizer, both the windowed and the whole-text paths, and the bias heads'
    pass when the model has heads. Without (a model loaded for a hot swap, on a worker thread
    while the serving model answers): the same texts' sentences are scored as (actor, window)
    pairs, with the new model's own tokenizer and backend only; spaCy, shared by every predictor
    and warm already, stays on the inference thread.
    """
    article = _WARMUP_ARTICLE.read_text(encoding="utf-8")
    if spacy:
        texts = [article, _WARMUP_SENTENCE]
        if getattr(predictor, "heads", None):
            predictor.analyze(texts, list(_WARMUP_ACTORS))
        else:
            predictor.predict(texts, list(_WARMUP_ACTORS))
        return
    sentences = [line.strip() for line in article.splitlines() if line.strip()]
    windows = [*sentences[:8], _WARMUP_SENTENCE]
    predictor.score_pairs([_WARMUP_ACTORS[0]] * len(windows), windows)


def model_info(predictor: StancePredictor, registry_version: str | None) -> dict[str, str]:
    """Labels of the ``slant_model_info`` metric; ``registry_version`` only when serving from it."""
    info = {
        "name": predictor.name,
        "version": predictor.version,
        "base_model": str(predictor.meta.base_model),
    }
    if registry_version:
        info["registry_version"] = registry_version
    return info


def describe(state: ServiceState) -> dict[str, Any]:
    p = state.predictor
    return {
        "name": p.name if p else None,
        "version": p.version if p else None,
        "registry_version": state.registry_version,
        "path": state.model_path,
    }


def swap(
    state: ServiceState, predictor: StancePredictor, *, path: str | None, registry_version: str | None
) -> None:
    """Serve ``predictor`` from now on (on the event loop, so in one step): the state owns the
    serving predictor and the batcher reads it there for each new batch."""
    state.predictor = predictor
    state.model_path = path
    state.registry_version = registry_version
    state.reload_error = None
    state.model_notice = None  # serving the promoted version now
    state.metrics.model_info.info(model_info(predictor, registry_version))


async def reload_model(state: ServiceState, holder: StoreHolder) -> dict[str, Any]:
    """Serve the registry's promoted version (``default`` while nothing is promoted).

    Returns ``{"changed", "previous", "current", "seconds"}``. Raises ReloadFailedError (the old
    model still serving) when the new one cannot be loaded, and StoreUnavailableError when the
    registry's database cannot be reached. One reload runs at a time.
    """
    async with state.reload_lock:
        started = time.perf_counter()
        previous = describe(state)
        target = await asyncio.to_thread(lambda: _registry(state, holder).current(_default_model(state)))
        same_version = target.version == state.registry_version
        if same_version or (state.registry_version is None and _same_path(target.path, state.model_path)):
            state.registry_version = target.version
            state.model_notice = None
            state.metrics.reloads.labels("unchanged").inc()
            return {"changed": False, "previous": previous, "current": describe(state), "seconds": 0.0}
        log.info("loading model version %s from %s beside the serving one", target.version, target.path)
        try:
            predictor = await asyncio.to_thread(load_and_warm, target.path, state)
        except Exception as exc:
            reason = exc.message if isinstance(exc, SlantError) else f"{type(exc).__name__}: {exc}"
            serving = f"{previous['name']} version {previous['version']}"
            state.reload_error = f"{target.version}: {reason}"
            state.metrics.reloads.labels("failed").inc()
            log.error(
                "could not load model version %s; still serving %s", target.version, serving, exc_info=exc
            )
            raise ReloadFailedError(
                f"could not load model version {target.version} from {target.path}: {reason}; "
                f"{serving} keeps serving",
                fix="fix or roll back the registry (`slant models rollback`), then reload again",
            ) from None
        swap(state, predictor, path=target.path, registry_version=target.version)
        state.metrics.reloads.labels("swapped").inc()
        seconds = round(time.perf_counter() - started, 3)
        log.info("now serving %s version %s (registry %s)", predictor.name, predictor.version, target.version)
        return {"changed": True, "previous": previous, "current": describe(state), "seconds": seconds}


def _same_path(a: str, b: str | None) -> bool:
    if b is None:
        return False
    return a == b or (Path(a).is_dir() and Path(b).is_dir() and Path(a).resolve() == Path(b).resolve())


async def poll_registry(state: ServiceState, holder: StoreHolder, every: float) -> None:
    """Every ``every`` seconds, hot-swap to the registry's promoted version when it changed.

    A version that failed to load is not tried again until the pointer moves.
    """
    failed: tuple[str, str] | None = None
    while True:
        await asyncio.sleep(every)
        if not state.ready:
            continue
        try:
            promoted = await asyncio.to_thread(lambda: _registry(state, holder).promoted())
        except Exception as exc:
            log.warning("registry poll: %s", exc)
            continue
        if promoted is None or promoted.version == state.registry_version:
            continue
        if (promoted.version, promoted.path) == failed:
            continue
        try:
            await reload_model(state, holder)
            failed = None
        except ReloadFailedError:
            failed = (promoted.version, promoted.path)
        except Exception as exc:
            log.warning("registry poll: reload failed: %s", exc)
