"""The processes a benchmark runs against: the product (reusing the tests'
`start_stack`), the peer baseline's Rasa and the floor's echo server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.processes import PYTHON, RASA, ROOT, Service, free_port

PEER = ROOT / "bench" / "peer"
QUIET = {
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONWARNINGS": "ignore",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def train_peer(folder: Path) -> Path:
    """The peer bot: the product's NLU pipeline and data, one answer to all."""
    config = folder / "peer-config.yml"
    # The product's policies name its custom fallback action; the peer has none.
    config.write_text(
        "".join(
            line
            for line in (ROOT / "config.yml").read_text().splitlines(keepends=True)
            if "core_fallback_action_name" not in line
        )
    )
    subprocess.run(
        [
            RASA,
            "train",
            "--quiet",
            "--fixed-model-name",
            "peer",
            "--out",
            str(folder),
            "--config",
            str(config),
            "--domain",
            str(PEER / "domain.yml"),
            "--data",
            str(ROOT / "data" / "nlu.yml"),
            str(PEER / "rules.yml"),
        ],
        cwd=ROOT,
        env={**os.environ, **QUIET},
        check=True,
        capture_output=True,
    )
    return folder / "peer.tar.gz"


def start_peer(model: Path, tracker_url: str, log_dir: Path) -> Service:
    """Rasa with the peer bot and the product's socket.io channel, no broker."""
    port = free_port()
    return Service(
        "rasa",
        [
            RASA,
            "run",
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model),
            "--credentials",
            str(PEER / "credentials.yml"),
            "--endpoints",
            str(PEER / "endpoints.yml"),
        ],
        {**QUIET, "RASA_TRACKER_DB": tracker_url},
        log_dir / "peer-rasa.log",
        f"http://127.0.0.1:{port}",
        "/",
    ).start()


def start_floor(log_dir: Path) -> Service:
    port = free_port()
    return Service(
        "echo server",
        [PYTHON, "-m", "bench.echo_server", "--port", str(port)],
        {},
        log_dir / "echo.log",
        f"http://127.0.0.1:{port}",
        "/health",
    ).start()
