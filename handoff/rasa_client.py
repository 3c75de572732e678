"""Calls to Rasa's HTTP API: the operator's voice reaches the customer through Rasa."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

# External intents that start Rasa's closing flows (see data/rules.yml).
INTENT_FINISHED = "EXTERNAL_attendance_finished"
INTENT_CANCELLED = "EXTERNAL_attendance_cancelled"
INTENT_ABANDONED = "EXTERNAL_attendance_abandoned"
# Finished in a room that asks for the satisfaction survey: closing, then the survey.
INTENT_FINISHED_SURVEY = "EXTERNAL_attendance_finished_survey"
# The customer left the queue or ended the conversation themselves.
INTENT_CUSTOMER_LEFT = "EXTERNAL_customer_left"
# Runs the transfer action again (a transfer the action server missed).
INTENT_RETRY_TRANSFER = "EXTERNAL_retry_handoff"


# The health checks answer fast even when Rasa is slow: a busy Rasa counts
# as unreachable there, and /health stays quick for load balancers.
HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=1.5)


class RasaUnavailable(Exception):
    """Rasa did not accept a call; the caller keeps what it must retry."""


def _error_code(reply: str) -> Any:
    """``error.code`` of a JSON error reply, None for anything else."""
    return _error_field(reply, "code")


def _error_field(reply: str, field: str) -> Any:
    try:
        body = json.loads(reply)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get(field) if isinstance(error, dict) else None


class ChannelRefused(Exception):
    """Rasa took an operator message but the customer's channel refused it
    (e.g. Meta's Graph API, after its own retries): the operator retries it.
    ``provider_code``: the channel's reason (Meta's error code), if given."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        code = _error_field(reply, "provider_code")
        self.provider_code = str(code) if isinstance(code, int | str) and code != "" else None


