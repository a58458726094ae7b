"""POST /v1/retrain starts a retrain as a background job; GET /v1/jobs/{id} follows it (admin only)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from model.predictor import default_model_path

from ..admin_schemas import JobOut, RetrainRequest
from ..label_store import StoreHolder
from ..reload import reload_model
from ..routing import AdminRoute
from ..state import ServiceState, StateDep
from .labels import HolderDep
from .responses import errors

router = APIRouter(route_class=AdminRoute, strict_content_type=False, tags=["admin"])
_RELOAD_TIMEOUT_S = 900  # loading a large model (and exporting it to ONNX) takes minutes at most


@router.post(
    "/retrain",
    response_model=JobOut,
    status_code=202,
    summary="Retrain on the stored labels (background job)",
    responses=errors(401, 403, 409, 422),
)
async def start_retrain(
    state: StateDep,
    holder: HolderDep,
    response: Response,
    body: Annotated[RetrainRequest | None, Body()] = None,
) -> JobOut:
    """Fine-tune the current model on the base data mix plus the label store's labels, evaluate it
    against the current model, register it and promote it if it passes the gate; then (with
    `reload`, the default) serve it. Answers 202 with the job at once; follow it at
    `GET /v1/jobs/{id}`. One job runs at a time: a second request gets 409 with the running job's id.

    Leaning and hyperpartisan labels refit those bias heads, judged in the same gate; with bias
    labels only (or `tasks` without `stance`) the encoder is reused, not fine-tuned, which is fast.

    The job runs on a thread of this server and competes with inference for the CPU; run
    `slant retrain` on another machine for large jobs.
    """
    request = body or RetrainRequest()
    options = _options(request, state)
    loop = asyncio.get_running_loop()
    retrain = state.retrain or _real_retrain

    def run(progress: Any) -> dict[str, Any]:
        result = retrain(options, progress)
        if request.reload and result.get("status") == "promoted":
            progress(f"serving {result.get('version')}")
            future = asyncio.run_coroutine_threadsafe(_reload(state, holder), loop)
            result = {**result, "reload": future.result(timeout=_RELOAD_TIMEOUT_S)}
        return result

    job = state.jobs.submit("retrain", run, params=request.model_dump(exclude_defaults=True))
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.of(job)


@router.get(
    "/jobs/{job_id}", response_model=JobOut, summary="A background job", responses=errors(401, 403, 404)
)
async def get_job(job_id: str, state: StateDep) -> JobOut:
    """Status (`queued`, `running`, `succeeded`, `failed`), progress lines, and the result or error."""
    return JobOut.of(state.jobs.get(job_id))


def _options(request: RetrainRequest, state: ServiceState) -> Any:
    from training.retrain import RetrainOptions

    fields = request.model_dump(exclude={"reload"})
    s = state.settings
    return RetrainOptions(
        **fields, database=s.database_url, registry=s.registry, default_model=s.model or default_model_path()
    )


def _real_retrain(options: Any, progress: Any) -> dict[str, Any]:
    from training.retrain import retrain

    return retrain(options, progress=progress).to_json()


async def _reload(state: ServiceState, holder: StoreHolder) -> dict[str, Any]:
    """The reload after a promoting retrain; its failure is part of the job's result, not the job's."""
    if state.batcher is None or not state.ready:
        return {"error": "the server is not ready; reload with POST /v1/models/reload"}
    try:
        return await reload_model(state, holder)
    except Exception as exc:
        return {"error": str(exc)}
