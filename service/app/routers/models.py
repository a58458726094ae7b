"""GET /v1/models: the loaded model, its dev-set metrics and the request limits;
POST /v1/models/reload (admin): hot-swap to the model registry's promoted version."""

from __future__ import annotations

from fastapi import APIRouter

from ..admin_schemas import ReloadOut
from ..reload import reload_model
from ..routing import AdminRoute, GuardedRoute
from ..schemas import Limits, ModelInfo, ModelsResponse, json_safe
from ..state import ReadyDep
from .labels import HolderDep
from .responses import errors

router = APIRouter(route_class=GuardedRoute, tags=["models"])
admin_router = APIRouter(route_class=AdminRoute, tags=["admin"])


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
        registry_version=state.registry_version,
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


@admin_router.post(
    "/models/reload",
    response_model=ReloadOut,
    summary="Serve the registry's promoted model version (hot swap)",
    responses=errors(401, 403, 500, 503),
)
async def reload(state: ReadyDep, holder: HolderDep) -> ReloadOut:
    """Load the model registry's promoted version beside the serving model, warm it up, and switch
    to it without dropping requests: batches formed after the switch use the new model, batches
    already running finish on the old one. `changed` is false when it was already serving.

    If the new version cannot be loaded, the answer is 500 `reload_failed` and the old model keeps
    serving. `slant models promote VERSION` and `slant models rollback` move the pointer.
    """
    return ReloadOut.model_validate(await reload_model(state, holder))
