"""Wire schemas of the admin routes: retrain jobs and model reloads. A retrain request is
``training.retrain_options``'s settings plus ``reload``; jobs are wrapped from the job runner's records."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from training.config import Hyper
from training.retrain_options import RetrainSettings

from .jobs import Job
from .schemas import ErrorDetail, json_safe

CONFIG_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
"""A retrain config over HTTP is a name (a file of the server's config folder, or a registry
version), never a path: a request must not make the server read a file it names."""

HTTP_OVERRIDES = (
    *(f"training.{name}" for name in Hyper.model_fields),
    "name",
    "seed",
    "max_length",
    "fp16_weights",
    "aggregator.max_windows",
    "aggregator.c",
)
"""Config settings a request may override: numbers and names, none that names data, a folder or a model."""


class RetrainRequest(RetrainSettings):
    """Options of one retrain; every field is optional (an empty body uses the defaults).

    The label store and registry are the server's (`SLANT_DATABASE_URL`, `SLANT_REGISTRY`), and so
    are the files it reads: a config is named, not given as a path, and the data folders are the
    server's settings.
    """

    # Strict: JSON types as the schema says them (true, not 0; 3, not "3").
    model_config = ConfigDict(extra="forbid", strict=True)

    config: str | None = Field(
        None,
        pattern=CONFIG_NAME,
        description="Name of a training config in the server's config folder (`SLANT_RETRAIN_CONFIGS`, "
        "default training/configs: e.g. 'default-stage3'), or of a model registry version (e.g. 'r3': the "
        "config recorded in it); not a path. Default: the config recorded in the current model.",
    )
    overrides: list[str] = Field(
        default_factory=list,
        description="Config settings, 'key=value', for the keys "
        f"{', '.join(HTTP_OVERRIDES)} (settings that name data or folders are the config's).",
    )
    bias_data_root: None = Field(
        None,
        description="Not settable over HTTP: the bias heads use the server's data folder "
        "($SLANT_DATA_ROOT, else the config's data_root).",
    )
    reload: bool = Field(True, description="Serve the new version at once when it is promoted.")

    @field_validator("config", mode="before")
    @classmethod
    def _config_is_a_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(CONFIG_NAME, value):
            raise ValueError(
                "config takes a name, not a path: a config of the server's config folder (e.g. "
                "'default-stage3' for training/configs/default-stage3.yaml) or a registry version "
                "(e.g. 'r3')"
            )
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides_name_no_paths(cls, value: list[str]) -> list[str]:
        for item in value:
            key = item.split("=", 1)[0].strip()
            if "=" not in item or key not in HTTP_OVERRIDES:
                raise ValueError(
                    f"override {item[:60]!r} is not allowed over HTTP: give 'key=value' with a key among "
                    f"{', '.join(HTTP_OVERRIDES)}; settings that name data or folders come from the "
                    "config (or run `slant retrain --set` on the server)"
                )
        return value

    @field_validator("bias_data_root", mode="before")
    @classmethod
    def _no_data_root(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(
                "bias_data_root cannot be set over HTTP (it names a folder on the server): leave it out "
                "to use the server's data folder ($SLANT_DATA_ROOT, else the config's data_root), or run "
                "`slant retrain --bias-data-root DIR` on the server"
            )
        return value


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
