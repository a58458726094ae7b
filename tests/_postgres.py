"""A throwaway PostgreSQL server for tests (imported by test modules, like tests/service/_api_fixtures).

``postgres_server`` (session) finds Debian's server binaries (``/usr/lib/postgresql/*/bin``) or
``initdb`` on PATH, creates a cluster in a temporary folder, starts it on a free loopback port and
stops it at the end; ``postgres_url`` (per test) hands out a fresh empty database on it. Both skip,
saying why, when there is no server to run (``apt-get install postgresql`` provides one). initdb
refuses to run as root, so as root the server runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_USER = "slant"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = _USER

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def find_bin_dir() -> Path | None:
    """The folder of initdb / pg_ctl: the newest Debian install, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.parent.name.split(".")],
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], int | None, int | None]:
    """Command prefix and uid/gid to run the server as (root: the ``postgres`` system user)."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip(
            "running as root and there is no 'postgres' user to run PostgreSQL as (initdb refuses root)"
        )
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser(1), so PostgreSQL cannot be started as 'postgres'")
    return [runuser, "-u", "postgres", "--"], entry.pw_uid, entry.pw_gid


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        pytest.fail(f"{what} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{tail}")


def start_postgres() -> Iterator[PostgresServer]:
    """Create, start, yield and finally stop and delete a throwaway cluster."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH): "
            "install Debian's postgresql package (apt-get install postgresql) to run the PostgreSQL tests"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'slant[postgres]' to run the PostgreSQL tests")
    prefix, uid, gid = _as_user()
    # Not under pytest's tmp_path: as root that is private to root, and the server runs as postgres.
    # Short, too: the Unix socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="slant-pg-"))
    data = root / "data"
    log = root / "server.log"
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    port = _free_port()
    try:
        initdb = f"-D {data} -U {_USER} --auth=trust -E UTF8 --no-locale --no-sync"
        _run([*prefix, str(bin_dir / "initdb"), *initdb.split()], "initdb")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
        )
        start = [*f"-D {data} -l {log} -w -t 60".split(), "-o", options, "start"]
        _run([*prefix, str(bin_dir / "pg_ctl"), *start], "starting PostgreSQL", log)
        try:
            yield PostgresServer("127.0.0.1", port)
        finally:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count()
_running: list[PostgresServer] = []


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[PostgresServer]:
    # Each test module that imports this fixture gets its own session-scoped copy of it; they share
    # one server, which the first copy started and stops at the end of the session.
    if _running:
        yield _running[0]
        return
    for server in start_postgres():
        _running.append(server)
        try:
            yield server
        finally:
            _running.clear()


@pytest.fixture(name="postgres_url")
def postgres_url_fixture(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    admin = f"postgresql://{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
