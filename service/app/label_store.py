"""The service's handle on the label store, opened on first use so /v1/stance never waits on it."""

from __future__ import annotations

import logging
import threading
import time

from fastapi import Request

from model.errors import SlantError
from training.store import LabelStore, StoreUnavailableError

log = logging.getLogger("service.app")


class StoreHolder:
    """Opens the store once, on the first /v1/labels request; a failure is remembered for
    ``retry_s`` seconds (each request in that time gets the same 503), then tried again."""

    def __init__(self, url: str | None, *, retry_s: float = 5.0) -> None:
        self._url = url
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._store: LabelStore | None = None
        self._error: StoreUnavailableError | None = None
        self._failed_at = 0.0

    def get(self) -> LabelStore:
        """The open store (blocking: call it off the event loop), or StoreUnavailableError."""
        with self._lock:
            if self._store is not None:
                return self._store
            if self._error is not None and time.monotonic() - self._failed_at < self._retry_s:
                raise StoreUnavailableError(self._error.message, fix=self._error.fix)
            try:
                self._store = LabelStore.open(self._url)
            except SlantError as exc:
                self._fail(exc.message, exc.fix)
            except Exception as exc:  # a driver error we did not foresee: still a 503, and logged
                log.error("cannot open the label store", exc_info=exc)
                self._fail(f"{type(exc).__name__}: {str(exc).strip()[:300]}", None)
            assert self._store is not None
            log.info("label store open: %s", self._store.url)
            return self._store

    def _fail(self, message: str, fix: str | None) -> None:
        self._error = StoreUnavailableError(
            f"the label store cannot be opened: {message}",
            fix=fix or "check SLANT_DATABASE_URL and that the database is running; then retry",
        )
        self._failed_at = time.monotonic()
        log.warning("%s", self._error)
        raise self._error

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def store_holder(request: Request) -> StoreHolder:
    holder: StoreHolder = request.app.state.label_store
    return holder
