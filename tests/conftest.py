"""Fixtures that start the real product: every test talks to real processes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import browser, host_url  # noqa: F401 - shared fixtures
from tests.support.clients import Operator
from tests.support.databases import BACKENDS, fresh_database
from tests.support.fake_graph import FakeGraph
from tests.support.processes import MODEL, ROOT, Service, Stack, start_handoff, start_stack


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    """Extra environment for a module's stack (all three processes)."""
    return {}


@pytest.fixture(scope="module")
def stack_model() -> Path:
    return MODEL


@pytest.fixture(scope="module")
def stack(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    stack_settings: dict[str, str],
    stack_model: Path,
) -> Iterator[Stack]:
    """Rasa, the action server and the handoff service on one database engine."""
    folder = tmp_path_factory.mktemp(f"stack-{backend}")
    with fresh_database(backend, folder) as url:
        tracker_url = url if backend == "postgresql" else f"sqlite:///{folder / 'rasa.db'}"
        running = start_stack(url, tracker_url, folder, stack_model, stack_settings)
        yield running
        running.stop()


@pytest.fixture(scope="module")
def kb_dir(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the knowledge-base files that a module may edit."""
    folder = tmp_path_factory.mktemp(f"kb-{backend}")
    for path in (ROOT / "data" / "knowledge_base").glob("*.md"):
        shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    """Extra HANDOFF_* variables for a module's handoff service."""
    return {}


@pytest.fixture(scope="module")
def handoff(
    backend: str, tmp_path_factory: pytest.TempPathFactory, handoff_settings: dict[str, str]
) -> Iterator[Service]:
    """The handoff service alone (Rasa unreachable)."""
    folder = tmp_path_factory.mktemp(f"handoff-{backend}")
    with fresh_database(backend, folder) as url:
        service = start_handoff(url, folder, extra_env=handoff_settings)
        yield service
        service.stop()


@pytest.fixture
def operator(stack: Stack) -> Iterator[Operator]:
    """The demo operator's console connection (REST login, then socket.io)."""
    client = Operator(stack.handoff_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    """The local fake of Meta's Graph API (WhatsApp's outbound side)."""
    fake = FakeGraph()
    yield fake
    fake.close()
