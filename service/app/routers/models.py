"""GET /v1/models: the loaded model, its bias heads, dev-set metrics, licence notices and the request
limits; POST /v1/models/reload (admin): hot-swap to the model registry's promoted version."""

from __future__ import annotations

from fastapi import APIRouter

from ..admin_schemas import ReloadOut
from ..reload import reload_model
from ..routing import AdminRoute, GuardedRoute
from ..schemas import HeadInfo, Limits, ModelInfo, ModelsResponse, Notice, json_safe
from ..settings import Settings
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
    """Name, version, labels and dev-set evaluation of the model serving requests, its bias heads
    (task, labels, licence, dev-set evaluation), the size limits, and the licence `notices` that
    apply to what is loaded (an AGPL-3.0 head obliges the operator to offer the source to users).
    """
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
        heads=[HeadInfo.of(h) for h in getattr(p, "heads", {}).values()],
    )
    limits = Limits(
        max_body_bytes=s.max_body_bytes,
        max_items=s.max_items,
        max_text_chars=s.max_text_chars,
        max_actors=s.max_actors,
        max_batch_texts=s.max_batch_texts,
        queue_size=s.queue_size,
    )
    skipped = [
        Notice(kind="head_skipped", about="bias head", licence="", message=why, source=None)
        for why in getattr(p, "skipped_heads", [])
    ]
    notices = licence_notices(info.heads, s) + skipped
    if state.model_notice:
        fallback = Notice(
            kind="model_fallback",
            about="model registry",
            licence="",
            message=f"{state.model_notice}. Fix or roll back the registry (`slant models rollback`), "
            "then POST /v1/models/reload.",
            source=None,
        )
        notices.insert(0, fallback)
    return ModelsResponse(models=[info], limits=limits, notices=notices)


def licence_notices(heads: list[HeadInfo], settings: Settings) -> list[Notice]:
    """A notice for every loaded head whose licence is the AGPL: its section 13 obliges whoever
    serves it over a network to offer the users the corresponding source."""
    out = []
    for head in heads:
        if "AGPL" not in head.licence.upper():
            continue
        where = (
            f"it is published at {settings.source_url}"
            if settings.source_url
            else "set SLANT_SOURCE_URL to where you publish it (the slant repository with any changes "
            "you made, and this head) so that this notice can point there"
        )
        out.append(
            Notice(
                kind="licence",
                about=f"bias head {head.task} ({head.path})",
                licence=head.licence,
                message=f"The {head.task} head is licensed under the AGPL-3.0 (its training data is). "
                "Section 13 of the AGPL: everyone who interacts with this server over a network must "
                "be offered the corresponding source of the program they use, at no charge; "
                f"{where}. To serve without it, leave its directory out of SLANT_HEADS.",
                source=settings.source_url,
            )
        )
    return out


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
