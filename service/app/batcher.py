"""Micro-batching: one queue owner merges concurrent requests into one forward pass of the predictor.

The design is deliberately small. Requests append a job to a bounded queue (counted in texts)
and await a future. One asyncio task owns the queue: it waits up to ``max_wait_ms`` after the
first job arrives (or until a full batch is waiting), takes jobs with the same options up to the
text and character budgets, and runs the predictor once for all their texts on a single
inference thread, with ``per_text_actors`` so every text keeps its own actors. Results are split
back to each job's future. While a batch runs, new requests queue up and form the next batch.

Stance jobs (``/v1/stance``) and analysis jobs (``/v1/analyze``, stance plus the bias heads) share
batches: a batch with an analysis job calls ``predictor.analyze`` with one bias flag per text, so
only the texts that asked for bias pay for the heads' sentences, and every job gets back only what
it asked for. A batch of stance jobs alone calls ``predictor.predict``, exactly as before.

Jobs whose client went away are removed from the queue before inference.

Hot swap: the batcher holds no predictor of its own. It is given a function that returns the
serving one (the app's :class:`~service.app.state.ServiceState` owns it), and each batch calls it
when the batch is formed, so batches formed after a swap use the new model while a batch already
running finishes on the old one; every result says which model computed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from model import SlantError, StancePredictor
from model.actors import Actor
from model.types import ActorStance, Bias

from .errors import NotReadyError, OverloadedError
from .metrics import Metrics

log = logging.getLogger("service.app")
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """predict() options; only jobs with equal options share a batch."""

    evidence: int = 3
    score_unmentioned: bool = False
    discover_limit: int = 5


@dataclass
class BatchResult:
    results: list[list[ActorStance]]
    queue_ms: float
    inference_ms: float
    batch_texts: int
    model: str = ""
    """Name and version of the predictor that computed these results (it can change on a swap)."""
    version: str = ""
    bias: list[Bias | None] | None = None
    """For a job submitted with ``bias=True``: each text's bias (None without bias heads)."""


@dataclass(eq=False)
class _Job:
    texts: list[str]
    actors: list[list[Actor] | None]
    options: Options
    future: asyncio.Future[BatchResult]
    enqueued: float
    chars: int
    bias: bool = False
    years: list[int | None] | None = None
    """One year per text (from its date; None: inferred from the text), or None for no dates."""


