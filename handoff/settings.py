"""Typed settings read from ``HANDOFF_*`` environment variables.

Defaults are for development on one machine only; production sets every
secret explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Longest text accepted from an operator or a customer, in characters.
# WhatsApp's own limit for a text message body is 4096.
MAX_MESSAGE_LENGTH = 4096


# HANDOFF_OPERATOR_NAME_IN_WIDGET: the operator's first name, or no name.
OPERATOR_NAME_CHOICES = ("first", "none")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HANDOFF_{name}", default)


def _var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", str(PROJECT_ROOT / "var")))


def _project_path(name: str, *default: str) -> Callable[[], Path]:
    """The default factory of a file or folder ``HANDOFF_<name>``, by
    default the project's own ``default`` path."""
    return lambda: Path(_env(name, str(PROJECT_ROOT.joinpath(*default))))


# Files a citizen may send (MIME types without parameters; ``type/*`` takes
# every subtype): what WhatsApp carries for photos, voice notes, audio,
# video, stickers and the usual office documents.
DEFAULT_MEDIA_TYPES = ",".join(
    (
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/*",
        "video/mp4",
        "video/3gpp",
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
)


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
    # Where visitors' browsers reach Rasa's widget channel (the demo page's
    # widget dials it). Default: this host, port RASA_PORT, as `make run`
    # starts Rasa; set it when Rasa is public under another address.
    public_rasa_url: str = field(default_factory=lambda: _env("PUBLIC_RASA_URL", ""))
    rasa_port: int = field(default_factory=lambda: int(os.environ.get("RASA_PORT", "5005")))
    # Token of Rasa's HTTP API (`rasa run --auth-token`). No default: `make run`
    # generates a random one in var/secrets.env.
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN", ""))
    # Shared secret of the custom actions and the Rasa event broker (same).
    service_token: str = field(default_factory=lambda: _env("SERVICE_TOKEN", ""))
    # Room that receives attendances that do not name one.
    default_room: str = field(default_factory=lambda: _env("DEFAULT_ROOM", "atendimento"))
    # Origins allowed to open the console's socket.io connection.
    allowed_origins: list[str] = field(default_factory=lambda: _csv(_env("ALLOWED_ORIGINS", "")))
    # With several handoff processes: python-socketio's Redis manager carries
    # each real-time event to the consoles connected to any of them.
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    redis_channel: str = field(default_factory=lambda: _env("REDIS_CHANNEL", "servicedesk"))
    # An operator session (and its cookie) ends this many seconds after login:
    # one working day.
    session_ttl_seconds: int = field(
        default_factory=lambda: int(_env("SESSION_TTL_SECONDS", str(12 * 3600)))
    )
    # How often each process checks that the sessions of its open console
    # connections are still valid; a revoked or expired one is disconnected
    # within this time (logout, password change, deactivation elsewhere).
    session_check_seconds: float = field(
        default_factory=lambda: float(_env("SESSION_CHECK_SECONDS", "1"))
    )
    # Rate limits, in the `limits` library's notation ("N/period", moving
    # window; in Redis when HANDOFF_REDIS_URL is set, else per process).
    # Failed logins (OWASP's authentication cheat sheet; docs/reliability.md):
    # of one username from one address (or one known device): stops guessing
    # from one place, and never blocks the same user elsewhere.
    login_failures_per_pair: str = field(
        default_factory=lambda: _env("LOGIN_FAILURES_PER_PAIR", "5/15 minutes")
    )
    # Of one username from all addresses: stops guessing one account from
    # many addresses; it blocks only logins without the account's known-device
    # cookie, so an attacker cannot lock the real user out of their own browser.
    login_failures_per_account: str = field(
        default_factory=lambda: _env("LOGIN_FAILURES_PER_ACCOUNT", "10/15 minutes")
    )
    # From one address, all usernames: stops trying one password on many
    # accounts; much higher because a whole office may share one address
    # (NAT), and likewise not applied to a known device.
    login_failures_per_address: str = field(
        default_factory=lambda: _env("LOGIN_FAILURES_PER_ADDRESS", "300/15 minutes")
    )
    # REST requests and socket.io events of one operator: a console makes a
    # few per action, so this only stops scripts (and a looping bug).
    operator_requests: str = field(default_factory=lambda: _env("OPERATOR_REQUESTS", "1200/minute"))
    # An operator whose console is gone this long (or who went offline) has
    # their active attendances put back in the queue.
    reconnect_grace_seconds: float = field(
        default_factory=lambda: float(_env("RECONNECT_GRACE_SECONDS", "60"))
    )
    # With several processes (Redis): how long a process's word that it holds
    # an operator's console lasts unless refreshed (a process that died
    # stops refreshing; its consoles count as gone after this).
    presence_ttl_seconds: float = field(
        default_factory=lambda: float(_env("PRESENCE_TTL_SECONDS", "30"))
    )
    # A customer silent this long after the operator's last message (sent to
    # them) is taken to have left: the attendance is closed as abandoned, the
    # operator's slot is freed and the customer gets a notice with the
    # protocol. 15 minutes: a citizen looking for a document or a number
    # usually answers well within it.
    abandon_after_seconds: float = field(
        default_factory=lambda: float(_env("ABANDON_AFTER_SECONDS", str(15 * 60)))
    )
    # Demands' records are kept this many days after they ended (the SAC
    # decree asks at least two years), then the retention job anonymises
    # them; it looks for such records every RETENTION_CHECK_SECONDS.
    retention_days: float = field(default_factory=lambda: float(_env("RETENTION_DAYS", "730")))
    retention_check_seconds: float = field(
        default_factory=lambda: float(_env("RETENTION_CHECK_SECONDS", "3600"))
    )
    # The content editors' knowledge-base files.
    kb_dir: Path = field(default_factory=_project_path("KB_DIR", "data", "knowledge_base"))
    # The content editors' ready replies (one Markdown file each) and the
    # subjects an operator picks on Finalizar (docs/content.md).
    replies_dir: Path = field(default_factory=_project_path("REPLIES_DIR", "data", "ready_replies"))
    subjects_file: Path = field(
        default_factory=_project_path("SUBJECTS_FILE", "data", "assuntos.md")
    )
    # The rooms' opening hours and the organisation's holidays (docs/content.md).
    hours_file: Path = field(default_factory=_project_path("HOURS_FILE", "data", "horarios.md"))
    holidays_file: Path = field(
        default_factory=_project_path("HOLIDAYS_FILE", "data", "feriados.md")
    )
    # The organisation's approved WhatsApp templates (one Markdown file each,
    # docs/content.md), sent outside the 24-hour window.
    templates_dir: Path = field(
        default_factory=_project_path("TEMPLATES_DIR", "data", "whatsapp_templates")
    )
    # Reports count days, and opening hours are read, in the organisation's time zone.
    timezone: str = field(default_factory=lambda: _env("TIMEZONE", "America/Sao_Paulo"))
    # How long a write waits for another process's lock before the request
    # fails with 503: SQLite's busy timeout (a backup or a long write holding
    # the file; reads go on meanwhile), PostgreSQL's lock_timeout (a table
    # locked by a migration or an administrator).
    db_lock_timeout_seconds: float = field(
        default_factory=lambda: float(_env("DB_LOCK_TIMEOUT_SECONDS", "30"))
    )
    # WhatsApp's Graph API, to fetch what citizens send (the variables Rasa's
    # WhatsApp channel reads too).
    whatsapp_api_base_url: str = field(
        default_factory=lambda: os.environ.get(
            "WHATSAPP_API_BASE_URL", "https://graph.facebook.com"
        )
    )
    whatsapp_api_version: str = field(
        default_factory=lambda: os.environ.get("WHATSAPP_API_VERSION", "") or "v25.0"
    )
    whatsapp_access_token: str = field(
        default_factory=lambda: os.environ.get("WHATSAPP_ACCESS_TOKEN", "")
    )
    # Citizens' files: where they are kept, the largest taken, which types.
    media_dir: Path = field(
        default_factory=lambda: Path(_env("MEDIA_DIR", str(_var_dir() / "media")))
    )
    media_max_bytes: int = field(
        default_factory=lambda: int(_env("MEDIA_MAX_BYTES", str(20 * 1024 * 1024)))
    )
    media_types: list[str] = field(
        default_factory=lambda: _csv(_env("MEDIA_TYPES", DEFAULT_MEDIA_TYPES))
    )
    # Files operators attach in Conversa and visitors attach in the widget:
    # the largest taken (5 MB, WhatsApp's limit for a photo) and which types
    # (told from the file's bytes; only these three are recognised).
    upload_max_bytes: int = field(
        default_factory=lambda: int(_env("UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
    )
    upload_types: list[str] = field(
        default_factory=lambda: _csv(_env("UPLOAD_TYPES", "image/jpeg,image/png,application/pdf"))
    )
    # What the customer's widget shows of the operator who writes: "first"
    # (their first name beside each message) or "none" ("Atendente"). One
    # policy for the organisation (a privacy choice, not a room's), so a
    # customer moved between rooms sees the same thing.
    operator_name_in_widget: str = field(
        default_factory=lambda: _env("OPERATOR_NAME_IN_WIDGET", "first")
    )
    # A waiting WhatsApp citizen hears of a better place in the queue at most
    # this often (each notice is a message on their phone; 2 minutes).
    whatsapp_queue_notice_seconds: float = field(
        default_factory=lambda: float(_env("WHATSAPP_QUEUE_NOTICE_SECONDS", "120"))
    )
    # In the widget, at most this often (a long queue moves every second).
    widget_queue_notice_seconds: float = field(
        default_factory=lambda: float(_env("WIDGET_QUEUE_NOTICE_SECONDS", "30"))
    )
    # A room's places are recounted at most this often, however many
    # changes its queue has meanwhile (the first change is told at once).
    queue_recount_seconds: float = field(
        default_factory=lambda: float(_env("QUEUE_RECOUNT_SECONDS", "1"))
    )
    # The record of a demand sent on request (Decreto 11.034/2022 art. 12):
    # by e-mail through this SMTP server (STARTTLS unless told not to; no
    # login without a user), from this address.
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "587")))
    smtp_user: str = field(default_factory=lambda: _env("SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("SMTP_PASSWORD", ""))
    smtp_from: str = field(default_factory=lambda: _env("SMTP_FROM", ""))
    smtp_starttls: bool = field(
        default_factory=lambda: _env("SMTP_STARTTLS", "true").lower() in ("1", "true", "yes")
    )
    # On the customer's channel it is a link to the record's files, signed
    # with this key (default: derived from the service token) and valid for
    # this many days.
    record_link_secret: str = field(default_factory=lambda: _env("RECORD_LINK_SECRET", ""))
    record_link_days: float = field(default_factory=lambda: float(_env("RECORD_LINK_DAYS", "15")))
    # A TrueType font with the Portuguese accents for the record's PDF
    # (vendored DejaVu Sans).
    record_font: Path = field(
        default_factory=_project_path("RECORD_FONT", "vendor", "fonts", "DejaVuSans.ttf")
    )
    # Seconds to wait for Rasa's HTTP API before giving up on one call.
    rasa_timeout_seconds: float = field(
        default_factory=lambda: float(_env("RASA_TIMEOUT_SECONDS", "10"))
    )

    def __post_init__(self) -> None:
        if self.operator_name_in_widget not in OPERATOR_NAME_CHOICES:
            raise ValueError(
                "HANDOFF_OPERATOR_NAME_IN_WIDGET must be one of " + ", ".join(OPERATOR_NAME_CHOICES)
            )

    @property
    def base_url(self) -> str:
        """Where people open the service."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def console_origins(self) -> set[str]:
        """Origins whose pages may use the console's API and socket.io (besides
        the origin the browser reached the service at)."""
        return {*self.allowed_origins, self.base_url.rstrip("/")}

    @property
    def visitor_rasa_url(self) -> str:
        """Where visitors' widgets reach Rasa."""
        return self.public_rasa_url or f"http://{self.host}:{self.rasa_port}"
