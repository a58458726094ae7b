"""Request guards that run before routing: the body-size cap."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.errors import InputTooLargeError, InvalidInputError

from .errors import error_response


def _too_large(size: str, limit: int) -> InputTooLargeError:
    return InputTooLargeError(
        f"request body is {size} bytes; the limit is {limit:,}",
        field="body",
        fix="send fewer or shorter texts per request (see max_body_bytes at /v1/models)",
    )


class BodyLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes``: by Content-Length up front, and by counting streamed bytes.

    A chunked upload with no Content-Length is cut off as soon as it passes the limit, so a
    client cannot make the server buffer more than ``max_bytes``.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                bad = InvalidInputError(
                    f"Content-Length header {declared[:40]!r} is not a byte count", field="body"
                )
                await error_response(bad)(scope, receive, send)
                return
            if length > self.max_bytes:
                await error_response(_too_large(f"{length:,}", self.max_bytes))(scope, receive, send)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read, so the app's error handler renders it.
                    raise _too_large(f"over {self.max_bytes:,}", self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
