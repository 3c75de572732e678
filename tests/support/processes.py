"""Start the project's real processes on free ports and stop them after."""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RASA = str(ROOT / ".venv-rasa" / "bin" / "rasa")
PYTHON_RASA = str(ROOT / ".venv-rasa" / "bin" / "python")
MODEL = ROOT / "models" / "servicedesk.tar.gz"
# Secrets are random per test run: none is written in the repository.
RASA_TOKEN = secrets.token_hex(24)  # hex: never starts with "-", which rasa would read as an option
SERVICE_TOKEN = secrets.token_urlsafe(24)
ACTIONS_TOKEN = secrets.token_urlsafe(24)


def free_port() -> int:
    """A port nothing listens on now, below the kernel's ephemeral range:
    outgoing connections take their local ports from that range, so a port
    picked there (as ``bind(0)`` does) can be taken by some client before
    the process meant for it binds it (a chaos run lost its balancer so)."""
    first_ephemeral = _first_ephemeral_port()
    for _ in range(1000):
        port = random.randrange(10_000, first_ephemeral)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _first_ephemeral_port() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Service:
    """One process, its log file, and the URL that answers once it is ready."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    base_url: str
    ready_path: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 90) -> Service:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Service:
        """Start the process; ``wait_ready`` waits for it to answer."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> Service:
        assert self.process is not None, f"{self.name} was not launched"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if answers(self.ready_url):
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    @property
    def ready_url(self) -> str:
        return self.base_url + self.ready_path

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill(self) -> None:
        """``kill -9``: the process gets no chance to clean up."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self, timeout: float = 90) -> float:
        """Start again after a stop or a kill; returns the seconds until ready."""
        started = time.monotonic()
        self.start(timeout)
        return time.monotonic() - started

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """The three processes of the product, wired to each other."""

    handoff_url: str
    rasa_url: str
    services: list[Service]
    # The organisation's site that embeds the widget (an origin Rasa accepts).
    site_url: str = ""

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def tracker(self, conversation_id: str) -> dict:
        """The conversation's tracker, read from Rasa's HTTP API."""
        response = requests.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": RASA_TOKEN},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


def wait_until(
    condition: Callable[[], Any], timeout: float = 30, what: str = "condition not met in time"
) -> Any:
    """``condition()``'s first truthy value, asked every 0.3 s; fails
    (``what``) after ``timeout``, a bound for "stuck", not a measure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"stuck: {what}")


def handoff_env(database_url: str, port: int, rasa_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_PORT": str(port),
        "HANDOFF_RASA_URL": rasa_url,
        "HANDOFF_RASA_TOKEN": RASA_TOKEN,
        "HANDOFF_SERVICE_TOKEN": SERVICE_TOKEN,
    }


def start_handoff(
    database_url: str,
    log_dir: Path,
    rasa_url: str = "http://127.0.0.1:9",
    extra_env: dict[str, str] | None = None,
) -> Service:
    """Migrate, load demo data and serve the handoff service."""
    return prepared_handoff(database_url, log_dir, rasa_url, extra_env).start()


def prepared_handoff(
    database_url: str, log_dir: Path, rasa_url: str, extra_env: dict[str, str] | None
) -> Service:
    """The handoff service on its database, migrated and with the demo
    data (not started yet)."""
    port = free_port()
    env = {**handoff_env(database_url, port, rasa_url), **(extra_env or {})}
    subprocess.run(
        [PYTHON, "-m", "handoff", "prepare"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    command = [PYTHON, "-m", "handoff", "serve"]
    if "MOVED_CLOCK_FILE" in env:  # a clock the test moves (tests/support/moved_clock.py)
        command = [
            PYTHON,
            "-m",
            "tests.support.moved_clock",
            f"@{env['MOVED_CLOCK_FILE']}",
            "serve",
        ]
    return Service(
        "handoff",
        command,
        env,
        log_dir / "handoff.log",
        f"http://127.0.0.1:{port}",
        "/health",
    )


def rasa_env(handoff_url: str, tracker_url: str, actions_url: str, origins: str) -> dict[str, str]:
    """The environment of Rasa and the action server (``origins``: the sites
    whose pages may open the widget's connection, comma-separated)."""
    return {
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONWARNINGS": "ignore",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "HANDOFF_URL": handoff_url,
        "HANDOFF_SERVICE_TOKEN": SERVICE_TOKEN,
        "HANDOFF_ACTIONS_TOKEN": ACTIONS_TOKEN,
        "RASA_ACTIONS_URL": actions_url,
        "RASA_TRACKER_DB": tracker_url,
        "SANIC_HOST": "127.0.0.1",
        "WHATSAPP_VERIFY_TOKEN": "test-verify-token",
        "WHATSAPP_APP_SECRET": "test-app-secret",
        "WHATSAPP_ACCESS_TOKEN": "test-access-token",
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
        "WHATSAPP_API_VERSION": "v25.0",
        "WIDGET_ALLOWED_ORIGINS": origins,
        # Every test client comes from 127.0.0.1; tests/security sets a low one.
        "WIDGET_NEW_CONVERSATIONS_PER_ADDRESS": "100000 per minute",
    }


def rasa_service(port: int, env: dict[str, str], log_dir: Path, model: Path = MODEL) -> Service:
    """The Rasa server (not started yet)."""
    return Service(
        "rasa",
        [
            RASA,
            "run",
            "--enable-api",
            "--auth-token",
            RASA_TOKEN,
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model),
            "--credentials",
            "credentials.yml",
            "--endpoints",
            "endpoints.yml",
        ],
        env,
        log_dir / "rasa.log",
        f"http://127.0.0.1:{port}",
        f"/status?token={RASA_TOKEN}",
    )


def start_stack(
    database_url: str,
    tracker_url: str,
    log_dir: Path,
    model: Path = MODEL,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """Handoff service, action server and Rasa, all real, on free ports."""
    if not model.exists():
        raise RuntimeError(f"{model} is missing: run `make train` (make test does it)")
    rasa_port, actions_port = free_port(), free_port()
    site_url = f"http://127.0.0.1:{free_port()}"
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    launched: list[Service] = []
    try:
        # RASA_PORT as the Makefile exports it: the demo page's widget dials it.
        handoff_extra = {"RASA_PORT": str(rasa_port), **(extra_env or {})}
        handoff = prepared_handoff(database_url, log_dir, rasa_url, handoff_extra)
        env = {
            **rasa_env(
                handoff.base_url,
                tracker_url,
                f"http://127.0.0.1:{actions_port}/webhook",
                f"{handoff.base_url},{site_url}",
            ),
            **(extra_env or {}),
        }
        actions = Service(
            "actions",
            [RASA, "run", "actions", "--actions", "actions", "--port", str(actions_port)],
            env,
            log_dir / "actions.log",
            f"http://127.0.0.1:{actions_port}",
            "/health",
        )
        # All three start at once (Rasa tells the handoff service it started
        # until it hears, and calls the action server only per message).
        for service in (handoff, actions, rasa_service(rasa_port, env, log_dir, model)):
            launched.append(service.launch())
        for service in launched:
            service.wait_ready()
    except BaseException:
        for service in reversed(launched):
            service.stop()
        raise
    return Stack(handoff.base_url, rasa_url, launched, site_url)
