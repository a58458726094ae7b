"""Wire schemas of the admin routes: retrain jobs and model reloads. They wrap ``training.retrain``'s
options and the job runner's records, so either side can change alone."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jobs import Job
from .schemas import ErrorDetail, json_safe


class RetrainRequest(BaseModel):
    """Options of one retrain; every field is optional (an empty body uses the defaults).

    The label store and registry are the server's (`SLANT_DATABASE_URL`, `SLANT_REGISTRY`).
    """

    model_config = ConfigDict(extra="forbid")

    config: str | None = Field(
        None,
        description="Training config on the server for the base mix and eval sets, e.g. "
        "'training/configs/default-stage2.yaml'; default: the config recorded in the current model.",
    )
    overrides: list[str] = Field(default_factory=list, description="Config settings, 'key.sub=value'.")
    from_base: bool = Field(False, description="Fine-tune the base encoder instead of the current model.")
    base_rows: int | None = Field(None, ge=0, description="Subsample the base mix (0: labels only).")
    epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    learning_rate: float | None = Field(None, gt=0)
    eval_rows: int | None = Field(None, gt=0, description="At most this many rows of each eval set.")
    max_length: int | None = Field(None, ge=16, le=512, description="Truncate training examples.")
    label_share: float = Field(0.2, ge=0, lt=1, description="Labels make up at least this share per epoch.")
    max_repeat: int = Field(50, ge=1, description="Repeat each label at most this often per epoch.")
    holdout: float = Field(0.2, gt=0, lt=1, description="Share of labelled texts held back for the gate.")
    tolerance: float = Field(1.0, ge=0, description="macro-F1 points a fixed eval set may lose.")
    min_gain: float = Field(0.0, ge=0, description="macro-F1 points the held-back labels must gain beyond.")
    promote: bool = Field(True, description="Promote the new version when it passes the gate.")
    refit_aggregator: bool = False
    seed: int | None = None
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
