"""A redis-server of the test's own on a free port, that the test may stop
and start again (the machine's Redis on 6379 is shared and never touched)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from tests.support.processes import free_port


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self, timeout: float = 30) -> RedisServer:
        """Start (again, on the same port, empty: nothing is persisted)."""
        log = (self.folder / "redis.log").open("ab")
        options = f"--port {self.port} --bind 127.0.0.1 --appendonly no".split()
        self._process = subprocess.Popen(
            ["redis-server", *options, "--save", "", "--dir", str(self.folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on {self.port} not ready after {timeout}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
