"""Request bodies over a real uvicorn server on 127.0.0.1: a refused body is drained so the client
reads its 413, a half-sent body is a 408 after the read timeout, and a client that leaves mid-body is
counted as 499 and logged in one line, never a 500 with tracebacks."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _api_fixtures import settings, uvicorn_server

from service.app import create_app

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def base(tiny_predictor: Any) -> Iterator[str]:
    app = create_app(settings(body_timeout_seconds=TIMEOUT_S), predictor=tiny_predictor)
    with uvicorn_server(app) as url:
        yield url


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def _read_all(sock: socket.socket, limit_s: float) -> bytes:
    """What the server sends until it closes the connection (or ``limit_s`` passes)."""
    sock.settimeout(limit_s)
    out = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            return out
        out += chunk
    raise AssertionError(f"the server did not close the connection within {limit_s}s; got {out[:200]!r}")


def test_a_five_megabyte_body_sent_in_full_gets_413(base):
    body = b'{"text": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    for _ in range(3):  # a reset is a race: try it more than once
        request = urllib.request.Request(
            f"{base}/v1/stance",
            data=body,
            headers={"Content-Type": "application/json", "Connection": "close"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 413
        err = json.loads(info.value.read())["error"]
        assert err["code"] == "input_too_large"
        assert err["message"] == f"request body is {len(body):,} bytes; the limit is 2,097,152"


def test_a_half_sent_body_is_408_after_the_read_timeout(base):
    with socket.create_connection(("127.0.0.1", _port(base)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/stance HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"text": "'
        )
        started = time.monotonic()
        answer = _read_all(sock, 10)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b'"code":"request_timeout"' in answer
    assert b"the request body was not complete within 1 seconds" in answer
    assert TIMEOUT_S * 0.8 < took < TIMEOUT_S + 5, took


def test_a_client_leaving_mid_body_is_a_499_in_one_log_line(base, caplog):
    def disconnects() -> int:
        text = httpx.get(f"{base}/metrics").text
        line = 'slant_http_requests_total{method="POST",route="/v1/stance",status="499"} '
        found = [ln for ln in text.splitlines() if ln.startswith(line)]
        return int(float(found[0].rsplit(" ", 1)[1])) if found else 0

    before = disconnects()
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", _port(base)), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/stance HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n" + b'{"text": "'
                )
                time.sleep(0.02)
        deadline = time.monotonic() + 10
        while disconnects() < before + 20:
            assert time.monotonic() < deadline, f"{disconnects() - before} of 20 disconnects counted"
            time.sleep(0.05)
    text = httpx.get(f"{base}/metrics").text
    assert 'route="/v1/stance",status="500"' not in text
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not bad, [(r.name, r.levelname, r.getMessage()) for r in bad]
    lines = [r.getMessage() for r in caplog.records if "client_closed_request" in r.getMessage()]
    assert len(lines) == 20, lines
    assert lines[0] == (
        "499 client_closed_request: the client closed the connection before sending the whole body"
    )
