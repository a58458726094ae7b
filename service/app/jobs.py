"""Background jobs (retraining) for the admin API: one at a time, on a thread off the event loop.

A job is queued, then running, then succeeded or failed; it collects timestamped progress lines and
ends with a JSON result or an error in the API's error shape. Jobs live in memory (the last
``history`` of them): a restart forgets them, while what a retrain wrote (the registry) stays.
The worker is a daemon thread, so a server that is stopped mid-retrain exits at once; the
half-written version directory is left in the registry folder, never registered.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from model.errors import SlantError

from .errors import JobRunningError, NotFoundError

log = logging.getLogger("service.app")

JobStatus = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[str], None]
JobFn = Callable[[Progress], dict[str, Any]]
_MAX_PROGRESS = 500  # lines kept per job; a long fine-tune logs every few steps


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobProgress:
    at: datetime
    message: str


@dataclass
class Job:
    """One background job; :meth:`JobRunner.get` hands out copies, so readers see a consistent view."""

    id: str
    kind: str
    params: dict[str, Any]
    status: JobStatus = "queued"
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: list[JobProgress] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


class JobRunner:
    """Runs one job at a time on a daemon thread; asking for a second while one is active is a 409.

    >>> job = runner.submit("retrain", lambda progress: {"version": "r1"}, params={})  # doctest: +SKIP
    >>> runner.get(job.id).status                                                      # doctest: +SKIP
    'succeeded'
    """

    def __init__(self, *, history: int = 50) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._history = history

    def submit(self, kind: str, fn: JobFn, *, params: dict[str, Any]) -> Job:
        """Queue ``fn(progress)`` as a job and start it; JobRunningError if one is active."""
        with self._lock:
            for other in self._jobs.values():
                if other.active:
                    raise JobRunningError(
                        f"{other.kind} job {other.id} is {other.status} "
                        f"(since {(other.started_at or other.created_at).isoformat(timespec='seconds')}); "
                        "one job runs at a time",
                        job_id=other.id,
                        fix=f"follow it at GET /v1/jobs/{other.id} and retry when it has finished",
                    )
            job = Job(id=uuid.uuid4().hex[:16], kind=kind, params=params)
            self._jobs[job.id] = job
            while len(self._jobs) > self._history:
                self._jobs.popitem(last=False)
            snapshot = self._copy(job)
        threading.Thread(target=self._run, args=(job, fn), name=f"slant-job-{job.id}", daemon=True).start()
        return snapshot

    def get(self, job_id: str) -> Job:
        """A copy of the job; NotFoundError when unknown (or forgotten)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(
                    f"no job {job_id!r} (jobs are kept in memory: the last {self._history}, "
                    "since the server started)",
                    field="job_id",
                    fix="use the id that POST /v1/retrain returned",
                )
            return self._copy(job)

    def active(self) -> Job | None:
        with self._lock:
            return next((self._copy(j) for j in self._jobs.values() if j.active), None)

    @staticmethod
    def _copy(job: Job) -> Job:
        return replace(job, progress=list(job.progress), params=dict(job.params))

    def _say(self, job: Job, message: str) -> None:
        with self._lock:
            job.progress.append(JobProgress(_now(), message))
            if len(job.progress) > _MAX_PROGRESS:
                del job.progress[1 : len(job.progress) - _MAX_PROGRESS + 1]  # keep the first line

    def _run(self, job: Job, fn: JobFn) -> None:
        with self._lock:
            job.status, job.started_at = "running", _now()
        try:
            result = fn(lambda message: self._say(job, message))
        except SlantError as exc:
            self._finish(
                job, error={"code": exc.code, "message": exc.message, "field": exc.field, "fix": exc.fix}
            )
        except Exception as exc:
            log.error("%s job %s failed", job.kind, job.id, exc_info=exc)
            self._finish(
                job,
                error={
                    "code": "internal_error",
                    "message": f"{type(exc).__name__}: {str(exc)[:500]}",
                    "field": None,
                    "fix": "see the server log; fix the cause and start a new job",
                },
            )
        else:
            self._finish(job, result=result)

    def _finish(
        self, job: Job, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            job.status = "failed" if error is not None else "succeeded"
            job.result, job.error, job.finished_at = result, error, _now()
        if error is not None:
            log.warning("%s job %s failed: %s", job.kind, job.id, error["message"])
        else:
            log.info("%s job %s succeeded", job.kind, job.id)
