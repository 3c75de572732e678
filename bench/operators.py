"""Operators of the load model: created through the admin API, logged in
with a bearer token and connected to the console's socket.io, as
`operator_console/` is (see tests/support/clients.py for the blocking twin
used by the tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import socketio

SUPERVISOR = ("supervisor", "atendimento123")
PASSWORD = "bench-operator-123"
MAX_CONCURRENT = 20
TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _login(http: aiohttp.ClientSession, url: str, username: str, password: str) -> str:
    """A bearer token; waits and retries when the service limits login attempts."""
    for _ in range(30):
        async with http.post(
            f"{url}/api/auth/login",
            json={"username": username, "password": password, "token": True},
        ) as response:
            if response.status == 429:
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return (await response.json())["token"]
    raise RuntimeError(f"login of {username} kept being refused")


async def create_operators(url: str, count: int) -> list[str]:
    """``count`` operators in every room, ``MAX_CONCURRENT`` attendances each
    (created once; their usernames are returned)."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        token = await _login(http, url, *SUPERVISOR)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{url}/api/admin/rooms", headers=headers) as response:
            response.raise_for_status()
            rooms = [room["id"] for room in (await response.json())["rooms"]]
        names = [f"bench{i:03d}" for i in range(count)]
        for name in names:
            body = {
                "username": name,
                "name": f"Operador {name}",
                "password": PASSWORD,
                "rooms": rooms,
                "active_for_chat": True,
                "max_concurrent": MAX_CONCURRENT,
            }
            async with http.post(f"{url}/api/admin/operators", json=body, headers=headers) as r:
                if r.status != 409:  # 409: created by an earlier run on this database
                    r.raise_for_status()
        return names


class Operator:
    """One console: takes its attendances and answers every customer message."""

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        self.username = username
        self.sio = socketio.AsyncClient(reconnection=False)
        self.closing = False

    async def connect(self, on_event: Callable[[Operator, str, Any], Awaitable[None]]) -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            token = await _login(http, self.url, self.username, PASSWORD)
            async with http.post(
                f"{self.url}/api/me/status",
                json={"status": "available"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                response.raise_for_status()

        async def relay(event: str, data: Any = None) -> None:
            await on_event(self, event, data)

        async def gone(reason: Any = None) -> None:
            if not self.closing:
                await on_event(self, "disconnect", str(reason))

        self.sio.on("*", relay)
        self.sio.on("disconnect", gone)
        await self.sio.connect(
            self.url, auth={"token": token}, transports=["websocket"], wait_timeout=30
        )

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        answer = await self.sio.call(event, data, timeout=60)
        if not answer.get("ok"):
            raise RuntimeError(f"{self.username} {event} refused: {answer}")
        return answer

    async def close(self) -> None:
        self.closing = True
        await self.sio.disconnect()
