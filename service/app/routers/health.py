"""Liveness, readiness and Prometheus metrics; never behind an API key."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..schemas import HealthResponse
from ..state import ReadyDep, StateDep
from .responses import errors

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness")
async def healthz() -> HealthResponse:
    """200 while the process serves HTTP, even before the model is warm."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, summary="Readiness", responses=errors(503))
async def readyz(state: ReadyDep) -> HealthResponse:
    """200 once the model is loaded and a warm-up prediction has run; 503 before."""
    assert state.predictor is not None  # ReadyDep guarantees it
    return HealthResponse(status="ready", model=state.predictor.name, version=state.predictor.version)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        }
    },
)
async def metrics(state: StateDep) -> Response:
    """Request counts and latencies by route and status, batch sizes, queue depth, model info."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
