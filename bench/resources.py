"""CPU and peak memory of each process (and its children), and database size,
read from /proc and the databases themselves."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.5


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def rss_bytes(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[21]) * PAGE if fields else 0


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL's server processes serving ``database``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


@dataclass
class Usage:
    cpu_percent: float  # of one core, over the watched period
    peak_rss_mib: float


@dataclass
class Watch:
    """Samples named groups of processes until stopped."""

    groups: dict[str, Callable[[], list[int]]]
    _base: dict[int, float] = field(default_factory=dict)
    _cpu: dict[str, dict[int, float]] = field(default_factory=dict)
    _peak: dict[str, int] = field(default_factory=dict)
    _started: float = 0.0
    _task: asyncio.Task | None = None

    def _sample(self) -> None:
        for name, pids_of in self.groups.items():
            pids = pids_of()
            cpu = self._cpu.setdefault(name, {})
            for pid in pids:
                cpu[pid] = cpu_seconds(pid) - self._base.setdefault(pid, 0.0)
            rss = sum(rss_bytes(pid) for pid in pids)
            self._peak[name] = max(self._peak.get(name, 0), rss)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self._sample()

    def start(self) -> None:
        for pids_of in self.groups.values():
            for pid in pids_of():
                self._base[pid] = cpu_seconds(pid)
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> dict[str, Usage]:
        assert self._task is not None
        self._task.cancel()
        self._sample()
        elapsed = time.monotonic() - self._started
        return {
            name: Usage(
                100 * sum(self._cpu.get(name, {}).values()) / elapsed,
                self._peak.get(name, 0) / 2**20,
            )
            for name in self.groups
        }


def _sqlite_bytes(path: Path) -> int:
    """Pages in use (the WAL's included, free pages not)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * db.execute("PRAGMA page_size").fetchone()[0]


def database_bytes(url: str, sqlite_files: list[Path]) -> int:
    """Size of the run's data: the SQLite databases' pages in use, or the
    PostgreSQL database that holds both the handoff tables and Rasa's trackers."""
    if url.startswith("sqlite"):
        return sum(_sqlite_bytes(path) for path in sqlite_files if path.exists())
    parsed = make_url(url)
    with (
        psycopg2.connect(
            host=parsed.host, port=parsed.port or 5432, user=parsed.username, dbname=parsed.database
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]
