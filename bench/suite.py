"""The benchmark's plan: load-model levels on the product, then a saturation
search on the product, the peer and the floor, with resources per phase."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy.engine import make_url

from bench.ledger import Summary
from bench.load import Floor, Load, Peer, Phase, Relay
from bench.operators import Operator, create_operators
from bench.resources import Usage, Watch, database_bytes, postgres_backends, process_tree
from bench.stacks import start_floor, start_peer, train_peer
from tests.support.cluster import PROGRAMS, Cluster, running_cluster
from tests.support.databases import fresh_database, fresh_postgres
from tests.support.processes import ROOT, Service, start_stack

HELD_P99 = 1.0  # seconds: a rate is held while p99 stays under it
STEP_GRACE = 1.5  # seconds after a step before its late messages count as too late


def _errors(path: Load) -> str:
    return f"{len(path.errors)} errors so far"


@dataclass
class Plan:
    levels: list[int] = field(default_factory=lambda: [10, 100, 500, 1000])
    interval: float = 20.0  # seconds between a visitor's messages
    duration: float = 60.0  # measured seconds per level (after a warm-up of one interval)
    steps: list[int] = field(default_factory=lambda: [50, 100, 150, 200, 300, 400, 600])
    step_seconds: float = 20.0
    drain: float = 30.0  # seconds to wait for messages still in flight
    operators: int = 50


@dataclass
class Measured:
    """One level or one saturation step of one path."""

    name: str
    phase: Phase
    window: dict[str, Summary]  # messages sent in the measured window
    usage: dict[str, Usage]
    whole: dict[str, Summary] = field(default_factory=dict)  # the whole level, with warm-up
    db_bytes_per_1000: float = math.nan
    handshakes: list[float] = field(default_factory=list)  # seconds, per visitor
    held: bool = True
    errors: list[str] = field(default_factory=list)


@dataclass
class PathResult:
    label: str
    backend: str
    levels: list[Measured] = field(default_factory=list)
    steps: list[Measured] = field(default_factory=list)

    @property
    def saturation(self) -> float:
        """Highest step rate held (0 if none); inf-free."""
        held = [float(s.name) for s in self.steps if s.held]
        return max(held, default=0.0)

    @property
    def saturation_reached(self) -> bool:
        return any(not s.held for s in self.steps)


Groups = dict[str, Callable[[], list[int]]]


def groups_of(services: list[Service], database_url: str) -> Groups:
    groups: Groups = {}
    for service in services:
        assert service.process is not None
        groups[service.name] = lambda pid=service.process.pid: process_tree(pid)
    if database_url.startswith("postgresql"):
        name = make_url(database_url).database
        groups["postgresql"] = lambda: postgres_backends(name)
    groups["load generator"] = lambda: [os.getpid()]
    return groups


async def _measure(
    path: Load, groups: Groups, name: str, interval: float, seconds: float
) -> Measured:
    watch = Watch(groups)
    watch.start()
    phase = await path.steady(interval, seconds)
    usage = await watch.stop()
    return Measured(name, phase, {}, usage)


async def saturate(path: Load, groups: Groups, plan: Plan, per_rate: int) -> list[Measured]:
    """Ascending steps until one is not held. ``per_rate``: messages the
    server handles per visitor message (2 on the handoff path: the customer's
    and the operator's answer)."""
    steps = []
    for rate in plan.steps:
        interval = per_rate * len(path.conversations) / rate
        errors_before = len(path.errors)
        step = await _measure(path, groups, str(rate), interval, plan.step_seconds)
        await asyncio.sleep(STEP_GRACE)
        step.window = {
            n: ledger.summary(step.phase.start, step.phase.end)
            for n, ledger in path.ledgers.items()
            if n != "handoff start"
        }
        step.errors = path.errors[errors_before:]
        step.held = (
            all(s.p99_with_missing < HELD_P99 for s in step.window.values())
            and step.phase.achieved_per_second >= 0.95 * step.phase.offered_per_second
            and not step.errors
        )
        steps.append(step)
        print(f"  {path.label}: {rate} msg/s held: {step.held} ({_errors(path)})", flush=True)
        if not step.held:
            break
    await path.drain(plan.drain)
    return steps


async def relay_run(
    handoff_url: str,
    rasa_url: str,
    groups: Groups,
    db_size: Callable[[], int],
    plan: Plan,
    backend: str,
) -> PathResult:
    """The product under each level, then its saturation search."""
    names = await create_operators(handoff_url, plan.operators)
    operators = [Operator(handoff_url, name) for name in names]
    relay = Relay(rasa_url, operators)
    await relay.connect_operators()
    result = PathResult(relay.label, backend)
    try:
        for index, count in enumerate(plan.levels):
            relay.reset()
            before = db_size()
            await relay.open(count, plan.interval, f"L{count}")
            level = await _measure(relay, groups, str(count), plan.interval, plan.duration)
            await relay.drain(plan.drain)
            level.window = {
                n: ledger.summary(level.phase.start, level.phase.end)
                for n, ledger in relay.ledgers.items()
                if n != "handoff start"
            }
            level.whole = {n: ledger.summary() for n, ledger in relay.ledgers.items()}
            level.db_bytes_per_1000 = (db_size() - before) * 1000 / count
            level.handshakes = sorted(relay.handshakes)
            print(f"  {count} conversations measured ({_errors(relay)})", flush=True)
            if index == len(plan.levels) - 1 and plan.steps:
                result.steps = await saturate(relay, groups, plan, per_rate=2)
            closed = await relay.finish()
            level.errors = list(relay.errors)
            if closed != count:
                level.errors.append(f"{count - closed} attendances did not close")
            await relay.close()
            result.levels.append(level)
    finally:
        await relay.close()
        await asyncio.gather(*(op.close() for op in operators), return_exceptions=True)
    return result


async def baseline_run(path: Load, groups: Groups, plan: Plan, backend: str) -> PathResult:
    """A baseline at the largest level's conversations: the saturation steps
    (the first steps are the load model's rates)."""
    result = PathResult(path.label, backend)
    try:
        await path.open(max(plan.levels), plan.interval, "B")
        result.steps = await saturate(path, groups, plan, per_rate=1)
    finally:
        await path.close()
    return result


def work_dir(name: str) -> Path:
    """A clean folder for a run's logs and SQLite files (kept for reading)."""
    folder = ROOT / "var" / "bench" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_product(backend: str, plan: Plan, folder: Path) -> PathResult:
    """The product on ``backend``, on a fresh database."""
    with fresh_database(backend, folder) as url:
        tracker = url if backend == "postgresql" else f"sqlite:///{folder / 'rasa.db'}"
        files = [folder / "handoff.db", folder / "rasa.db"]
        stack = start_stack(url, tracker, folder)
        try:
            groups = groups_of(stack.services, url)
            sizes = lambda: database_bytes(url, files)  # noqa: E731
            return _run_loop(
                relay_run(stack.handoff_url, stack.rasa_url, groups, sizes, plan, backend)
            )
        finally:
            stack.stop()


def cluster_groups(cluster: Cluster, database_url: str) -> Groups:
    """Each program of the cluster (its pid now: one started again is
    followed), PostgreSQL's backends and the generator."""
    groups: Groups = {
        program: lambda program=program: process_tree(cluster.pid(program)) for program in PROGRAMS
    }
    name = make_url(database_url).database
    groups["postgresql"] = lambda: postgres_backends(name)
    groups["load generator"] = lambda: [os.getpid()]
    return groups


def run_cluster(plan: Plan, folder: Path) -> PathResult:
    """The product as `make cluster` runs it, through nginx: visitors on
    the public TLS port, consoles on the internal door."""
    with fresh_postgres() as url, running_cluster(folder, url) as cluster:
        groups = cluster_groups(cluster, url)
        sizes = lambda: database_bytes(url, [])  # noqa: E731
        backend = "postgresql, cluster (nginx, 2 Rasa, 2 handoff)"
        return _run_loop(
            relay_run(cluster.internal_url, cluster.rasa_url, groups, sizes, plan, backend)
        )


def run_peer(backend: str, plan: Plan, model: Path, folder: Path) -> PathResult:
    """Rasa's own reply path on ``backend``, on a fresh database."""
    with fresh_database(backend, folder, "peer") as url:
        tracker = url if backend == "postgresql" else f"sqlite:///{folder / 'peer.db'}"
        peer = start_peer(model, tracker, folder)
        try:
            return _run_loop(
                baseline_run(Peer(peer.base_url), groups_of([peer], url), plan, backend)
            )
        finally:
            peer.stop()


def run_floor(plan: Plan, folder: Path) -> PathResult:
    server = start_floor(folder)
    try:
        path = Floor(server.base_url)
        return _run_loop(baseline_run(path, groups_of([server], ""), plan, "-"))
    finally:
        server.stop()


def run_all(
    backends: list[str], plan: Plan, baselines: bool = True, cluster: bool = False
) -> list[PathResult]:
    results = []
    model = train_peer(work_dir("peer-model")) if baselines else None
    for backend in backends:
        print(f"{backend}: product{' and peer' if baselines else ''}", flush=True)
        folder = work_dir(backend)
        results.append(run_product(backend, plan, folder))
        if model is not None:
            results.append(run_peer(backend, plan, model, folder))
    if cluster:
        print("cluster: product", flush=True)
        results.append(run_cluster(plan, work_dir("cluster")))
    if baselines:
        print("floor", flush=True)
        results.append(run_floor(plan, work_dir("floor")))
    return results


def _run_loop(coroutine: Coroutine[Any, Any, PathResult]) -> PathResult:
    return uvloop.run(coroutine)
