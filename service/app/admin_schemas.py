"""Wire schemas of the admin routes: retrain jobs and model reloads. A retrain request is
``training.retrain_options``'s settings plus ``reload``; jobs are wrapped from the job runner's records."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from training.retrain_options import RetrainSettings

from .jobs import Job
from .schemas import ErrorDetail, json_safe


class RetrainRequest(RetrainSettings):
    """Options of one retrain; every field is optional (an empty body uses the defaults).

    The label store and registry are the server's (`SLANT_DATABASE_URL`, `SLANT_REGISTRY`).
    """

    reload: bool = Field(True, description="Serve the new version at once when it is promoted.")


class JobProgressOut(BaseModel):
    at: str
    message: str


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str
    started_at: str | None
    finished_at: str | None
    params: dict[str, Any]
    progress: list[JobProgressOut] = Field(description="What the job has done so far, oldest first.")
    result: dict[str, Any] | None = Field(
        description="For a retrain: the new version, its status, the gate's decision and the metrics."
    )
    error: ErrorDetail | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        def iso(value: Any) -> str | None:
            return value.isoformat(timespec="seconds") if value is not None else None

        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            created_at=job.created_at.isoformat(timespec="seconds"),
            started_at=iso(job.started_at),
            finished_at=iso(job.finished_at),
            params=json_safe(job.params),
            progress=[
                JobProgressOut(at=p.at.isoformat(timespec="seconds"), message=p.message) for p in job.progress
            ],
            result=json_safe(job.result) if job.result is not None else None,
            error=ErrorDetail(**job.error) if job.error is not None else None,
        )


class ServingModel(BaseModel):
    name: str | None
    version: str | None
    registry_version: str | None
    path: str | None


class ReloadOut(BaseModel):
    changed: bool = Field(description="False when the promoted version was already serving.")
    previous: ServingModel
    current: ServingModel
    seconds: float = Field(description="Time to load and warm up the new model.")
