"""POST /v1/retrain starts a retrain as a background job; GET /v1/jobs/{id} follows it (admin only)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from model.errors import InvalidInputError
from model.predictor import default_model_path
from training.registry import ModelRegistry

from ..admin_schemas import JobOut, RetrainRequest
from ..label_store import StoreHolder
from ..reload import reload_model
from ..routing import AdminRoute
from ..state import ServiceState, StateDep
from .labels import HolderDep
from .responses import errors

router = APIRouter(route_class=AdminRoute, tags=["admin"])
_RELOAD_TIMEOUT_S = 900  # loading a large model (and exporting it to ONNX) takes minutes at most


@router.post(
    "/retrain",
    response_model=JobOut,
    status_code=202,
    summary="Retrain on the stored labels (background job)",
    responses=errors(401, 403, 408, 409, 413, 415, 422),
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
    options = _options(request, state, await asyncio.to_thread(_config_source, request.config, state, holder))
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


def _options(request: RetrainRequest, state: ServiceState, source: dict[str, str]) -> Any:
    from training.retrain import RetrainOptions

    fields = request.model_dump(exclude={"reload", "config"})
    s = state.settings
    return RetrainOptions(
        **fields,
        **source,
        database=s.database_url,
        registry=s.registry,
        default_model=s.model or default_model_path(),
    )


def _config_folder(state: ServiceState) -> Path:
    """Where the configs that a retrain request may name are: ``SLANT_RETRAIN_CONFIGS``, else the
    project's ``training/configs``."""
    import training

    folder = state.settings.retrain_configs
    return Path(folder) if folder else Path(training.__file__).resolve().parent / "configs"


def _config_source(name: str | None, state: ServiceState, holder: StoreHolder) -> dict[str, str]:
    """The retrain option a config name stands for: ``{"config": <file of the config folder>}`` or
    ``{"config_version": <registry version>}``; InvalidInputError naming the choices otherwise."""
    if name is None:
        return {}
    from training.config import CONFIG_SUFFIXES

    folder = _config_folder(state)
    # Names are matched against the folder's listing, so no request can reach outside it.
    configs = {}
    with contextlib.suppress(OSError):
        configs = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in CONFIG_SUFFIXES}
    found = configs.get(name) or next((p for p in configs.values() if p.name == name), None)
    if found is not None:
        return {"config": str(found)}
    registry = ModelRegistry(holder.get().engine, state.settings.registry)
    versions = [v.version for v in registry.versions()]
    if name in versions:
        return {"config_version": name}
    raise InvalidInputError(
        f"no retrain config named {name!r}: the configs are {', '.join(sorted(configs)) or 'none'} "
        f"(the server's config folder) and the registry versions are {', '.join(versions) or 'none'}",
        field="config",
        fix="name one of them, or leave config out to use the config recorded in the current model",
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
