"""Protocol numbers stay unique under concurrency, on both database engines."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from handoff.db import Database
from handoff.domain.protocols import next_protocol
from handoff.migrate import upgrade
from tests.support.databases import fresh_database

WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_concurrent_protocols_are_unique_and_sequential(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        upgrade(url)
        db = Database(url)

        def take_one(_: int) -> str:
            with db.unit_of_work() as uow:
                return next_protocol(uow.session, WHEN)

        with ThreadPoolExecutor(max_workers=16) as pool:
            protocols = list(pool.map(take_one, range(200)))
        db.dispose()
    assert len(set(protocols)) == 200
    assert all(re.fullmatch(r"2026\d{6}", p) for p in protocols)
    assert sorted(protocols) == [f"2026{n:06d}" for n in range(1, 201)]
