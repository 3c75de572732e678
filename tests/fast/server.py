"""The handoff service in this test process: the app from its factory,
served by Sanic on a free port from an event loop in a background thread,
with its background tasks (outbox, sweeps, session checks) running as in
production and Rasa unreachable (a closed port: the outbox only retries)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sanic import Sanic
from sqlalchemy import event

from handoff.app import create_app
from handoff.desk import Desk
from handoff.settings import Settings
from tests.support.processes import RASA_TOKEN, SERVICE_TOKEN, free_port

# One app per test, all named "handoff": Sanic's registry refuses a second
# app of the same name outside its test mode (sanic-testing sets it too).
Sanic.test_mode = True
# A bound for a hang of the server's loop (start, stop), never a measure.
STUCK_SECONDS = 30.0
CLOSED_PORT_URL = "http://127.0.0.1:9"


class InProcessService:
    """What tests/support/api.py's factories need of a service (``base_url``,
    ``env["DATABASE_URL"]``), plus the app itself: its desk and its engine."""

    def __init__(self, database_url: str, **settings: Any) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {"DATABASE_URL": database_url}
        self.settings = Settings(
            database_url=database_url,
            host="127.0.0.1",
            port=port,
            rasa_url=CLOSED_PORT_URL,
            rasa_token=RASA_TOKEN,
            service_token=SERVICE_TOKEN,
            **settings,
        )
        self.app = create_app(self.settings)
        self.app.config.MOTD = False  # Sanic's banner, once per test otherwise
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None

    @property
    def desk(self) -> Desk:
        return cast(Desk, self.app.ctx.desk)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(STUCK_SECONDS)

    def start(self) -> InProcessService:
        self._thread.start()
        self._server = self._call(self._serve())
        return self

    async def _serve(self) -> Any:
        server = await self.app.create_server(
            host=self.settings.host,
            port=self.settings.port,
            return_asyncio_server=True,
            access_log=False,
        )
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    async def _shut_down(self) -> None:
        """As Sanic's own shutdown: the app's stop listeners (the desk
        drains), then every connection closed, then the tasks left."""
        server = self._server
        await server.before_stop()
        await server.close()
        for connection in list(server.connections):
            if getattr(connection, "websocket", None):
                connection.websocket.fail_connection(code=1001)
            else:
                connection.abort()
        await server.after_stop()
        current = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def stop(self) -> None:
        try:
            self._call(self._shut_down())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STUCK_SECONDS)
            self._loop.close()


class QueryCounter:
    """Counts the SQL statements the app's engine executes from one thread:
    the test's own units of work, not the background tasks' (the outbox
    polls every half second)."""

    def __init__(self, service: InProcessService) -> None:
        self._engine = service.desk.db.engine
        self._thread: int | None = None
        self.statements: list[str] = []
        event.listen(self._engine, "before_cursor_execute", self._executed)

    def _executed(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == self._thread:
            self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """The statements run in this thread inside the block."""
        self.statements = []
        self._thread = threading.get_ident()
        try:
            yield self.statements
        finally:
            self._thread = None

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._executed)
