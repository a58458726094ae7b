"""OpenAPI descriptions of the error responses, all in the one error format."""

from __future__ import annotations

from typing import Any

from ..schemas import ErrorResponse

_WHAT = {
    401: "Missing or unknown X-API-Key (on /v1 routes when the server has API keys configured; always on "
    "the admin routes).",
    403: "Admin route: the server has no admin keys (SLANT_ADMIN_KEYS), or X-API-Key is a user key "
    "(SLANT_API_KEYS), not an admin key.",
    404: "No such job (jobs are kept in memory since the server started).",
    408: "The request body was not complete within SLANT_BODY_TIMEOUT_SECONDS (the connection is closed).",
    409: "A job is already running; its id is in the message and the Location header.",
    413: "Body, item count, actor count or a text over a limit (see GET /v1/models).",
    415: "A body without the header Content-Type: application/json.",
    422: "Invalid input: malformed JSON, wrong types, a missing or empty text, invalid UTF-8, binary data.",
    429: "The queue is full; retry after the seconds in Retry-After.",
    500: "The promoted model version could not be loaded; the previous model keeps serving.",
    503: "The model is still loading or warming up; retry after the seconds in Retry-After.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _WHAT[s]} for s in statuses}
