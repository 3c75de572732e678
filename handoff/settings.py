"""Typed settings read from ``HANDOFF_*`` environment variables.

Defaults are for development on one machine only; production sets every
secret explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Longest text accepted from an operator or a customer, in characters.
# WhatsApp's own limit for a text message body is 4096.
MAX_MESSAGE_LENGTH = 4096


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HANDOFF_{name}", default)


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str = field(
        default_factory=lambda: os.environ.get(
            "DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'handoff.db'}"
        )
    )
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", ""))
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    # Token of Rasa's HTTP API (`rasa run --auth-token`).
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN", "dev-rasa-token"))
    # Shared secret of the custom actions and the Rasa event broker.
    service_token: str = field(default_factory=lambda: _env("SERVICE_TOKEN", "dev-service-token"))
    # Room that receives attendances that do not name one.
    default_room: str = field(default_factory=lambda: _env("DEFAULT_ROOM", "atendimento"))
    # Origins allowed to open the console's socket.io connection.
    allowed_origins: list[str] = field(default_factory=lambda: _csv(_env("ALLOWED_ORIGINS", "")))
    # With several handoff processes: python-socketio's Redis manager carries
    # each real-time event to the consoles connected to any of them.
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    redis_channel: str = field(default_factory=lambda: _env("REDIS_CHANNEL", "servicedesk"))
    # Operator sessions expire after this many seconds without renewal.
    session_ttl_seconds: int = field(
        default_factory=lambda: int(_env("SESSION_TTL_SECONDS", str(12 * 3600)))
    )
    # An operator whose console is gone this long (or who went offline) has
    # their active attendances put back in the queue.
    reconnect_grace_seconds: float = field(
        default_factory=lambda: float(_env("RECONNECT_GRACE_SECONDS", "60"))
    )
    # The content editors' knowledge-base files.
    kb_dir: Path = field(
        default_factory=lambda: Path(_env("KB_DIR", str(PROJECT_ROOT / "data" / "knowledge_base")))
    )
    # Reports count days in the organisation's time zone.
    timezone: str = field(default_factory=lambda: _env("TIMEZONE", "America/Sao_Paulo"))
    # Seconds to wait for Rasa's HTTP API before giving up on one call.
    rasa_timeout_seconds: float = field(
        default_factory=lambda: float(_env("RASA_TIMEOUT_SECONDS", "10"))
    )

    @property
    def base_url(self) -> str:
        """Where people open the service."""
        return self.public_url or f"http://{self.host}:{self.port}"
