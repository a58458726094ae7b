"""GET /v1/models: the loaded model, its dev-set metrics and the request limits."""

from __future__ import annotations

from fastapi import APIRouter

from ..routing import GuardedRoute
from ..schemas import Limits, ModelInfo, ModelsResponse, json_safe
from ..state import ReadyDep
from .responses import errors

router = APIRouter(route_class=GuardedRoute, tags=["models"])


@router.get(
    "/models",
    response_model=ModelsResponse,
    summary="The loaded model and the limits",
    responses=errors(401, 503),
)
async def models(state: ReadyDep) -> ModelsResponse:
    """Name, version, labels and dev-set evaluation of the model serving requests, and the size limits."""
    p, s = state.predictor, state.settings
    assert p is not None  # ReadyDep guarantees it
    dev = (p.meta.metrics or {}).get("dev")
    info = ModelInfo(
        name=p.name,
        version=p.version,
        labels=list(p.labels),
        base_model=p.meta.base_model,
        max_length=int(p.meta.max_length),
        max_windows=int(p.max_windows),
        backend=p.backend.name,
        created=p.meta.created,
        metrics=json_safe(dev) if isinstance(dev, dict) else None,
    )
    limits = Limits(
        max_body_bytes=s.max_body_bytes,
        max_items=s.max_items,
        max_text_chars=s.max_text_chars,
        max_actors=s.max_actors,
        max_batch_texts=s.max_batch_texts,
        queue_size=s.queue_size,
    )
    return ModelsResponse(models=[info], limits=limits)
