"""The cluster as `make cluster` starts it (scripts/cluster.sh), on free
ports and its own PostgreSQL database: used by tests/test_cluster.py and
the benchmark's cluster run."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.processes import (
    ACTIONS_TOKEN,
    PYTHON,
    RASA_TOKEN,
    ROOT,
    SERVICE_TOKEN,
    Service,
    free_port,
    rasa_env,
    wait_until,
)

SUPERVISORCTL = str(Path(PYTHON).with_name("supervisorctl"))
CONF = str(ROOT / "deploy" / "cluster" / "supervisord.conf")
PROGRAMS = ("nginx", "handoff-1", "handoff-2", "actions", "rasa-1", "rasa-2")
PORTS = (
    "SERVICEDESK_PORT",
    "HANDOFF_PORT_1",
    "HANDOFF_PORT_2",
    "RASA_PORT_1",
    "RASA_PORT_2",
    "ACTIONS_PORT",
    "INTERNAL_HANDOFF_PORT",
    "INTERNAL_RASA_PORT",
)


class Cluster:
    def __init__(self, service: Service, env: dict[str, str]) -> None:
        self.service, self.env = service, env
        self.public_url = f"https://127.0.0.1:{env['SERVICEDESK_PORT']}"
        self.rasa_url = f"{self.public_url}/rasa"
        # The door the processes use between them: plain HTTP on 127.0.0.1.
        self.internal_url = service.base_url
        self.certificate = Path(env["VAR_DIR"]) / "cluster" / "tls" / "cert.pem"

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [SUPERVISORCTL, "-c", CONF, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
        )
        return done.stdout

    def pid(self, program: str) -> int:
        answer = self.ctl("pid", program).strip()
        return int(answer) if answer.isdigit() else 0

    def kill(self, program: str) -> None:
        """``kill -9`` one process; supervisord starts it again."""
        pid = self.pid(program)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.pid(program) not in (0, pid), 60, f"{program} started again")

    def ready(self) -> bool:
        """Every process answers on its own port, and the whole is healthy."""
        urls = [f"http://127.0.0.1:{self.env[f'HANDOFF_PORT_{n}']}/health" for n in (1, 2)]
        urls += [f"http://127.0.0.1:{self.env[f'RASA_PORT_{n}']}/" for n in (1, 2)]
        try:
            if not all(requests.get(url, timeout=5).status_code == 200 for url in urls):
                return False
            health = requests.get(f"{self.internal_url}/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        return health.get("status") == "ok"


@contextmanager
def running_cluster(folder: Path, database_url: str) -> Iterator[Cluster]:
    env = {
        **rasa_env("", database_url, "", ""),
        **{name: str(free_port()) for name in PORTS},
        "VAR_DIR": str(folder),
        "CLUSTER_DATABASE_URL": database_url,
        "HANDOFF_RASA_TOKEN": RASA_TOKEN,
        "HANDOFF_SERVICE_TOKEN": SERVICE_TOKEN,
        "HANDOFF_ACTIONS_TOKEN": ACTIONS_TOKEN,
        # Its own channel: other tests' handoff processes share this Redis.
        "HANDOFF_REDIS_CHANNEL": f"cluster-{uuid.uuid4().hex}",
    }
    for name in ("HANDOFF_URL", "RASA_ACTIONS_URL", "WIDGET_ALLOWED_ORIGINS"):
        env.pop(name)
    service = Service(
        "cluster",
        ["bash", "scripts/cluster.sh"],
        env,
        folder / "cluster.log",
        f"http://127.0.0.1:{env['INTERNAL_HANDOFF_PORT']}",
        "/health",
    ).launch()
    cluster = Cluster(service, env)
    try:
        wait_until(cluster.ready, 180, "every process of the cluster serving")
        yield cluster
    finally:
        service.stop()
