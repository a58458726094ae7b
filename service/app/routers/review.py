"""GET /v1/review/queue: the stored texts the model is least sure about, for the review page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from model import StancePredictor
from model.types import ActorStance

from ..label_store import StoreHolder, store_holder
from ..review_queue import PredictionCache, build_queue
from ..review_schemas import QueueItem, ReviewQueue
from ..routing import GuardedRoute
from ..schemas import ErrorResponse
from ..state import ReadyDep
from .responses import errors

router = APIRouter(route_class=GuardedRoute, tags=["review"])

MAX_CANDIDATES = 1000
MAX_LIMIT = 100

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "The model is not ready yet, or the label store cannot be opened "
        "(SLANT_DATABASE_URL); retry after the seconds in Retry-After.",
    }
}


def prediction_cache(request: Request) -> PredictionCache:
    """The app's review prediction cache, made on first use."""
    cache: PredictionCache | None = getattr(request.app.state, "review_cache", None)
    if cache is None:
        cache = request.app.state.review_cache = PredictionCache()
    return cache


def model_version(predictor: StancePredictor) -> str:
    """What the cache keys predictions by: a retrained model (new version or build) misses it."""
    return f"{predictor.name} {predictor.version} {predictor.meta.created}".strip()


HolderDep = Annotated[StoreHolder, Depends(store_holder)]
CacheDep = Annotated[PredictionCache, Depends(prediction_cache)]


@router.get(
    "/review/queue",
    response_model=ReviewQueue,
    summary="Texts the model is least sure about",
    responses={**errors(401, 422), **_UNAVAILABLE},
)
async def review_queue(
    state: ReadyDep,
    holder: HolderDep,
    cache: CacheDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most items returned.")] = 20,
    candidates: Annotated[
        int, Query(ge=1, le=MAX_CANDIDATES, description="Most recent stored texts considered.")
    ] = 200,
) -> ReviewQueue:
    """The (text, actor) pairs among the newest stored texts whose prediction is least certain.

    Each of the `candidates` newest texts in the label store is scored for the actors labelled
    on it (or, with no labels, the actors discovered in it). Uncertainty is
    `1 - (p_top1 - p_top2)`, the margin between the two most probable labels; the `limit` most
    uncertain pairs come back first. Predictions are cached per (text, actor, model version), so
    reloading the queue only predicts texts that are new to the current model.
    """
    batcher, predictor = state.batcher, state.predictor
    assert batcher is not None and predictor is not None  # ReadyDep guarantees both
    settings = state.settings
    store = await asyncio.to_thread(holder.get)
    texts = await asyncio.to_thread(store.recent_texts, limit=candidates)
    labelled = await asyncio.to_thread(store.current_labels_by_text, [t.id for t in texts])

    async def predict(batch: list[str], actors: list[list[str] | None]) -> list[list[ActorStance]]:
        # On the inference thread, between stance batches: never two forward passes at once.
        return await batcher.call(predictor.predict, batch, per_text_actors=actors, evidence=1)

    result = await build_queue(
        texts,
        labelled,
        predict=predict,
        cache=cache,
        model_version=model_version(predictor),
        limit=limit,
        max_batch_texts=settings.max_batch_texts,
        max_batch_chars=settings.max_batch_chars,
    )
    return ReviewQueue(
        model=predictor.name,
        version=predictor.version,
        candidates=result.candidates,
        pairs=result.pairs,
        predicted_texts=result.predicted_texts,
        items=[QueueItem.of(e) for e in result.entries],
    )
