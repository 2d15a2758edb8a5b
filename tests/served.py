"""``leanorm serve`` in a subprocess, for tests that need a real HTTP server.

``served`` (module-scoped fixture): the server on a port the OS picks, over a fresh temporary database.
A conftest makes it available with ``from tests.served import served``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
import requests

from tests import postgresql

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
APP_ID, APP_KEY, MASTER_KEY = "served-app", "served-key", "served-master"


@dataclasses.dataclass
class Served:
    """A running ``leanorm serve``: where it listens and the keys it accepts."""

    process: subprocess.Popen
    port: int
    database: Path
    app_id: str = APP_ID
    app_key: str = APP_KEY
    master_key: str = MASTER_KEY

    #: the PostgreSQL database it serves (``LEANORM_TEST_SERVE_STORE=postgresql``), None for the SQLite file
    store_url: Optional[str] = None
    #: where LeanCloud's realtime WebSocket listens (``--realtime-port``, 0 for one the OS picks), as the
    #: banner names it
    realtime_port: Optional[int] = None

    def sql(self, statement: str, parameters: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        """Run ``statement`` (SQLite's dialect, as the server's own code writes it) on the served database,
        committed, whichever store holds it; the rows it answers."""
        return self.sql_all([statement], parameters)

    def sql_all(self, statements: List[str], parameters: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        """``sql`` of each statement in turn on one connection; the rows the last one answers."""
        if self.store_url is None:
            with sqlite3.connect(str(self.database)) as conn:
                rows: List[Tuple[Any, ...]] = []
                for statement in statements:
                    rows = conn.execute(statement, parameters).fetchall()
                return rows
        return postgresql.run(self.store_url, statements, parameters)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def leanorm_url(self) -> str:
        """The URL ``leanorm.connect`` takes to reach this server in the LeanCloud dialect."""
        return f"leancloud+http://{self.app_id}:{self.app_key}@127.0.0.1:{self.port}?master_key={self.master_key}"


def _wait_until_answering(served: Served) -> None:
    """Poll ``GET /1.1/date`` until the server answers it (or fail with what it printed)."""
    deadline = time.monotonic() + START_TIMEOUT
    headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"leanorm serve exited with {served.process.returncode}: {served.process.stdout.read()}")
        try:
            if requests.get(f"{served.base_url}/1.1/date", headers=headers, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail("leanorm serve did not answer in time")


def _limits(open_files: Optional[int], file_size: Optional[int]) -> Callable[[], None]:
    def apply() -> None:  # runs in the child before exec: the server and its workers inherit them
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        if file_size:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    return apply


@contextlib.contextmanager
def serve(database: Path, *options: str, open_files: Optional[int] = None,
          file_size: Optional[int] = None, store: Optional[str] = None,
          postgresql_url: Optional[str] = None) -> Iterator[Served]:
    """``leanorm serve`` over ``database`` with extra command-line ``options``, on a port the OS picks
    (``--port 0``; the banner names it), optionally under ``ulimit -n open_files`` and ``ulimit -f``
    (``file_size`` bytes: the largest file it may write), on ``store`` (``"sqlite"``: the file itself;
    ``"postgresql"``: a schema of the test database for that file, skipped without one; None: as
    ``LEANORM_TEST_SERVE_STORE`` says; ``postgresql_url``: that PostgreSQL database, a test's own), stopped
    when the block
    ends (its workers are given the time a graceful stop takes). Clients may create classes, as the tests
    make theirs that way (``--no-client-class-creation`` among ``options`` turns it off again)."""
    if sys.version_info < (3, 10):  # granian, its HTTP server, needs 3.10; the rest of leanorm runs on 3.9
        pytest.skip("leanorm serve needs Python 3.10 or later (granian)")
    on_postgresql = postgresql_url is not None or (
        postgresql.serving_on_postgresql() if store is None else store == "postgresql")
    database_url = postgresql_url or (postgresql.schema_url(str(database)) if on_postgresql else str(database))
    process = subprocess.Popen(
        [sys.executable, "-m", "leanorm.cli", "serve", "--db", database_url, "--host", "127.0.0.1", "--port", "0",
         "--app-id", APP_ID, "--app-key", APP_KEY, "--master-key", MASTER_KEY, "--client-class-creation",
         *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_limits(open_files, file_size) if open_files or file_size else None)
    try:
        # "leanorm: serving DB on http://127.0.0.1:PORT (...)" (a JSON log line's message with --log-format
        # json), after what opening the database logged
        printed = [process.stdout.readline()]
        while printed[-1] and "leanorm: serving" not in printed[-1] and len(printed) < 100:
            printed.append(process.stdout.readline())
        try:
            port = int(printed[-1].split("http://127.0.0.1:")[1].split()[0])
        except (IndexError, ValueError):
            process.kill()  # its output ends only when it does
            pytest.fail(f"unexpected banner from leanorm serve: {''.join(printed)}{process.stdout.read()}")
        realtime = printed[-1].split("LeanCloud realtime on port ")
        served = Served(process, port, database, store_url=database_url if on_postgresql else None,
                        realtime_port=int(realtime[1].split(")")[0]) if len(realtime) > 1 else None)
        _wait_until_answering(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` over a fresh database."""
    with serve(tmp_path_factory.mktemp("served") / "app.sqlite3") as running:
        yield running
