"""Supervision: `make run` as a developer types it (deploy/supervisord.conf),
on free ports with its own var/ folder and SQLite. Visitors and operators
exchange messages (the chaos run's clients: the widget re-sends until
acknowledged, the console resynchronises) while the test kills -9 Rasa, then
the action server, then the handoff service. Each comes back by itself (a
new pid, answering again) and every message arrives once. Then SIGTERM to
supervisord stops everything: no process of the stack is left. And if
supervisord itself is killed, the three stop rather than run on orphaned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.chaos_run import Report, assert_nothing_lost, run
from tests.support.processes import (
    RASA_TOKEN,
    ROOT,
    SERVICE_TOKEN,
    Service,
    Stack,
    answers,
    free_port,
)

STUCK_SECONDS = 120
# Each program's command line, as supervisord (or any runner) starts it.
MARKERS = {"handoff": "-m handoff serve", "actions": " run actions ", "rasa": " --enable-api "}


def _make_run(folder: Path) -> tuple[subprocess.Popen, Stack]:
    """`make run` with nothing but the variables a developer would set. The
    model is trained (make test trains first), so `-o train` skips only that
    step (and the virtual environments' check it begins with)."""
    ports = {name: free_port() for name in ("HANDOFF_PORT", "RASA_PORT", "ACTIONS_PORT")}
    database_url = f"sqlite:///{folder / 'handoff.db'}"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(folder)),
        **{name: str(port) for name, port in ports.items()},
        "VAR_DIR": str(folder),
        "DATABASE_URL": database_url,
        "HANDOFF_RASA_TOKEN": RASA_TOKEN,
        "HANDOFF_SERVICE_TOKEN": SERVICE_TOKEN,
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
    }
    log_path = folder / "make-run.log"
    with log_path.open("ab") as log:
        make = subprocess.Popen(
            ["make", "-o", "train", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def url(port: str) -> str:
        return f"http://127.0.0.1:{ports[port]}"

    # Records for the chaos run's helpers; supervisord runs the processes.
    services = [
        Service("handoff", [], env, log_path, url("HANDOFF_PORT"), "/health"),
        Service("actions", [], env, log_path, url("ACTIONS_PORT"), "/health"),
        Service("rasa", [], env, log_path, url("RASA_PORT"), f"/status?token={RASA_TOKEN}"),
    ]
    return make, Stack(url("HANDOFF_PORT"), url("RASA_PORT"), services)


def _pid(make: subprocess.Popen, name: str) -> int | None:
    """The program's own process (not a shell in front of it), if running."""
    for process in psutil.Process(make.pid).children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if command and "python" in Path(command[0]).name and MARKERS[name] in " ".join(command):
            return process.pid
    return None


def _wait(condition: Callable[[], bool], what: str, make: subprocess.Popen) -> None:
    deadline = time.monotonic() + STUCK_SECONDS
    while not condition():
        assert make.poll() is None, f"make run exited ({make.returncode}) while waiting: {what}"
        assert time.monotonic() < deadline, f"stuck waiting: {what}"
        time.sleep(0.3)


def _kill_and_wait(make: subprocess.Popen, service: Service) -> Callable[[], float]:
    """kill -9 the program; wait (nobody restarts it but the supervisor)
    until a new process of it answers. Returns the seconds it was away."""

    def fault() -> float:
        old = _pid(make, service.name)
        assert old is not None, f"{service.name} is not running"
        started = time.monotonic()
        os.kill(old, signal.SIGKILL)

        def back() -> bool:
            return _pid(make, service.name) not in (None, old) and answers(service.ready_url)

        _wait(back, f"{service.name} started again after kill -9", make)
        return time.monotonic() - started

    return fault


def _kill_everything(make: subprocess.Popen) -> None:
    """After a failure: no process of the stack may outlive the test."""
    if make.poll() is not None:
        return
    processes = [psutil.Process(make.pid), *psutil.Process(make.pid).children(recursive=True)]
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    make.wait()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Stack]]:
    make, stack = _make_run(tmp_path)
    try:
        for service in stack.services:
            _wait(lambda s=service: answers(s.ready_url), f"{service.name} ready", make)
        yield make, stack
    finally:
        _kill_everything(make)


@pytest.mark.timeout(600)
def test_a_killed_process_comes_back_and_nothing_is_lost(supervised):
    make, stack = supervised
    plan = [
        (f"{service.name} killed (SIGKILL)", share, _kill_and_wait(make, service))
        for share, service in zip((0.25, 0.5, 0.75), reversed(stack.services), strict=True)
    ]
    report = run(stack, Report("sqlite", visitors=6, operators=2, messages_per_visitor=12), plan)
    print(json.dumps(report.as_dict(), indent=2))
    assert [fault.name for fault in report.faults] == [name for name, _, _ in plan]
    assert_nothing_lost(report)

    # Ctrl-C's counterpart: SIGTERM to supervisord stops the three, then itself.
    supervisor = psutil.Process(make.pid).children()[0]
    children = supervisor.children(recursive=True)
    assert {name for name in MARKERS if _pid(make, name)} == set(MARKERS)
    supervisor.terminate()
    assert make.wait(timeout=STUCK_SECONDS) == 0
    _gone, alive = psutil.wait_procs(children, timeout=STUCK_SECONDS)
    assert alive == []

    # The URLs first, then every program's own output on the same terminal.
    output = stack.services[0].log_path.read_text(errors="replace")
    assert output.index(f"{stack.handoff_url}/console/") < output.index("spawned: 'handoff'")
    for line in ("Worker ready", "Action endpoint is up and running", "Starting Rasa server on"):
        assert line in output


def test_the_three_stop_when_supervisord_dies(supervised):
    """kill -9 of supervisord itself (or its terminal gone): no orphan keeps a port."""
    make, _stack = supervised
    supervisor = psutil.Process(make.pid).children()[0]
    children = supervisor.children(recursive=True)
    assert {name for name in MARKERS if _pid(make, name)} == set(MARKERS)
    supervisor.kill()
    _gone, alive = psutil.wait_procs(children, timeout=STUCK_SECONDS)
    for orphan in alive:  # the fixture cannot find them any more
        orphan.kill()
    assert alive == []
