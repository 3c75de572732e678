"""rasa_sdk's plugin hook (``rasa_sdk.plugin``: the action server imports a
package of this name and lets it extend its Sanic app): Rasa must prove it
is Rasa before the action server runs anything.

Rasa sends ``HANDOFF_ACTIONS_TOKEN`` as the ``token`` query parameter
(endpoints.yml, ``action_endpoint.token``); every request but ``/health``
without it gets 401 and runs nothing. With the variable unset, every such
request is refused (fail closed).

It also keeps an idle connection from Rasa open longer than Rasa keeps it
(:data:`KEEP_ALIVE_SECONDS`): with Sanic's 5 s against aiohttp's 15 s, a
burst after a quiet moment reused connections the action server had just
closed, and Rasa dropped those actions ("Cannot write to closing
transport": 43 lost handoffs at the start of the bench's 1,000
conversations, 2026-12-02)."""

from __future__ import annotations

import hmac
import logging
import os
import sys
from typing import Optional

import pluggy
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)
TOKEN_VARIABLE = "HANDOFF_ACTIONS_TOKEN"
OPEN_PATHS = frozenset({"/health"})
# Longer than aiohttp's client keep-alive (15 s), so Rasa closes first.
KEEP_ALIVE_SECONDS = 75


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by rasa_sdk.plugin when it finds this package."""
    manager.register(sys.modules[__name__])


def refusal(request: Request) -> Optional[HTTPResponse]:
    """401 unless the request carries the action server's token."""
    if request.path in OPEN_PATHS:
        return None
    expected = os.environ.get(TOKEN_VARIABLE, "")
    sent = request.args.get("token", "")
    if expected and hmac.compare_digest(
        sent.encode(errors="surrogateescape"), expected.encode(errors="surrogateescape")
    ):
        return None
    if not expected:
        logger.error("%s is not set: the action server refuses every request", TOKEN_VARIABLE)
    return json(
        {"error": {"code": "unauthorized", "message": "missing or invalid action server token"}},
        status=401,
    )


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    app.on_request(refusal)
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
