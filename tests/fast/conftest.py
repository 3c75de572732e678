"""The fast tier: the real app in this process on a fresh SQLite database per
test (a copy of one migrated and seeded once per session), Rasa unreachable.
Nothing here starts Rasa, PostgreSQL or a browser."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from handoff.db import Database
from handoff.demo import DEMO_PASSWORD, DEMO_SUPERVISOR, DEMO_USERNAME, seed
from handoff.domain.operators import operator_for_token
from handoff.migrate import upgrade
from handoff.settings import Settings
from tests.fast.console import Console
from tests.fast.server import InProcessService, QueryCounter
from tests.support.api import Client


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once, with the demo data (room "atendimento", the demo operator
    and supervisor, the knowledge base); each test gets a copy."""
    path = tmp_path_factory.mktemp("fast-template") / "handoff.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    seed(db, Settings(database_url=url))
    # The last connection's close folds the WAL into the file, so that
    # copying the file copies everything.
    db.dispose()
    assert not path.with_name("handoff.db-wal").exists()
    return path


@pytest.fixture
def service_settings() -> dict[str, Any]:
    """Settings a test module changes (fields of handoff.settings.Settings)."""
    return {}


@pytest.fixture
def service(
    template_db: Path, tmp_path: Path, service_settings: dict[str, Any]
) -> Iterator[InProcessService]:
    path = tmp_path / "handoff.db"
    shutil.copy(template_db, path)
    running = InProcessService(f"sqlite:///{path}", **service_settings).start()
    yield running
    running.stop()


@pytest.fixture
def operator(service: InProcessService) -> Client:
    """The demo operator's REST session, available."""
    return Client(service, DEMO_USERNAME, DEMO_PASSWORD).available()


@pytest.fixture
def supervisor(service: InProcessService) -> Client:
    """The demo supervisor's REST session."""
    return Client(service, DEMO_SUPERVISOR, DEMO_PASSWORD)


@pytest.fixture
def console(service: InProcessService) -> Iterator[Callable[[Client], Console]]:
    """Opens an operator's console connection (python-socketio's client)."""
    opened: list[Console] = []

    def connect(client: Client) -> Console:
        opened.append(Console(service.base_url, client.token))
        return opened[-1]

    yield connect
    for connection in opened:
        connection.close()


@pytest.fixture
def queries(service: InProcessService) -> Iterator[Callable[..., list[str]]]:
    """``queries(work, token=None, read=False)``: the SQL statements of
    ``work(uow)`` in one unit of work, in this thread; with an operator's
    ``token``, of ``work(uow, operator)`` after the session lookup, as the
    desk runs a logged-in operator's request."""
    counter = QueryCounter(service)

    def run(work: Callable[..., Any], token: str | None = None, read: bool = False) -> list[str]:
        with counter.counting() as statements:
            with service.desk.db.unit_of_work(read_only=read) as uow:
                if token is None:
                    work(uow)
                else:
                    work(uow, operator_for_token(uow.session, token))
        return list(statements)

    yield run
    counter.close()
