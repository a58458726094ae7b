"""Service fixtures (imported by the test modules; a conftest.py here would shadow the root one
for `from conftest import ...`): apps on the tiny model, started with their lifespan, warmed up."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from service.app import Settings, create_app


def settings(**overrides: Any) -> Settings:
    """Settings from the given values only: SLANT_* variables of the shell do not leak into tests."""
    saved = {
        k: os.environ.pop(k)
        for k in list(os.environ)
        if k.startswith("SLANT_") and k.removeprefix("SLANT_").lower() in Settings.model_fields
    }
    try:
        return Settings(**overrides)
    finally:
        os.environ.update(saved)


def wait_ready(client: TestClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready after {timeout}s: {client.get('/readyz').json()}")


@contextmanager
def serving(predictor: Any, *, ready: bool = True, **overrides: Any) -> Iterator[TestClient]:
    """A TestClient over a fresh app (its own batcher and metrics), lifespan started."""
    app = create_app(settings(**overrides), predictor=predictor)
    with TestClient(app, raise_server_exceptions=False) as client:
        if ready:
            wait_ready(client)
        yield client


# Fixture functions carry a `_fixture` suffix so test modules can import them without their
# parameters shadowing the import (pytest registers them under `name`).
@pytest.fixture(scope="module", name="client")
def client_fixture(tiny_predictor: Any) -> Iterator[TestClient]:
    with serving(tiny_predictor) as c:
        yield c


@pytest.fixture(scope="module", name="bias_client")
def bias_client_fixture(tiny_bias_predictor: Any) -> Iterator[TestClient]:
    """The tiny model with all three bias heads (leaning, hyperpartisan, loaded language)."""
    with serving(tiny_bias_predictor) as c:
        yield c


class GatedPredictor:
    """Wraps a predictor; every predict() and analyze() waits for ``gate`` (set it to let inference run)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _wait(self) -> None:
        self.calls += 1
        if not self.gate.wait(30):
            raise TimeoutError("gate never opened")

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self.inner.predict(*args, **kwargs)

    def analyze(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self.inner.analyze(*args, **kwargs)


@pytest.fixture(name="serve")
def serve_fixture():
    """``with serve(predictor, **settings) as client:`` a fresh app on its own settings."""
    return serving


@pytest.fixture(name="gated")
def gated_fixture(tiny_predictor: Any) -> GatedPredictor:
    return GatedPredictor(tiny_predictor)


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if thread.is_alive() and server.started:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("the server did not become ready")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
