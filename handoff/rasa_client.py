"""Calls to Rasa's HTTP API: the operator's voice reaches the customer through Rasa."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

# External intents that start Rasa's closing flows (see data/rules.yml).
INTENT_FINISHED = "EXTERNAL_attendance_finished"
INTENT_CANCELLED = "EXTERNAL_attendance_cancelled"


class RasaUnavailable(Exception):
    """Rasa did not accept a call; the caller keeps what it must retry."""


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, payload: Any, **query: str) -> Any:
        assert self._session is not None, "RasaClient.start() was not awaited"
        params = {"token": self._token, **query}
        try:
            async with self._session.post(
                f"{self.base_url}{path}", json=payload, params=params
            ) as response:
                if response.status >= 300:
                    raise RasaUnavailable(f"{path}: HTTP {response.status} {await response.text()}")
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"{path}: {error!r}") from error

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe='')}"

    async def is_reachable(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(f"{self.base_url}/") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def conversation_events(self, conversation_id: str) -> list[dict[str, Any]]:
        """The events of the conversation's tracker, each with its sender id."""
        assert self._session is not None
        url = f"{self.base_url}{self._conversation(conversation_id)}/tracker"
        try:
            async with self._session.get(url, params={"token": self._token}) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"tracker: HTTP {response.status}")
                tracker = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"tracker: {error!r}") from error
        return [{**event, "sender_id": conversation_id} for event in tracker.get("events", [])]

    async def send_bot_message(self, conversation_id: str, text: str, message_id: int) -> None:
        """Append a bot event and send it on the customer's latest channel."""
        event = {"event": "bot", "text": text, "metadata": {"handoff_message_id": message_id}}
        await self._post(
            f"{self._conversation(conversation_id)}/tracker/events",
            [event],
            output_channel="latest",
            execute_side_effects="true",
        )

    async def resume_with_intent(
        self, conversation_id: str, intent: str, entities: dict[str, str]
    ) -> None:
        """Un-pause the bot, then run its flow for ``intent`` (Z3)."""
        path = self._conversation(conversation_id)
        await self._post(f"{path}/tracker/events", [{"event": "resume"}])
        await self._post(
            f"{path}/trigger_intent",
            {"name": intent, "entities": entities},
            output_channel="latest",
        )
