"""Make the database unavailable for a while, as it happens in production.

PostgreSQL: every process reaches the server through :class:`TcpProxy`, a
loopback proxy the test can cut: open connections are dropped and new ones
are closed at once (a network cut or a server restart, as the clients see
it). SQLite: :class:`SqliteLock` is another process holding an exclusive
lock on the database files (a backup, a migration or an administrator's
``sqlite3`` session): readers of a WAL database still read, writers wait
for their busy timeout and then fail with "database is locked".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_database
from tests.support.processes import MODEL, ROOT, Stack, free_port, start_handoff, start_stack

# The machine's Redis; each two-process run uses a channel of its own.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

LOCK_SCRIPT = """
import sqlite3, sys, time
connections = []
for path in sys.argv[2:]:
    connection = sqlite3.connect(path, isolation_level=None, timeout=60)
    connection.execute("BEGIN EXCLUSIVE")
    connections.append(connection)
print("locked", flush=True)
time.sleep(float(sys.argv[1]))
for connection in connections:
    connection.rollback()
"""


class TcpProxy:
    """A loopback TCP proxy that can be cut and restored, in its own process
    (``tests/support/tcp_proxy.py``); with several targets, a load balancer."""

    def __init__(self, *targets: tuple[str, int], port: int | None = None) -> None:
        self.targets = targets
        self.port = port or free_port()
        self._process: subprocess.Popen | None = None

    def start(self) -> TcpProxy:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.tcp_proxy",
                str(self.port),
                *(f"{host}:{port}" for host, port in self.targets),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")
        return self

    def _expect(self, line: str) -> None:
        assert self._process is not None and self._process.stdout is not None
        assert self._process.stdout.readline().strip() == line

    def _signal(self, sent: signal.Signals, answer: str) -> None:
        assert self._process is not None
        self._process.send_signal(sent)
        self._expect(answer)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._signal(signal.SIGUSR1, "cut")

    def restore(self) -> None:
        self._signal(signal.SIGUSR2, "restored")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def url_for(self, url: str) -> str:
        """``url`` (a PostgreSQL URL) going through this proxy."""
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(False)


class SqliteLock:
    """Another process holds an exclusive lock on SQLite database files."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    @contextmanager
    def held(self, seconds: float) -> Iterator[subprocess.Popen]:
        process = subprocess.Popen(
            [sys.executable, "-c", LOCK_SCRIPT, str(seconds), *map(str, self.paths)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "locked"
            yield process
        finally:
            process.wait(seconds + 30)


class Outage:
    """The database of a stack, made unavailable for ``seconds``."""

    def __init__(self, proxy: TcpProxy | None, sqlite_files: list[Path], url: str) -> None:
        self.proxy = proxy
        self.sqlite_files = sqlite_files
        self.url = url  # the handoff service's database, reached directly

    @contextmanager
    def down(self) -> Iterator[None]:
        """Unavailable inside the ``with`` block."""
        if self.proxy is not None:
            self.proxy.cut()
            try:
                yield
            finally:
                self.proxy.restore()
        else:
            lock = SqliteLock(self.sqlite_files)
            with lock.held(3600) as process:
                try:
                    yield
                finally:
                    process.kill()

    @contextmanager
    def writers_wait(self) -> Iterator[None]:
        """Inside the block, writers of the handoff service's messages wait
        (another connection holds a lock) and readers go on; the writes go
        through once it ends."""
        if self.proxy is None:
            with SqliteLock(self.sqlite_files[:1]).held(3600) as process:
                try:
                    yield
                finally:
                    process.kill()
            return
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(text("LOCK TABLE message IN EXCLUSIVE MODE"))
                yield
        finally:
            engine.dispose()

    def for_seconds(self, seconds: float) -> float:
        """Take the database away for ``seconds``; returns when it is back."""
        started = time.monotonic()
        with self.down():
            time.sleep(seconds)
        return time.monotonic() - started


@contextmanager
def stack_with_outages(
    backend: str, folder: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Stack, Outage]]:
    """The three processes on a fresh database that the test can take away."""
    with fresh_database(backend, folder) as url:
        proxy: TcpProxy | None = None
        direct_url = url
        if backend == "postgresql":
            server = make_url(url)
            proxy = TcpProxy((server.host or "127.0.0.1", server.port or 5432)).start()
            url = tracker_url = proxy.url_for(url)
            files: list[Path] = []
        else:
            tracker_url = f"sqlite:///{folder / 'rasa.db'}"
            files = [folder / "handoff.db", folder / "rasa.db"]
        try:
            stack = start_stack(url, tracker_url, folder, MODEL, extra_env)
            try:
                yield stack, Outage(proxy, files, direct_url)
            finally:
                stack.stop()
        finally:
            if proxy is not None:
                proxy.stop()


@contextmanager
def two_handoff_processes(folder: Path) -> Iterator[tuple[Stack, Outage]]:
    """As :func:`stack_with_outages` on PostgreSQL, with a second handoff
    process on the same database and Redis (python-socketio's Redis manager,
    on a channel of this run's own) and a load balancer in front of both:
    the stack's ``handoff_url``, which Rasa's event broker, the action server,
    the consoles and the widgets' history use. Services ``handoff`` (A) and
    ``handoff-b`` (B)."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        raise RuntimeError(f"Redis at {REDIS_URL} is not reachable ({error})") from error
    balancer_port = free_port()
    settings = {
        "HANDOFF_REDIS_URL": REDIS_URL,
        "HANDOFF_REDIS_CHANNEL": f"chaos-{uuid.uuid4().hex}",
        "HANDOFF_URL": f"http://127.0.0.1:{balancer_port}",  # Rasa's and the actions'
    }
    with stack_with_outages("postgresql", folder, settings) as (stack, outage):
        first = next(s for s in stack.services if s.name == "handoff")
        (folder / "b").mkdir()
        second = start_handoff(first.env["DATABASE_URL"], folder / "b", stack.rasa_url, settings)
        second.name = "handoff-b"
        ports = (int(s.env["HANDOFF_PORT"]) for s in (first, second))
        balancer = TcpProxy(*(("127.0.0.1", p) for p in ports), port=balancer_port).start()
        try:
            services = [*stack.services, second]
            yield Stack(settings["HANDOFF_URL"], stack.rasa_url, services, stack.site_url), outage
        finally:
            second.stop()
            balancer.stop()
