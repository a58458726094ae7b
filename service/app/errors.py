"""The one error format of the HTTP service, and the one place that maps errors to HTTP status.

Every error leaves as ``{"error": {"code": ..., "message": ..., "field": ..., "fix": ...}}``.
Caller mistakes are logged at INFO at most; only a bug in the service logs at ERROR.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from model.errors import InvalidInputError, SlantError

log = logging.getLogger("service.app")


class UnauthorizedError(SlantError):
    code = "unauthorized"


class OverloadedError(SlantError):
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class NotReadyError(SlantError):
    code = "not_ready"

    def __init__(self, message: str, *, retry_after: int = 2, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ForbiddenError(SlantError):
    """An admin route without admin rights: no admin keys configured, or the key is not one."""

    code = "forbidden"


class NotFoundError(SlantError):
    code = "not_found"


class JobRunningError(SlantError):
    """A background job was asked for while another one runs (one at a time)."""

    code = "job_running"

    def __init__(self, message: str, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job_id = job_id


class ReloadFailedError(SlantError):
    """The new model could not be loaded; the old one keeps serving."""

    code = "reload_failed"


class ClientClosedError(SlantError):
    """The client went away before its answer was ready (nobody reads this response)."""

    code = "client_closed_request"


class RequestTimeoutError(SlantError):
    """The request body did not arrive in time (``SLANT_BODY_TIMEOUT_SECONDS``)."""

    code = "request_timeout"


class UnsupportedMediaTypeError(SlantError):
    """A JSON route was sent a body that does not say it is JSON (``Content-Type``)."""

    code = "unsupported_media_type"


class HTTPError(SlantError):
    """A routing-level error (unknown path, wrong method) carried in the same format."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 422,
    "input_too_large": 413,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "request_timeout": 408,
    "unsupported_media_type": 415,
    "job_running": 409,
    "reload_failed": 500,
    "overloaded": 429,
    "not_ready": 503,
    "store_unavailable": 503,
    "client_closed_request": 499,
    "internal_error": 500,
}
"""HTTP status of each error code; any other SlantError is something the caller can fix: 422."""


def status_of(exc: SlantError) -> int:
    if isinstance(exc, HTTPError):
        return exc.status
    return STATUS_BY_CODE.get(exc.code, 422)


def error_body(code: str, message: str, field: str | None = None, fix: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "fix": fix}}


class ErrorJSONResponse(JSONResponse):
    """ASCII-escaped JSON: an error may quote input that is not encodable as UTF-8 (lone surrogates)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(exc: SlantError) -> JSONResponse:
    """Render any SlantError as the service's error format with its status and headers."""
    status = status_of(exc)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if status == 401:
        headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
    if isinstance(exc, JobRunningError):
        headers["Location"] = f"/v1/jobs/{exc.job_id}"
    # Caller mistakes and load shedding are routine: never ERROR (that is for bugs, see on_bug).
    log.log(logging.WARNING if status == 429 else logging.INFO, "%s %s: %s", status, exc.code, exc)
    return ErrorJSONResponse(
        error_body(exc.code, exc.message, exc.field, exc.fix), status_code=status, headers=headers
    )


# Union branches show up in an error's loc as type names ("str", "list[StanceItem]") or tags; they
# say nothing to a caller.
_UNION_TAGS = {"str", "int", "actor-name", "actor-object"}


def _field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (
            isinstance(part, str)
            and part not in _UNION_TAGS
            and "[" not in part
            and not part.startswith("function-")
        ):
            out += ("." if out else "") + part
    return out[:200] or None


_JSON_TYPE = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean"}


def validation_error(exc: RequestValidationError) -> SlantError:
    """The first pydantic error of a request as an InvalidInputError-shaped error."""
    errors = list(exc.errors())
    if not errors:
        return HTTPError("the request could not be validated", code="invalid_input", status=422)
    first = errors[0]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        pos = first.get("loc", ("body", "?"))[-1]
        error = (first.get("ctx") or {}).get("error", "JSON decode error")
        return InvalidInputError(
            f"the body is not valid JSON: {error} at character {pos}",
            field="body",
            fix='send a JSON object, e.g. {"text": "...", "actors": ["DNC"]}',
        )
    if first.get("type") == "missing":
        message = "this field is required"
    elif str(first.get("type", "")).endswith(("_type", "_parsing")) and "input" in first:
        found = _JSON_TYPE.get(type(first["input"]), "null" if first["input"] is None else "value")
        message = f"{message[:1].lower()}{message[1:]}; found {found}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return InvalidInputError(
        message, field=_field(first.get("loc", ())), fix="see the request schema and examples at /docs"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through :func:`error_response`."""

    async def on_slant_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SlantError)
        return error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 400:
            # FastAPI's answer to a body json.loads() gave up on (not a JSONDecodeError): nesting too
            # deep, or an integer with too many digits. Still the caller's invalid input.
            return error_response(
                InvalidInputError(
                    "the body could not be parsed as JSON "
                    "(nested too deeply, or a number with too many digits)",
                    field="body",
                    fix='send a JSON object, e.g. {"text": "...", "actors": ["DNC"]}',
                )
            )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "error"
        message = exc.detail if isinstance(exc.detail, str) else phrase
        fix = None
        if status == 404:
            message, fix = f"no route {request.method} {request.url.path[:200]}", "see /docs for the routes"
        elif status == 405:
            message, fix = (
                f"{request.method} is not allowed on {request.url.path[:200]}",
                "see /docs for the methods",
            )
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        error = HTTPError(message, code=code, status=status)
        error.fix = fix
        response = error_response(error)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's own report of a client gone mid-body: the caller's doing, not a bug.
        return error_response(ClientClosedError("the client closed the connection before sending the body"))

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = error_body(
            "internal_error",
            "the server hit an unexpected error; it has been logged",
            fix="retry later; report it if it persists",
        )
        return ErrorJSONResponse(body, status_code=500)

    app.add_exception_handler(SlantError, on_slant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(Exception, on_bug)
