"""The service's HTTP routes and console socket.io events, listed from the
application itself (not from a hand-kept list), so that a route or an event
added later is checked by the security tests or makes them fail."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass

from sanic import Sanic

from handoff.app import create_app
from handoff.settings import Settings
from tests.support.processes import PYTHON_RASA, ROOT, rasa_env

# The Rasa side's routes: the service token, never the console's cookie.
SERVICE_ROUTES = frozenset(
    {
        "integration.open_attendance",
        "integration.broker_events",
        "integration.rasa_started",
        "integration.rasa_dead_letters",
        "integration.channel_receipts",
        "integration.channel_undelivered",
        "integration.open_attendance_of",
        "attachments.channel_file",
        "integration.survey_rating",
        "integration.survey_comment",
        "record_service.citizen_request",
    }
)
# Static files and pages, open to anyone: the console, the widget and its
# demo page, the vendored socket.io client, and the redirect to the console.
PAGE_ROUTES = frozenset(
    {"root", "console", "widget", "widget_demo", "widget_demo_file", "widget_demo_bare", "vendor"}
)


# Keys the routes read in a JSON body, so that fuzzed bodies get past the first checks.
BODY_KEYS = [
    "text", "client_id", "name", "email", "document", "phone", "status", "reason",
    "username", "password", "current_password", "new_password", "rooms", "room", "slug",
    "role", "active", "max_concurrent", "conversation_id", "channel", "contact",
    "first_message", "message_id", "customer_id", "article", "article_id", "fields", "kind",
    "value", "label", "key", "token", "event", "sender_id", "timestamp", "message",
    "subject", "comment", "title", "room_id", "operator_id", "note", "assignment",
    "hours", "outside_hours", "from_file", "day",
    "protocol", "rating", "skip",
    "template", "parameters", "pending_until", "pending_reason", "answer",
    "means",
]  # fmt: skip


@dataclass(frozen=True)
class Route:
    method: str
    name: str  # "<blueprint>.<handler>", e.g. "attendances.take"
    path: str  # "/api/attendances/<attendance_id:int>/take"

    def url(self, base: str, **values: object) -> str:
        """The path with its parameters filled in from ``values``."""
        return base + re.sub(r"<(\w+)(:[^>]*)?>", lambda m: str(values[m.group(1)]), self.path)


@functools.cache
def _app() -> Sanic:
    # Never served: only its router and socket.io handlers are read.
    return create_app(
        Settings(database_url="sqlite://", rasa_token="unused", service_token="unused")
    )


def http_routes() -> list[Route]:
    routes = []
    for route in _app().router.routes:
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            routes.append(Route(method, route.name.removeprefix("handoff."), "/" + route.path))
    # Sorted: pytest-xdist's workers must collect the same tests in the same order.
    return sorted(routes, key=lambda r: (r.path, r.method))


def socket_events() -> list[str]:
    """The console's events (connect and disconnect are the handshake; "*"
    answers every other event, as an error)."""
    handlers = _app().ctx.sio.handlers["/"]
    return sorted(set(handlers) - {"connect", "disconnect", "*"})


@functools.cache
def _rasa_side() -> dict[str, list]:
    env = {
        **os.environ,
        **rasa_env("http://127.0.0.1:9", "sqlite://", "http://127.0.0.1:9", ""),
        "PYTHONPATH": str(ROOT),
    }
    listed = subprocess.run(
        [PYTHON_RASA, str(ROOT / "tests" / "support" / "list_rasa_routes.py")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(listed.stdout)


def rasa_routes() -> list[Route]:
    """The HTTP routes the input channels of ``bot/`` add to Rasa, read
    from the channels' blueprints by Rasa's own interpreter; ``name`` is
    the channel's class (``bot.whatsapp_channel.WhatsAppInput``)."""
    return [Route(method, name, path) for method, name, path in _rasa_side()["routes"]]


def action_server_routes() -> list[Route]:
    """The action server's HTTP routes, read from rasa_sdk's app."""
    return [Route(method, name, path) for method, name, path in _rasa_side()["actions"]]


def rasa_socket_events() -> list[str]:
    """The widget's socket.io events (Rasa's side)."""
    return _rasa_side()["events"]
