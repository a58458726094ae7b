"""What the app holds at run time, and the dependencies that hand it to the routes."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from model import StancePredictor

from .batcher import MicroBatcher
from .errors import ForbiddenError, NotReadyError, UnauthorizedError
from .jobs import JobRunner
from .metrics import Metrics
from .settings import Settings

API_KEY_HEADER = "X-API-Key"

# Declared on the /v1 routers when keys are configured, so /docs shows the lock and sends the key.
# Enforcement happens in GuardedRoute, before the body is read (see routing.py).
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="One of SLANT_API_KEYS.")


@dataclass
class ServiceState:
    """What the app holds at run time; ``predictor`` is the serving model, swapped in one step."""

    settings: Settings
    metrics: Metrics
    predictor: StancePredictor | None = None
    batcher: MicroBatcher | None = None
    ready: bool = False
    warmup_error: str | None = None
    # Hot swap (reload.py): where the serving model came from, and the registry version it is.
    model_path: str | None = None
    registry_version: str | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reload_error: str | None = None
    # Set when start-up served an earlier registry version because the promoted one does not load.
    model_notice: str | None = None
    # Background jobs (jobs.py); ``retrain`` runs one retrain, replaceable in tests:
    # (options, progress callback) -> JSON-ready result.
    jobs: JobRunner = field(default_factory=JobRunner)
    retrain: Callable[[Any, Callable[[str], None]], dict[str, Any]] | None = None

    def serving(self) -> StancePredictor:
        """The predictor that serves now. The state is its one owner: the batcher calls this for
        each batch it forms, so a hot swap is one assignment to ``predictor``."""
        if self.predictor is None:
            raise NotReadyError("no model is loaded yet", fix="retry when /readyz answers 200")
        return self.predictor


def check_api_key(settings: Settings, provided: str | None) -> None:
    """Raise UnauthorizedError unless auth is off or ``provided`` is one of the configured keys."""
    if not settings.api_keys:
        return
    if provided and _matches(provided, settings.admin_keys):
        return
    if not provided:
        raise UnauthorizedError(
            f"this server needs an API key in the {API_KEY_HEADER} header",
            field=API_KEY_HEADER,
            fix=f"send the header {API_KEY_HEADER}: <your key>",
        )
    if not _matches(provided, settings.api_keys):
        raise UnauthorizedError(
            f"the {API_KEY_HEADER} header does not hold a valid key",
            field=API_KEY_HEADER,
            fix="check the key with whoever runs this server",
        )


def _matches(provided: str, keys: list[str]) -> bool:
    given = provided.encode("utf-8", "surrogateescape")
    # compare_digest on every key: the time taken does not depend on which key (if any) matched.
    matched = [hmac.compare_digest(given, key.encode("utf-8")) for key in keys]
    return any(matched)


def check_admin_key(settings: Settings, provided: str | None) -> None:
    """Raise unless ``provided`` is one of ``SLANT_ADMIN_KEYS``: 401 for a missing or unknown key, 403
    for a user key (``SLANT_API_KEYS``) or while no admin keys are configured."""
    if not settings.admin_keys:
        raise ForbiddenError(
            "admin routes (retrain, jobs, model reload) are turned off: this server has no admin keys",
            fix="start the server with SLANT_ADMIN_KEYS=<key>[,<key>...] and send one in the "
            f"{API_KEY_HEADER} header",
        )
    if not provided:
        raise UnauthorizedError(
            f"this admin route needs an admin key in the {API_KEY_HEADER} header",
            field=API_KEY_HEADER,
            fix=f"send the header {API_KEY_HEADER}: <one of SLANT_ADMIN_KEYS>",
        )
    if _matches(provided, settings.admin_keys):
        return
    if _matches(provided, settings.api_keys):
        # A key this server knows, without admin rights: authenticated, not allowed.
        raise ForbiddenError(
            f"the {API_KEY_HEADER} header does not hold an admin key",
            field=API_KEY_HEADER,
            fix="admin routes need one of SLANT_ADMIN_KEYS; ask whoever runs this server",
        )
    raise UnauthorizedError(
        f"the {API_KEY_HEADER} header does not hold a valid key",
        field=API_KEY_HEADER,
        fix=f"send the header {API_KEY_HEADER}: <one of SLANT_ADMIN_KEYS>",
    )


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.slant
    return state


def ready_state(state: Annotated[ServiceState, Depends(get_state)]) -> ServiceState:
    if not state.ready or state.predictor is None or state.batcher is None:
        why = f" (warm-up failed: {state.warmup_error})" if state.warmup_error else ""
        raise NotReadyError(
            f"the model is not loaded and warm yet{why}", fix="retry when /readyz answers 200"
        )
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]
ReadyDep = Annotated[ServiceState, Depends(ready_state)]
