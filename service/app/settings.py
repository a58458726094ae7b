"""Service settings, read from ``SLANT_*`` environment variables (and nothing else at import)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.actors import MAX_ACTORS
from model.backends import BACKENDS, DEFAULT_BACKEND
from model.text import MAX_TEXT_CHARS

_DEFAULT_MAX_ITEMS = 64


def _split_list(value: Any) -> Any:
    # "a,b" or a JSON list both work from the environment; a list passes through.
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            import json

            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the HTTP service can be told, each from ``SLANT_<NAME>``.

    >>> Settings(max_items=8, api_keys=["secret"]).max_items    # doctest: +SKIP
    8
    """

    model_config = SettingsConfigDict(env_prefix="SLANT_", extra="forbid", validate_default=True)

    model: str | None = Field(None, description="Model directory or hub id; empty means the shipped model.")
    device: str | None = Field(None, description="torch device; empty picks CUDA when present, else CPU.")
    backend: str = Field(
        DEFAULT_BACKEND,
        description="Forward pass: auto, torch, onnx or onnx-int8 (CPU; see the README's speed table).",
    )
    heads: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra bias-head directories (comma-separated), loaded beside the model's own "
        "bias/ heads, e.g. models/loaded-language-babe; kept across hot reloads.",
    )
    source_url: str | None = Field(
        None,
        description="Where this server's corresponding source is published; shown in the licence "
        "notices of GET /v1/models (an AGPL-3.0 head obliges you to offer it to the users).",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest request body (2 MiB).")
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A request body not complete this many seconds after the request started is a 408.",
    )
    max_items: int = Field(
        _DEFAULT_MAX_ITEMS,
        ge=1,
        description="Most texts in one request; default 64, or SLANT_QUEUE_SIZE when that is smaller.",
    )
    max_text_chars: int = Field(
        MAX_TEXT_CHARS, ge=1, le=MAX_TEXT_CHARS, description="Longest text, characters."
    )
    max_actors: int = Field(MAX_ACTORS, ge=1, le=MAX_ACTORS, description="Most actors per text.")

    queue_size: int = Field(256, ge=1, description="Texts that may wait for inference before answering 429.")
    max_batch_texts: int = Field(32, ge=1, description="Most texts in one micro-batch.")
    max_batch_chars: int = Field(400_000, ge=1, description="Character budget of one micro-batch.")
    max_wait_ms: float = Field(
        5.0, ge=0, le=1000, description="How long the first request waits for company."
    )

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False, description="Accepted X-API-Key values; empty turns auth off."
    )
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,
        description="X-API-Key values allowed on the admin routes (retrain, jobs, model reload); "
        "empty turns those routes off (403). Admin keys are accepted on every other route too.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS."
    )
    database_url: str | None = Field(
        None,
        repr=False,
        description="Label store: sqlite:////path/labels.db or postgresql://user:pass@host/db; "
        "empty means ~/.local/share/slant/labels.db.",
    )

    registry: str | None = Field(
        None,
        description="Folder of the model registry; empty means $SLANT_REGISTRY's default, "
        "~/.local/share/slant/registry. Its index is in the label store's database.",
    )
    retrain_configs: str | None = Field(
        None,
        description="Folder of the training configs that POST /v1/retrain may name (by file name, "
        "without the suffix); empty means the project's training/configs.",
    )
    reload_seconds: float = Field(
        0.0,
        ge=0,
        description="Check the registry's promoted version every N seconds and hot-swap to it; 0 = off.",
    )

    @field_validator("api_keys", "admin_keys", "cors_origins", "heads", mode="before")
    @classmethod
    def _lists_from_env(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator(
        "model", "device", "database_url", "registry", "source_url", "retrain_configs", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        # A malformed URL stops the server at start-up; an unreachable database only fails /v1/labels.
        if value is not None:
            from model.errors import SlantError
            from training.store import database_url

            try:
                database_url(value)
            except SlantError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; use one of {', '.join(BACKENDS)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _max_items_fit_the_queue(cls, data: Any) -> Any:
        # SLANT_QUEUE_SIZE=32 alone must work: the default max_items shrinks to the queue.
        if isinstance(data, dict) and data.get("max_items") is None and data.get("queue_size") is not None:
            try:
                queue = int(data["queue_size"])
            except (TypeError, ValueError):
                return data  # the field's own validation says what is wrong
            return {**data, "max_items": max(1, min(_DEFAULT_MAX_ITEMS, queue))}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_items > self.queue_size:
            raise ValueError(
                f"max_items ({self.max_items}) is larger than queue_size ({self.queue_size}), "
                "so a full request could never be queued; raise SLANT_QUEUE_SIZE or lower SLANT_MAX_ITEMS"
            )
        if any(not key.strip() for key in self.api_keys):
            raise ValueError("api_keys contains an empty key; remove it")
        if any(not key.strip() for key in self.admin_keys):
            raise ValueError("admin_keys contains an empty key; remove it")
        return self
