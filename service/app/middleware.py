"""Request guards that run before routing: the body-size cap, the body read deadline, and a client that
leaves mid-body."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.errors import InputTooLargeError, InvalidInputError

from .errors import ClientClosedError, RequestTimeoutError, error_response

DRAIN_BYTES = 32 * 1024 * 1024
"""Most bytes of a refused body read and thrown away before answering 413. A client that sends its
whole body before reading the answer (Python's urllib, most simple clients) would otherwise have the
connection reset under it (the server closing with unread data) and never see the 413; above this
the connection is closed without reading on."""

_CLOSE = (b"connection", b"close")


def _too_large(size: str, limit: int) -> InputTooLargeError:
    return InputTooLargeError(
        f"request body is {size} bytes; the limit is {limit:,}",
        field="body",
        fix="send fewer or shorter texts per request (see max_body_bytes at /v1/models)",
    )


def _timed_out(seconds: float) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"the request body was not complete within {seconds:g} seconds",
        field="body",
        fix="send the whole body at once, or ask whoever runs this server to raise "
        "SLANT_BODY_TIMEOUT_SECONDS",
    )


class BodyLimitMiddleware:
    """Guards the request body before any route reads it:

    - over ``max_bytes``: 413, by Content-Length up front or by counting streamed bytes (a chunked
      upload is cut off as soon as it passes the limit, so the server never buffers more than
      ``max_bytes``); the rest of the body is drained (up to :data:`DRAIN_BYTES`) so that the
      client receives the 413;
    - not complete ``timeout`` seconds after the request started: 408 (a half-sent request does not
      hold a connection open for ever);
    - the client went away mid-body: 499 ``client_closed_request``, logged in one line (nobody reads
      the answer; it is counted in /metrics);

    and closes the connection after each of those answers.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _BodyGuard(receive, send, max_bytes=self.max_bytes, timeout=self.timeout)
        declared, expect_continue = _body_headers(scope)
        if declared is not None and await guard.refused_by_length(scope, declared, expect_continue):
            return
        await self.app(scope, guard.receive, guard.send)


def _body_headers(scope: Scope) -> tuple[bytes | None, bool | None]:
    """The (first) Content-Length header, and whether the client sent ``Expect: 100-continue``."""
    declared = expect_continue = None
    for key, value in scope.get("headers", []):
        if key == b"content-length" and declared is None:
            declared = value
        elif key == b"expect":
            expect_continue = value.lower() == b"100-continue"
    return declared, expect_continue


class _BodyGuard:
    """One request's body: counted against ``max_bytes``, read within the deadline, and the
    connection closed after an answer that leaves the body unread (``close``)."""

    def __init__(self, receive: Receive, send: Send, *, max_bytes: int, timeout: float) -> None:
        self._receive = receive
        self._send = send
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + timeout
        self.close = False
        self.received = 0
        self.complete = False

    async def send(self, message: Message) -> None:
        if self.close and message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
        await self._send(message)

    async def refused_by_length(self, scope: Scope, declared: bytes, expect_continue: bool | None) -> bool:
        """Answer 422 for a Content-Length that is not a byte count and 413 for one over the limit;
        returns whether it answered."""
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length < 0:
            bad = InvalidInputError(
                f"Content-Length header {declared[:40]!r} is not a byte count", field="body"
            )
            self.close = True
            await error_response(bad)(scope, self._receive, self.send)
            return True
        if length > self.max_bytes:
            # With Expect: 100-continue the client waits for a go-ahead before sending the body:
            # answering at once saves it the upload.
            if not expect_continue and length <= DRAIN_BYTES:
                await self._drain(0)
            self.close = True
            await error_response(_too_large(f"{length:,}", self.max_bytes))(scope, self._receive, self.send)
            return True
        return False

    async def receive(self) -> Message:
        """The app's ``receive``: the body counted and within the deadline, then the disconnect."""
        if self.complete:
            return await self._receive()  # after the body, only the disconnect: no deadline
        try:
            message = await self._next_message()
        except RequestTimeoutError:
            self.close = True
            raise
        if message["type"] == "http.disconnect":
            self.complete = True
            raise ClientClosedError("the client closed the connection before sending the whole body")
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.received > self.max_bytes:
                if not self.complete:
                    await self._drain(self.received)
                self.complete = True
                # Raised inside the route's body read, so the app's error handler renders it.
                raise _too_large(f"over {self.max_bytes:,}", self.max_bytes)
        return message

    async def _next_message(self) -> Message:
        """The next message while the body is incomplete, within the deadline."""
        try:
            return await asyncio.wait_for(self._receive(), max(self._deadline - self._loop.time(), 0.001))
        except TimeoutError:
            raise _timed_out(self.timeout) from None

    async def _drain(self, already: int) -> None:
        """Read and discard what is left of the body, within the byte bound and the deadline."""
        self.close = True
        received = already
        while received <= DRAIN_BYTES:
            try:
                message = await self._next_message()
            except RequestTimeoutError:
                return
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
