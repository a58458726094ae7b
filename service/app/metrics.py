"""Prometheus metrics, one registry per app (so several apps in one process never collide)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "slant_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "slant_http_request_duration_seconds",
            "HTTP request latency by route and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_texts = Histogram(
            "slant_batch_texts", "Texts per micro-batch.", buckets=_BATCH_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "slant_batch_requests", "Requests per micro-batch.", buckets=_BATCH_BUCKETS, registry=r
        )
        self.inference = Histogram(
            "slant_inference_duration_seconds",
            "Time of one micro-batch's predict() call.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "slant_queue_wait_seconds",
            "Time a request waited before its batch ran.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("slant_queue_depth", "Texts waiting for inference.", registry=r)
        self.rejected = Counter(
            "slant_queue_rejected", "Requests answered 429 because the queue was full.", registry=r
        )
        self.dropped = Counter(
            "slant_queue_dropped", "Queued requests dropped because the client went away.", registry=r
        )
        self.ready = Gauge("slant_ready", "1 once the model is loaded and warm.", registry=r)
        self.model_info = Info("slant_model", "The loaded model.", registry=r)
        self.reloads = Counter(
            "slant_model_reloads",
            "Model hot swaps by outcome (swapped, unchanged, failed).",
            ["outcome"],
            registry=r,
        )


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
"""Method label values; any other method (HTTP allows any token) counts as "other"."""


class RouteLabels:
    """The route template a raw path matches (``/v1/jobs/{job_id}``), else "other": a label never holds
    a raw path, so made-up paths cannot grow /metrics. Templates are read on first use."""

    def __init__(self, templates: Callable[[], Iterable[str]], *, prefixes: Iterable[str] = ()) -> None:
        self._templates = templates
        self._prefixes = tuple(prefixes)
        self._exact: frozenset[str] | None = None
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    def __call__(self, path: str) -> str:
        if self._exact is None:
            templates = list(self._templates())
            self._exact = frozenset(t for t in templates if "{" not in t)
            self._patterns = [(compile_path(t)[0], t) for t in templates if "{" in t]
        if path in self._exact:
            return path
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return next((p for p in self._prefixes if path.startswith(p + "/")), "other")


class MetricsMiddleware:
    """Counts and times every HTTP request by route template and method, each from a bounded set."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, route_of: Callable[[str], str]) -> None:
        self.app = app
        self.metrics = metrics
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope.get("method", "")
            route = self.route_of(scope.get("path", ""))
            labels = (route, method if method in METHODS else "other", str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
