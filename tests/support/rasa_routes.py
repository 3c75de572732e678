"""Prints, as JSON, the HTTP routes Rasa serves through the channels of
credentials.yml (the ones bot/ adds) and the routes of the action server,
read from the applications themselves. Rasa needs Python 3.10, so the
security tests run this with .venv-rasa's interpreter:

    .venv-rasa/bin/python -m tests.support.rasa_routes

Never served: the applications are built only to read their routers."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from sanic import Sanic

PLACEHOLDERS = {
    "WIDGET_ALLOWED_ORIGINS": "http://127.0.0.1",
    "WIDGET_NEW_CONVERSATIONS_PER_ADDRESS": "20 per 10 minutes",
    "WHATSAPP_VERIFY_TOKEN": "unused",
    "WHATSAPP_APP_SECRET": "unused",
    "WHATSAPP_ACCESS_TOKEN": "unused",
    "WHATSAPP_PHONE_NUMBER_ID": "1",
    "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
    "HANDOFF_URL": "http://127.0.0.1:9",
    "HANDOFF_SERVICE_TOKEN": "unused",
    "HANDOFF_ACTIONS_TOKEN": "unused",
}


def _routes(app: Sanic) -> list[dict[str, Any]]:
    return [
        {"method": method, "path": "/" + route.path, "name": route.name}
        for route in app.router.routes
        for method in sorted(route.methods)
        if method not in ("HEAD", "OPTIONS")
    ]


def channel_routes() -> list[dict[str, Any]]:
    from rasa.core import run
    from rasa.core.channels.channel import register

    channels = run.create_http_input_channels(None, "credentials.yml")
    app = Sanic("rasa_routes")
    register(channels, app, route="/webhooks/")
    return _routes(app)


def action_server_routes() -> list[dict[str, Any]]:
    from rasa_sdk.endpoint import create_app

    return _routes(create_app("actions"))


def main() -> None:
    for name, value in PLACEHOLDERS.items():
        os.environ.setdefault(name, value)
    json.dump({"rasa": channel_routes(), "actions": action_server_routes()}, sys.stdout)


if __name__ == "__main__":
    main()
