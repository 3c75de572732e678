"""The handoff service's Sanic application, built by a factory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sanic import Request, Sanic
from sanic.response import HTTPResponse, html, redirect

from handoff.db import Database
from handoff.demo import demo_page
from handoff.desk import Desk
from handoff.domain.errors import NotFound
from handoff.rasa_client import RasaClient
from handoff.realtime import create_socket_server, make_publisher, register_handlers
from handoff.routes import routes
from handoff.routes.common import browser_guard
from handoff.routes.errors import install_errors
from handoff.security_headers import add_security_headers
from handoff.settings import PROJECT_ROOT, Settings

SHUTDOWN_GRACE_SECONDS = 2.0
# The folders of static files, by route name.
STATIC_FOLDERS = {
    "console": PROJECT_ROOT / "operator_console",
    "widget": PROJECT_ROOT / "widget",
    "vendor": PROJECT_ROOT / "vendor",
}


async def static_file_exists(request: Request) -> None:
    """A static address that names nothing on disk is 404 before Sanic's
    static handler runs: it answers 500 (and logs a traceback) when the
    name cannot be looked up at all (a file used as a folder,
    ``/console/index.html/x``; a name longer than the file system takes)."""
    folder = (
        STATIC_FOLDERS.get(request.route.name.removeprefix("handoff.")) if request.route else None
    )
    if folder is not None and not os.path.exists(
        Path(folder, unquote(request.match_info.get("__file_uri__", "")))
    ):
        raise NotFound("Endereço não encontrado.")


def create_app(settings: Settings | None = None) -> Sanic[Any, Any]:
    settings = settings or Settings()
    if not settings.rasa_token or not settings.service_token:
        raise RuntimeError(
            "HANDOFF_RASA_TOKEN and HANDOFF_SERVICE_TOKEN must be set"
            " (`make run` generates development ones in var/secrets.env)"
        )
    app = Sanic("handoff")
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # On SIGTERM, once the desk has drained, requests still running get this
    # long; then open websockets are closed as "going away" and consoles
    # reconnect to the next process (a console's websocket never goes idle,
    # so Sanic's default would hold every shutdown for 15 s).
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = SHUTDOWN_GRACE_SECONDS
    app.ctx.settings = settings
    sio = create_socket_server(settings)
    sio.attach(app)
    db = Database(settings.database_url, settings.db_lock_timeout_seconds)
    rasa = RasaClient(
        settings.rasa_url,
        settings.rasa_token,
        settings.rasa_timeout_seconds,
        service_token=settings.service_token,
    )
    desk = Desk(db, rasa, make_publisher(sio), settings)
    app.ctx.desk = desk
    app.ctx.sio = sio
    connections = register_handlers(sio, desk)

    app.blueprint(routes)
    app.on_request(browser_guard)
    app.register_middleware(add_security_headers, "response")
    install_errors(app)
    app.on_request(static_file_exists)
    app.static("/console/", STATIC_FOLDERS["console"], index="index.html", name="console")
    # The demo page is widget/index.html with the configured addresses in it;
    # the widget's other files are served as they are.
    page = demo_page(settings)

    async def widget_demo(_request: Request) -> HTTPResponse:
        return html(page)

    app.add_route(widget_demo, "/widget/", name="widget_demo", strict_slashes=True)
    app.add_route(widget_demo, "/widget/index.html", name="widget_demo_file")

    @app.get("/widget", name="widget_demo_bare")
    async def widget_demo_bare(_request: Request) -> HTTPResponse:
        return redirect("/widget/")

    app.static("/widget/", STATIC_FOLDERS["widget"], name="widget")
    app.static("/vendor/", STATIC_FOLDERS["vendor"], name="vendor")

    @app.get("/")
    async def root(_request: Request) -> HTTPResponse:
        return redirect("/console/")

    @app.before_server_start
    async def start(_app: Sanic[Any, Any]) -> None:
        await rasa.start()

    @app.after_server_start
    async def catch_up(_app: Sanic[Any, Any]) -> None:
        app.ctx.session_watch = asyncio.ensure_future(connections.watch())
        await desk.outbox.start()
        desk.in_background(desk.reconcile())
        desk.start_abandonment_sweep()
        desk.start_presence_heartbeat()
        desk.start_retention_sweep()
        await desk.watch_absent_operators()
        await desk.reload_knowledge_base_if_changed()

    @app.before_server_stop
    async def stop(_app: Sanic[Any, Any]) -> None:
        app.ctx.session_watch.cancel()
        await desk.drain()
        await rasa.close()
        db.dispose()

    return app