class MicroBatcher:
    """Bounded queue plus one worker that batches across requests.

    ``predictor`` returns the predictor to serve; it is called once per batch, as the batch forms.

    >>> batcher = MicroBatcher(lambda: predictor, queue_size=256, max_batch_texts=32)  # doctest: +SKIP
    >>> batcher.start()                                                        # doctest: +SKIP
    >>> result = await batcher.submit(["Sanders won."], [["Bernie Sanders"]], Options())  # doctest: +SKIP
    """

    def __init__(
        self,
        predictor: Callable[[], StancePredictor],
        *,
        queue_size: int = 256,
        max_batch_texts: int = 32,
        max_batch_chars: int = 400_000,
        max_wait_ms: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._serving = predictor
        self.queue_size = queue_size
        self.max_batch_texts = max_batch_texts
        self.max_batch_chars = max_batch_chars
        self.max_wait = max_wait_ms / 1000
        self.metrics = metrics
        self._pending: deque[_Job] = deque()
        self._queued = 0
        self._inflight: list[_Job] = []
        self._wakeup = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # One inference thread: torch already uses every core for one forward pass, and a single
        # owner keeps batches large under load.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slant-inference")
        self._sec_per_text = 0.1  # running estimate, for Retry-After

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="slant-batcher")

    async def stop(self) -> None:
        """Stop the worker; jobs still waiting (or running) get a 503. uvicorn drains requests first."""
        stranded = [*self._pending, *self._inflight]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for job in stranded:
            if not job.future.done():
                job.future.set_exception(
                    NotReadyError("the server is shutting down", fix="retry on another replica")
                )
        self._pending.clear()
        self._queued = 0
        self._set_depth()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def pause(self) -> None:
        """Stop taking batches (queued requests wait); for maintenance and deterministic tests.

        Safe to call from any thread.
        """
        self._threadsafe(self._running.clear)

    def resume(self) -> None:
        self._threadsafe(self._running.set)
        self._threadsafe(self._wakeup.set)

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        # asyncio events are not thread-safe: from another thread, hand the call to the loop.
        loop = self._loop
        try:
            same_thread = loop is None or asyncio.get_running_loop() is loop
        except RuntimeError:
            same_thread = False
        if same_thread or loop is None:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    @property
    def queued_texts(self) -> int:
        return self._queued

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the inference thread (used for the warm-up prediction)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    # -- requests --------------------------------------------------------------------------------

    def submit(
        self,
        texts: Sequence[str],
        actors: Sequence[list[Actor] | None],
        options: Options,
        *,
        bias: bool = False,
        years: Sequence[int | None] | None = None,
    ) -> asyncio.Future[BatchResult]:
        """Queue validated texts (with one parsed actor list or None per text, and optionally one
        year or None per text: the article's date, see :func:`model.linking.parse_year`); the
        future gets their results.

        With ``bias`` the result also carries each text's bias (``BatchResult.bias``). Raises
        OverloadedError when the texts do not fit in the queue. Cancel the future to withdraw a
        job that has not run yet.
        """
        if self._task is None or self._task.done():
            raise NotReadyError("the inference worker is not running", fix="retry in a few seconds")
        n = len(texts)
        if self._queued + n > self.queue_size:
            if self.metrics:
                self.metrics.rejected.inc()
            raise OverloadedError(
                f"the queue is full ({self._queued} of {self.queue_size} texts waiting; "
                f"this request has {n})",
                retry_after=self._retry_after(),
                fix="retry after the number of seconds in Retry-After",
            )
        future: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        job = _Job(
            list(texts),
            list(actors),
            options,
            future,
            time.perf_counter(),
            sum(len(t) for t in texts),
            bias=bias,
            years=list(years) if years is not None else None,
        )
        future.add_done_callback(lambda f: self._withdraw(job) if f.cancelled() else None)
        self._pending.append(job)
        self._queued += n
        self._set_depth()
        self._wakeup.set()
        return future

    def _withdraw(self, job: _Job) -> None:
        if job in self._pending:
            self._pending.remove(job)
            self._queued -= len(job.texts)
            self._set_depth()
            if self.metrics:
                self.metrics.dropped.inc()

    def _retry_after(self) -> int:
        return max(1, min(60, math.ceil(self._queued * self._sec_per_text)))

    def _set_depth(self) -> None:
        if self.metrics:
            self.metrics.queue_depth.set(self._queued)

    # -- the worker ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._running.wait()
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Give concurrent requests a moment to join the first one, unless a full batch waits.
            remaining = self._pending[0].enqueued + self.max_wait - time.perf_counter()
            if remaining > 0 and self._queued < self.max_batch_texts:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                continue
            if not self._running.is_set():
                continue
            batch = self._take()
            if batch:
                self._inflight = batch
                try:
                    await self._execute(batch)
                finally:
                    self._inflight = []

    def _take(self) -> list[_Job]:
        """The head job plus later jobs with the same options, within the text and character budgets."""
        options = self._pending[0].options
        batch: list[_Job] = []
        kept: deque[_Job] = deque()
        texts = chars = 0
        for job in self._pending:
            fits = (
                texts + len(job.texts) <= self.max_batch_texts and chars + job.chars <= self.max_batch_chars
            )
            if job.options == options and (not batch or fits):
                batch.append(job)
                texts += len(job.texts)
                chars += job.chars
            else:
                kept.append(job)
        self._pending = kept
        self._queued -= texts
        self._set_depth()
        return batch

    async def _execute(self, batch: list[_Job]) -> None:
        options = batch[0].options
        texts = [t for job in batch for t in job.texts]
        actors = [a for job in batch for a in job.actors]
        wants = [job.bias for job in batch for _ in job.texts]
        years = [y for job in batch for y in (job.years or [None] * len(job.texts))]
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            # Taken when the batch is formed: a swap from now on does not touch this batch.
            predictor = self._serving()
            results, biases = await loop.run_in_executor(
                self._executor, self._predict, predictor, texts, actors, options, wants, years
            )
        except SlantError as exc:
            # Requests are validated before they are queued, so this is rare; never let one
            # request's problem fail the others: run them one by one.
            if len(batch) > 1:
                for job in batch:
                    await self._execute([job])
            elif not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        except Exception as exc:
            log.error("inference failed for a batch of %d texts", len(texts), exc_info=exc)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        finished = time.perf_counter()
        seconds = finished - started
        self._sec_per_text = 0.8 * self._sec_per_text + 0.2 * seconds / max(1, len(texts))
        if self.metrics:
            self.metrics.batch_texts.observe(len(texts))
            self.metrics.batch_requests.observe(len(batch))
            self.metrics.inference.observe(seconds)
        k = 0
        for job in batch:
            n = len(job.texts)
            if self.metrics:
                self.metrics.queue_wait.observe(started - job.enqueued)
            if not job.future.done():
                job.future.set_result(
                    BatchResult(
                        results[k : k + n],
                        queue_ms=(started - job.enqueued) * 1000,
                        inference_ms=seconds * 1000,
                        batch_texts=len(texts),
                        # getattr: a stand-in predictor (tests, wrappers) may not carry a name.
                        model=str(getattr(predictor, "name", "")),
                        version=str(getattr(predictor, "version", "")),
                        bias=biases[k : k + n] if job.bias else None,
                    )
                )
            k += n

    @staticmethod
    def _predict(
        predictor: StancePredictor,
        texts: list[str],
        actors: list[list[Actor] | None],
        options: Options,
        wants: list[bool],
        years: list[int | None],
    ) -> tuple[list[list[ActorStance]], list[Bias | None]]:
        """(stance per text, bias per text): one forward pass for the whole batch."""
        kwargs: dict[str, Any] = {
            "per_text_actors": actors,
            "dates": years,
            "evidence": options.evidence,
            "discover_limit": options.discover_limit,
            "score_unmentioned": options.score_unmentioned,
        }
        if not any(wants):
            # predict() is analyze(bias=False): stance-only batches take the path they always took.
            return predictor.predict(texts, **kwargs), [None] * len(texts)
        # One flag per text: texts of stance-only jobs do not pay for the bias heads' sentences.
        found = predictor.analyze(texts, bias=wants if not all(wants) else True, **kwargs)
        return [a.stance for a in found], [a.bias for a in found]
