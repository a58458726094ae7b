"""Durable file writes: a temp file in the same directory, fsynced, renamed over the target, and the
directory fsynced, so a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: str | Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp path next to ``path`` to write into; on success it is fsynced and renamed onto ``path``.

    >>> with atomic_path("out.json") as tmp:    # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{suffix}")  # temp_glob(suffix) matches it
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically and durably."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def temp_glob(suffix: str = ".tmp") -> str:
    """The glob of the temp files :func:`atomic_path` writes (``.NAME.PID`` + ``suffix``), to sweep up
    the ones a crash left behind.

    >>> temp_glob()
    '.*.*.tmp'
    """
    return f".*.*{suffix}"