class ChannelBusy(Exception):
    """The customer's channel paces the message (WhatsApp's rate limits):
    not sent yet, to be sent again in ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"channel busy for {seconds:.0f} s")
        self.seconds = seconds


class RasaClient:
    def __init__(
        self, base_url: str, token: str, timeout_seconds: float, service_token: str = ""
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        # For the routes of bot/ (operator messages, tracker-store health).
        self._service_headers = {"Authorization": f"Bearer {service_token}"}
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

    async def _post_service(self, path: str, body: dict[str, Any]) -> tuple[int, str, str]:
        """POST to one of bot/'s service routes (``/webhooks/...``): the
        status, the answer's text and its Retry-After. RasaUnavailable when
        Rasa did not answer."""
        assert self._session is not None, "RasaClient.start() was not awaited"
        try:
            async with self._session.post(
                f"{self.base_url}/webhooks/{path}", json=body, headers=self._service_headers
            ) as response:
                retry_after = response.headers.get("Retry-After", "")
                return response.status, await response.text(), retry_after
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"{path}: {error!r}") from error

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe='')}"

    async def is_reachable(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(f"{self.base_url}/", timeout=HEALTH_TIMEOUT) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def tracker_store_health(self) -> dict[str, Any]:
        """What ``bot/tracker_store_guard.py`` reports of Rasa's tracker store:
        ``tracker_store`` (ok/unavailable), ``failures``, ``in_memory_conversations``."""
        assert self._session is not None
        url = f"{self.base_url}/webhooks/tracker_store/health"
        try:
            async with self._session.get(
                url, headers=self._service_headers, timeout=HEALTH_TIMEOUT
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"tracker store health: HTTP {response.status}")
                health: dict[str, Any] = await response.json()
                return health
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"tracker store health: {error!r}") from error

    async def conversation_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """The ``user`` and ``bot`` events of the conversation's tracker, in
        order (``bot/conversation_messages.py``)."""
        assert self._session is not None
        url = f"{self.base_url}/webhooks/conversation_messages/{quote(conversation_id, safe='')}"
        try:
            async with self._session.get(url, headers=self._service_headers) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"messages: HTTP {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"messages: {error!r}") from error
        messages: list[dict[str, Any]] = body["messages"]
        return messages

    async def erase_conversation(self, conversation_id: str, before: float | None = None) -> int:
        """Delete the conversation's events (older than ``before``, a Unix
        time, if given) from Rasa's tracker store
        (``bot/conversation_erasure.py``); returns how many there were."""
        assert self._session is not None, "RasaClient.start() was not awaited"
        url = f"{self.base_url}/webhooks/conversation_erasure/{quote(conversation_id, safe='')}"
        params = {} if before is None else {"before": repr(before)}
        try:
            async with self._session.delete(
                url, headers=self._service_headers, params=params
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"erase: HTTP {response.status} {await response.text()}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"erase: {error!r}") from error
        return int(body["deleted"])

    async def send_bot_message(
        self,
        conversation_id: str,
        text: str,
        message_id: int,
        operator_name: str | None = None,
        attachment: dict[str, Any] | None = None,
        template: dict[str, Any] | None = None,
    ) -> bool:
        """Append an operator message to the conversation once (a second send
        of the same ``message_id`` changes nothing) and send it on the
        customer's latest channel (``bot/operator_messages.py``), with the
        name the customer is shown (none: "Atendente"), its file's
        description (``attachment``: the channel fetches the file by the
        message's id, ``GET /api/channel/files/<id>``); a WhatsApp
        ``template`` ({name, language, parameters}) goes as Meta's template
        message, ``text`` being its body filled in. False if
        the channel could not learn whether it went out (HTTP 202). Raises
        ChannelRefused when the channel refused it, ChannelBusy when it
        paces it, RasaUnavailable when Rasa did not answer."""
        body: dict[str, Any] = {
            "conversation_id": conversation_id,
            "text": text,
            "handoff_message_id": message_id,
        }
        if operator_name:
            body["operator_name"] = operator_name
        if attachment:
            body["attachment"] = attachment
        if template:
            body["whatsapp_template"] = template
        status, reply, retry_after = await self._post_service("operator_messages/deliver", body)
        if status < 300:
            return status != 202
        if status == 502 and _error_code(reply) == "channel_refused":
            raise ChannelRefused(reply)
        if status == 429 and _error_code(reply) == "channel_busy":
            raise ChannelBusy(float(retry_after) if retry_after.isdigit() else 1.0)
        raise RasaUnavailable(f"deliver: HTTP {status} {reply}")

    async def send_notice(self, conversation_id: str, text: str, notice_id: int) -> None:
        """Append a notice of the service (the queue position) to the
        conversation once and send it on the customer's latest channel, as a
        bot message (``bot/operator_messages.py``, ``/notice``). Raises
        RasaUnavailable when Rasa did not take it."""
        body = {"conversation_id": conversation_id, "text": text, "notice_id": notice_id}
        status, reply, _ = await self._post_service("operator_messages/notice", body)
        if status != 200:
            raise RasaUnavailable(f"notice: HTTP {status} {reply}")

    async def operator_typing(self, conversation_id: str, typing: bool = True) -> bool:
        """Tell the customer the operator is typing (``typing``) or has read
        their messages (WhatsApp's read marks; ``bot/operator_messages.py``).
        A signal, not a message: whether Rasa took it, never raised (a lost
        one only hides the indicator)."""
        body = {"conversation_id": conversation_id, "typing": typing}
        try:
            status, _, _ = await self._post_service("operator_messages/typing", body)
        except RasaUnavailable:
            return False
        return status == 200

    async def resend_on_channel(
        self, channel: str, conversation_id: str, message: dict[str, Any]
    ) -> str:
        """Send a bot message the channel could not send before (its route
        in ``bot/``); returns the channel's outcome (``sent``, ``unknown``,
        ``refused``). Raises RasaUnavailable while Rasa or the channel is
        away, RuntimeError if the channel refuses the request itself."""
        body = {"conversation_id": conversation_id, "message": message}
        status, reply, _ = await self._post_service(f"{quote(channel, safe='')}/resend", body)
        if status >= 500:
            raise RasaUnavailable(f"resend: HTTP {status} {reply}")
        if status >= 300:
            raise RuntimeError(f"resend: HTTP {status} {reply}")
        return str(json.loads(reply).get("outcome"))

    async def trigger_intent(self, conversation_id: str, intent: str) -> None:
        """Run the bot's flow for ``intent`` (e.g. a transfer the action server missed)."""
        await self._post(
            f"{self._conversation(conversation_id)}/trigger_intent",
            {"name": intent},
            output_channel="latest",
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
