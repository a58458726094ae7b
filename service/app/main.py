"""The app factory and its lifespan: load the model, start the batcher, warm up, then turn ready."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from model import StancePredictor

from .batcher import MicroBatcher
from .errors import install_error_handlers
from .label_store import StoreHolder
from .metrics import Metrics, MetricsMiddleware, RouteLabels
from .middleware import BodyLimitMiddleware
from .reload import load_startup_model, model_info, poll_registry, warm_up
from .routers import health, jobs, labels, models, page, review, stance
from .settings import Settings
from .state import ServiceState, api_key_scheme

log = logging.getLogger("service.app")

_DESCRIPTION = """Stance (against / neutral / favor) of news articles, tweets and sentences toward
named actors (`/v1/stance`), and with the model's bias heads the article's leaning, how
hyperpartisan it is and its loaded-language sentences (`/v1/analyze`).

Every error has the form `{"error": {"code", "message", "field", "fix"}}`. When the server runs with
API keys (`SLANT_API_KEYS`), every `/v1` route needs the header `X-API-Key`.
"""


def create_app(settings: Settings | None = None, predictor: StancePredictor | None = None) -> FastAPI:
    """Build the HTTP app. The model is loaded in the lifespan (never here), unless one is passed.

    >>> app = create_app(Settings(model="models/default"))          # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)                # doctest: +SKIP
    """
    settings = settings or Settings()
    metrics = Metrics()
    state = ServiceState(settings=settings, metrics=metrics, predictor=predictor)
    # Swagger UI and ReDoc served from the package's own copies: /docs works with no network.
    app = FastAPIOffline(title="slant", version="1", description=_DESCRIPTION, lifespan=_lifespan)
    app.state.slant = state
    app.state.label_store = StoreHolder(settings.database_url)  # opened on first use
    install_error_handlers(app)

    app.include_router(health.router)
    secured = [Security(api_key_scheme)] if settings.api_keys else []
    v1 = APIRouter(prefix="/v1", dependencies=secured)
    v1.include_router(stance.router)
    v1.include_router(models.router)
    v1.include_router(labels.router)
    v1.include_router(review.router)
    v1.include_router(models.admin_router)
    v1.include_router(jobs.router)
    app.include_router(v1)
    app.include_router(page.router)  # the review page at /, open like /docs; its API calls need the key
    app.mount(page.STATIC_PATH, page.static_files(), name="static")

    # Added last = runs first: metrics see every answer, CORS headers reach 413s too.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key"],
            expose_headers=["X-Queue-Time-Ms", "X-Inference-Time-Ms", "X-Batch-Texts", "Retry-After"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics, route_of=_route_labels(app))
    return app


def _route_labels(app: FastAPI) -> RouteLabels:
    """The app's route templates (from its OpenAPI schema, on first use) and the static mount."""

    def templates() -> list[str]:
        extra = ["/docs", app.openapi_url, "/redoc", "/"]
        return [*app.openapi().get("paths", {}), *(p for p in extra if p)]

    return RouteLabels(templates, prefixes=[page.STATIC_PATH])


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.slant
    s = state.settings
    if state.predictor is None:
        # No model configured: the model registry's promoted version (or the last one that loads).
        loaded = await asyncio.to_thread(load_startup_model, state)
        state.predictor, state.model_path, state.registry_version = loaded
    p = state.predictor
    state.metrics.model_info.info(model_info(p, state.registry_version))
    state.batcher = MicroBatcher(
        state.serving,
        queue_size=s.queue_size,
        max_batch_texts=s.max_batch_texts,
        max_batch_chars=s.max_batch_chars,
        max_wait_ms=s.max_wait_ms,
        metrics=state.metrics,
    )
    state.batcher.start()
    warm = asyncio.create_task(_warm_up(state))
    poll = (
        asyncio.create_task(poll_registry(state, app.state.label_store, s.reload_seconds))
        if s.reload_seconds > 0
        else None
    )
    try:
        yield
    finally:
        state.ready = False
        state.metrics.ready.set(0)
        warm.cancel()
        if poll is not None:
            poll.cancel()
        await state.batcher.stop()
        await asyncio.to_thread(app.state.label_store.close)


async def _warm_up(state: ServiceState) -> None:
    """Warm the first model up on the inference thread (:func:`~service.app.reload.warm_up`), then
    turn ready."""
    assert state.batcher is not None and state.predictor is not None
    p = state.predictor
    try:
        await state.batcher.call(warm_up, p, spacy=True)
    except Exception as exc:
        state.warmup_error = str(exc) or type(exc).__name__
        log.error("warm-up prediction failed; the server stays not ready", exc_info=exc)
        return
    state.ready = True
    state.metrics.ready.set(1)
    log.info("model %s v%s is warm; ready", p.name, p.version)
