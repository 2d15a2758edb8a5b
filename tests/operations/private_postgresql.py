"""A PostgreSQL server of a test's own, for what must not happen to the cluster other tests share: crashing
it, stopping it, freezing it.

It uses the server binaries on this machine (the ones ``scripts/parse-server`` installs for the Parse
tier: ``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on the ``PATH``); a test that needs it is
skipped, with the reason, where there are none. PostgreSQL refuses to run as root: under root the
cluster runs as the ``postgres`` user, as ``scripts/parse-server`` runs the shared one. The cluster is
made in a temporary folder (``initdb`` takes about half a second), listens on loopback on a free port,
trusts its local clients, and is removed when the block ends.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, List, Optional

import pytest


def _binaries() -> Optional[Path]:
    """The folder of the newest PostgreSQL server binaries here (None: none)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """A running PostgreSQL server of the test's own: its URL, and what a test does to it."""

    def __init__(self, binaries: Path, folder: Path, user: Optional[str], settings: List[str]) -> None:
        self.binaries, self.folder, self.user = binaries, folder, user
        self.port = _free_port()
        self.data = folder / "data"
        self.options = " ".join([f"-p {self.port}", f"-k {folder}", "-c listen_addresses=127.0.0.1", *settings])
        #: a superuser's URL of its ``postgres`` database (the store makes its tables there)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        runner = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*runner, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def start(self) -> None:
        # the server must not inherit the test's pipes (a served node's output, pytest's capture)
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
                  "-o", self.options, "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: ``fast`` (a clean stop), ``immediate`` (what a crash of the server
        machine's PostgreSQL leaves: recovery from the write-ahead log at the next start)."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")

    def _processes(self) -> List[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout
        return [postmaster, *(int(pid) for pid in children.split())]

    def freeze(self) -> None:
        """Stop every process of the server (SIGSTOP): a database that accepts nothing and answers nothing,
        as one stuck on its disk or behind a network that stopped carrying packets."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def private_cluster(*settings: str) -> Iterator[PrivateCluster]:
    """A new PostgreSQL server, running, with the server ``settings`` given (``"-c name=value"``), removed
    when the block ends. Skips the test where this machine has no PostgreSQL server binaries."""
    pytest.importorskip("psycopg")
    binaries = _binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries here (initdb) to start a private cluster with")
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run a private cluster as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start a private cluster as postgres")
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="leanorm-pg-"))
    if user:
        shutil.chown(folder, user)
    cluster = PrivateCluster(binaries, folder, user, list(settings))
    try:
        cluster._run(str(binaries / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                     "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.thaw()
        with contextlib.suppress(Exception):
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
