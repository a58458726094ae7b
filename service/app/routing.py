"""The route class of the /v1 API: auth and a strict JSON body check before FastAPI reads the body."""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from model.errors import InvalidInputError

from .errors import UnsupportedMediaTypeError
from .state import API_KEY_HEADER, check_admin_key, check_api_key, get_state


class GuardedRoute(APIRoute):
    """Checks the API key first (a caller without one learns nothing about the body rules),
    then that a body is UTF-8 JSON, with errors that say where it is not.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            check_api_key(get_state(request).settings, request.headers.get(API_KEY_HEADER))
            if has_body:
                await _check_json_body(request)
            return await handler(request)

        return guarded


class AdminRoute(APIRoute):
    """The admin routes (retrain, jobs, model reload): an admin key first (403 while the server has
    none configured), then the JSON body checks when a body was sent (an empty body is allowed)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            check_admin_key(get_state(request).settings, request.headers.get(API_KEY_HEADER))
            if has_body and (await request.body()).strip():
                await _check_json_body(request)
            return await handler(request)

        return guarded


async def _check_json_body(request: Request) -> None:
    # A JSON Content-Type is required, not assumed: a web page can send a form, text/plain or no
    # Content-Type across sites without a CORS preflight, and must not be able to write labels.
    content_type = request.headers.get("content-type")
    subtype = ""
    if content_type:
        msg = email.message.Message()
        msg["content-type"] = content_type
        subtype = msg.get_content_subtype() if msg.get_content_maintype() == "application" else ""
    if not (subtype == "json" or subtype.endswith("+json")):
        found = f"Content-Type {content_type[:80]!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaTypeError(
            f"expected a JSON body (Content-Type: application/json), found {found}",
            field="Content-Type",
            fix="send JSON with the header Content-Type: application/json",
        )
    body = await request.body()
    if not body.strip():
        raise InvalidInputError(
            "the request body is empty",
            field="body",
            fix='send a JSON object, e.g. {"text": "...", "actors": ["DNC"]}',
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the body is not valid UTF-8 (bad byte 0x{body[exc.start]:02x} at byte {exc.start})",
            field="body",
            fix="send the JSON encoded as UTF-8; binary files are not accepted",
        ) from None
