"""Prometheus metrics, one registry per app (so several apps in one process never collide)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
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


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (not raw path: bounded label values)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, known_paths: Callable[[], frozenset[str]]) -> None:
        self.app = app
        self.metrics = metrics
        self.known_paths = known_paths

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
            # Every route of this app is a fixed path, so the raw path is the template when known.
            path = scope.get("path", "")
            labels = (path if path in self.known_paths() else "other", scope.get("method", ""), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
