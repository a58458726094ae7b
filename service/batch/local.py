"""The local engine: label batches in this process, or in N worker processes, output order kept.

With one worker the model is loaded here and batches run in-process. With N workers a spawn-context
process pool is used (fork would copy a live torch runtime); each worker loads the model once in
its initializer and uses ``max(1, cpu_count // N)`` torch threads, so N workers do not fight over
the cores. At most ``2 x N`` batches are in flight, so memory stays flat however long the input.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from model.errors import SlantError

from .heads import describe_heads
from .rows import RowOptions, label_batch
from .sources import RawRow

T = TypeVar("T")
BatchResult = tuple[list[dict[str, Any]], list[dict[str, Any]]]

_PREDICTOR: Any = None
_INIT_ERROR: SlantError | None = None


def load_predictor(
    model: str | None,
    *,
    backend: str | None = None,
    device: str | None = None,
    heads: list[str] | None = None,
) -> Any:
    """The one loader both engines use (``StancePredictor.load``; ``backend`` None: ``$SLANT_BACKEND``
    or ``auto``; ``heads`` None: ``$SLANT_HEADS``)."""
    from model import StancePredictor

    return StancePredictor.load(model, backend=backend, device=device, heads=heads)


def quiet_worker(threads: int) -> None:
    """Set up a worker process: torch threads, and no per-process Hugging Face progress bars."""
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(max(1, threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """Exit this worker when its parent dies (after a kill -9 the pool cannot tell it to stop)."""

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="slant-parent-watch", daemon=True).start()


def _init_worker(
    model: str | None, backend: str | None, device: str | None, threads: int, parent: int
) -> None:
    global _PREDICTOR, _INIT_ERROR
    _exit_with_parent(parent)
    quiet_worker(threads)
    try:
        _PREDICTOR = load_predictor(model, backend=backend, device=device)
    except SlantError as exc:
        # An initializer that raises only breaks the pool ("BrokenProcessPool"); keep the error
        # and raise it from the first task instead, so the parent gets the real message.
        _INIT_ERROR = exc


def _predictor() -> Any:
    if _INIT_ERROR is not None:
        raise _INIT_ERROR
    return _PREDICTOR


def _work(batch: Sequence[RawRow], opts: RowOptions) -> BatchResult:
    return label_batch(_predictor(), batch, opts)


def _identity(_: int) -> dict[str, str]:
    predictor = _predictor()
    return {"name": predictor.name, "version": predictor.version}


def _heads(_: int) -> list[dict[str, Any]]:
    return describe_heads(_predictor())


class LocalEngine:
    """Label an iterable of batches, yielding one result per batch in input order.

    >>> with LocalEngine(model="models/default", workers=2) as engine:       # doctest: +SKIP
    ...     for tag, (results, errors) in engine.map(tagged_batches, RowOptions()): ...
    """

    def __init__(
        self, *, model: str | None, workers: int = 1, backend: str | None = None, device: str | None = None
    ) -> None:
        self.model = model
        self.workers = max(1, workers)
        self.backend = backend
        self.device = device
        self._pool: ProcessPoolExecutor | None = None
        self._predictor: Any = None

    def __enter__(self) -> LocalEngine:
        if self.workers == 1:
            self._predictor = load_predictor(self.model, backend=self.backend, device=self.device)
        else:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.model, self.backend, self.device, threads, os.getpid()),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def identity(self) -> dict[str, str]:
        """The loaded model's name and version (asks a worker when there is a pool)."""
        if self._pool is not None:
            return self._pool.submit(_identity, 0).result()
        return {"name": self._predictor.name, "version": self._predictor.version}

    def heads(self) -> list[dict[str, Any]]:
        """The loaded model's bias heads (see :func:`describe_heads`; asks a worker when pooled)."""
        if self._pool is not None:
            return self._pool.submit(_heads, 0).result()
        return describe_heads(self._predictor)

    def map(
        self, items: Iterable[tuple[T, Sequence[RawRow]]], opts: RowOptions
    ) -> Iterator[tuple[T, BatchResult]]:
        """``(tag, result)`` for each ``(tag, batch)``, in order, consuming ``items`` lazily."""
        if self._pool is None:
            for tag, batch in items:
                yield tag, label_batch(self._predictor, batch, opts)
            return
        window: deque[tuple[T, Future[BatchResult]]] = deque()
        for tag, batch in items:
            window.append((tag, self._pool.submit(_work, list(batch), opts)))
            if len(window) >= 2 * self.workers:
                done_tag, future = window.popleft()
                yield done_tag, future.result()
        while window:
            done_tag, future = window.popleft()
            yield done_tag, future.result()
