"""Sending on WhatsApp: ``POST {base}/{version}/{phone_number_id}/messages``
of Meta's Graph API, with one rule for what may be tried again.

Meta documents no idempotency key for this call: a request it accepted and
a copy of it are two messages for the citizen. So a try ends in one of
three outcomes:

- **sent**: HTTP 2xx with ``messages[0].id`` (the wamid);
- **not sent** (``WhatsAppSendError``): the connection was never made, or
  Meta answered with its error object (``{"error": {"code", "message"}}``;
  Meta answers a wamid for every message it accepts). It is ``retryable``
  when Meta says "later": HTTP 429 or 5xx, or one of the throttling and
  server-side codes of Meta's error-code table (``RETRYABLE_CODES``); any
  other code is final (131047 outside the 24-hour window, 131026
  undeliverable, 100 invalid parameter, 190 expired token, ...);
- **unknown** (``DeliveryUnknown``): the request may have reached Meta and
  no answer says what became of it (read time-out or connection lost after
  it was made, a 5xx from something that is not the Graph API, a 2xx
  without a wamid). Never tried again here: the message carries
  ``biz_opaque_callback_data`` and Meta's status webhook for it (``sent``,
  ``delivered``, ``read`` or ``failed``) settles it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp

from bot.operator_messages import ChannelBusy, DeliveryUnknown

logger = logging.getLogger(__name__)

# Pauses before the second, third and fourth try of a message that was not sent.
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0)
# All the tries of one message end within this budget, and it is also the
# longest one try waits for Meta's answer (Meta answers in well under a
# second). It is below the handoff service's 10 s wait for Rasa
# (HANDOFF_RASA_TIMEOUT_SECONDS), so the service always learns the outcome.
SEND_BUDGET_SECONDS = 8.0
# Meta's error codes that mean "not sent, try later" (Cloud API error codes):
# throttling (4 app rate limit, 80007 WABA rate limit, 130429 throughput,
# 131056 pair rate limit) and Meta's side (2 API service, 131000 something
# went wrong, 131016 service unavailable, 133004 server temporarily
# unavailable). Meta sends 130429 and 131056 with HTTP 400.
RETRYABLE_CODES = frozenset({2, 4, 80007, 130429, 131000, 131016, 131056, 133004})
# Meta's limits that are paced rather than failed: how long sends wait after
# Meta said it. 130429, the number's throughput (80 messages a second by
# default): every send, a second; 131056, the pair rate limit (about one
# message every 6 seconds to one user after a burst): that user's, 6 s.
PAUSE_SECONDS = {130429: 1.0, 131056: 6.0}
EVERYONE = ""  # the pause key of the number's throughput


class WhatsAppSendError(Exception):
    """Meta did not take the message; ``code`` is Meta's error code."""

    def __init__(self, message: str, code: Optional[int] = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class WhatsAppBusy(WhatsAppSendError, ChannelBusy):
    """Not sent because of Meta's pacing limits (or our pause after one):
    to be sent after ``retry_after`` seconds."""

    def __init__(self, message: str, code: Optional[int], retry_after: float) -> None:
        super().__init__(message, code, retryable=True)
        self.retry_after = retry_after


def _connection_tracing() -> aiohttp.TraceConfig:
    """Marks a request's context once it has a connection: from then on the
    request may have reached Meta."""

    async def connected(_session: Any, context: Any, _params: Any) -> None:
        context.trace_request_ctx["connected"] = True

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(connected)
    trace.on_connection_reuseconn.append(connected)
    return trace


def _json_object(raw: bytes) -> Dict[str, Any]:
    """The Graph API's answer as a dict; empty when it is not a JSON object."""
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_of(body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The Graph API's ``error`` object, when the answer has one."""
    error = body.get("error")
    return error if isinstance(error, dict) else None


def _outcome(status: int, raw: bytes) -> str:
    """The wamid of a sent message; raises for the other two outcomes."""
    body = _json_object(raw)
    if status < 300:
        messages = body.get("messages")
        wamid = messages[0].get("id") if messages and isinstance(messages[0], dict) else None
        if isinstance(wamid, str) and wamid:
            return wamid
        raise DeliveryUnknown(f"HTTP {status} without a message id")
    error = _error_of(body)
    if error is None:
        if status >= 500:
            raise DeliveryUnknown(f"HTTP {status}, not an answer of the Graph API")
        raise WhatsAppSendError(f"HTTP {status}", retryable=status == 429)
    code = error.get("code")
    if code in PAUSE_SECONDS:
        raise WhatsAppBusy(f"HTTP {status}: {error.get('message', '')}", code, PAUSE_SECONDS[code])
    retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
    raise WhatsAppSendError(f"HTTP {status}: {error.get('message', '')}", code, retryable)


# Meta's limits of interactive messages (Cloud API, "Interactive reply
# buttons" and "Interactive list messages"): up to 3 reply buttons, titles
# of up to 20 characters, ids of up to 256; a list of up to 10 rows, row
# titles of up to 24 characters, ids of up to 200, the list's button label
# up to 20; the body up to 1024 characters.
MAX_REPLY_BUTTONS, BUTTON_TITLE_CHARS, BUTTON_ID_CHARS = 3, 20, 256
MAX_LIST_ROWS, ROW_TITLE_CHARS, ROW_ID_CHARS = 10, 24, 200
INTERACTIVE_BODY_CHARS = 1024
# The label of the button that opens a list (at most 20 characters).
LIST_BUTTON_LABEL = "Ver opções"


def text_content(text: str) -> Dict[str, Any]:
    """Meta's text message."""
    return {"type": "text", "text": {"preview_url": False, "body": text}}


def _title(title: str, limit: int) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def interactive_content(text: str, buttons: Sequence[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Rasa's buttons (``{title, payload}``) as Meta's interactive message:
    up to 3 as reply buttons, 4 to 10 as a list; the reply's id is the
    button's payload, so a tap comes back as it. None when they do not fit
    (more than 10, a payload over Meta's id limit, a body too long, a
    button without title or payload): the caller sends them as text."""
    options = [(str(b.get("title") or ""), str(b.get("payload") or "")) for b in buttons]
    if not options or not text or len(text) > INTERACTIVE_BODY_CHARS:
        return None
    if any(not title or not payload for title, payload in options):
        return None
    if len(options) <= MAX_REPLY_BUTTONS:
        if any(len(payload) > BUTTON_ID_CHARS for _, payload in options):
            return None
        replies = [
            {"type": "reply", "reply": {"id": payload, "title": _title(title, BUTTON_TITLE_CHARS)}}
            for title, payload in options
        ]
        interactive: Dict[str, Any] = {
            "type": "button",
            "body": {"text": text},
            "action": {"buttons": replies},
        }
    elif len(options) <= MAX_LIST_ROWS:
        if any(len(payload) > ROW_ID_CHARS for _, payload in options):
            return None
        rows = [
            {"id": payload, "title": _title(title, ROW_TITLE_CHARS)} for title, payload in options
        ]
        interactive = {
            "type": "list",
            "body": {"text": text},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]},
        }
    else:
        return None
    return {"type": "interactive", "interactive": interactive}


def buttons_of(content: Dict[str, Any]) -> List[Dict[str, str]]:
    """The Rasa buttons (``{title, payload}``) an interactive message was
    made of (``interactive_content``), to make it again later."""
    interactive = content["interactive"]
    action = interactive["action"]
    if interactive["type"] == "button":
        replies = [b["reply"] for b in action["buttons"]]
    else:
        replies = [row for section in action["sections"] for row in section["rows"]]
    return [{"title": r["title"], "payload": r["id"]} for r in replies]


# The Graph API version when WHATSAPP_API_VERSION is empty (Meta's
# versions list: v25.0, released February 2026, is served until July 2028).
DEFAULT_API_VERSION = "v25.0"
# An upload of an operator's file (up to HANDOFF_UPLOAD_MAX_BYTES) waits this long.
UPLOAD_TIMEOUT_SECONDS = 30.0
# A read mark or typing signal waits this long for Meta at most.
SIGNAL_TIMEOUT_SECONDS = 5.0


def template_content(template: Dict[str, Any]) -> Dict[str, Any]:
    """Meta's template message for ``{name, language, parameters}``: the
    approved template in that language, its body's ``{{1}}``, ``{{2}}``...
    filled with the parameters as text."""
    content: Dict[str, Any] = {
        "name": template["name"],
        "language": {"code": template["language"]},
    }
    if template["parameters"]:
        content["components"] = [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": p} for p in template["parameters"]],
            }
        ]
    return {"type": "template", "template": content}


class GraphClient:
    def __init__(self, base_url: str, api_version: str, access_token: str) -> None:
        self.api = f"{base_url.rstrip('/')}/{api_version.strip('/') or DEFAULT_API_VERSION}"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._session: Optional[aiohttp.ClientSession] = None
        # Pauses after Meta's pacing errors (loop time they end): per user
        # (their address), and for every send (EVERYONE).
        self._paused_until: Dict[str, float] = {}

    def _pause_left(self, user: str, now: float) -> float:
        ends = max(self._paused_until.get(user, 0.0), self._paused_until.get(EVERYONE, 0.0))
        for key in [k for k, until in self._paused_until.items() if until <= now]:
            del self._paused_until[key]
        return max(0.0, ends - now)

    def _pause(self, user: str, busy: WhatsAppBusy, now: float) -> None:
        key = user if busy.code == 131056 else EVERYONE
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), now + busy.retry_after)

    async def send_text(
        self,
        number: str,
        address: Dict[str, str],
        text: str,
        callback_data: Optional[str] = None,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
    ) -> str:
        """Send a text; see ``send``."""
        return await self.send(number, address, text_content(text), callback_data, retry_delays)

    async def send_file(
        self,
        number: str,
        address: Dict[str, str],
        file: Dict[str, Any],
        callback_data: Optional[str] = None,
    ) -> str:
        """Upload a file (``{kind, mime_type, file_name, data, caption}``,
        kind ``image`` or ``document``) and send it, as ``send_text``."""
        media_id = await self.upload(number, file["data"], file["mime_type"], file["file_name"])
        media: Dict[str, Any] = {"id": media_id}
        if file.get("caption"):
            media["caption"] = file["caption"]
        if file["kind"] == "document":
            media["filename"] = file["file_name"]
        content = {"type": file["kind"], file["kind"]: media}
        return await self.send(number, address, content, callback_data)

    async def upload(self, number: str, data: bytes, mime_type: str, file_name: str) -> str:
        """``POST /{phone-number-id}/media`` (multipart: ``file``, ``type``,
        ``messaging_product``): Meta's media id of the file. Any failure is
        WhatsAppSendError (nothing reached the citizen), retryable unless
        Meta refused the file itself."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, filename=file_name, content_type=mime_type)
        try:
            status, raw = await self._post(
                f"{number}/media", UPLOAD_TIMEOUT_SECONDS, {"connected": False}, data=form
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as problem:
            raise WhatsAppSendError(f"upload: {problem!r}", retryable=True) from problem
        body = _json_object(raw)
        media_id = body.get("id")
        if status < 300 and isinstance(media_id, str) and media_id:
            return media_id
        error = _error_of(body)
        code = error.get("code") if error is not None else None
        retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
        raise WhatsAppSendError(f"upload: HTTP {status}: {raw[:300]!r}", code, retryable)

    async def send(
        self,
        number: str,
        address: Dict[str, str],
        content: Dict[str, Any],
        callback_data: Optional[str] = None,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
    ) -> str:
        """Send a message (``content``: its ``type`` and the object of that
        type: ``text_content``, ``interactive_content`` or ``template_content``) from the published
        ``number`` (its phone_number_id) to ``address`` (``{"to": wa_id}``
        or ``{"recipient": bsuid}``, Meta's two ways to name a user);
        returns its wamid. A message not sent is tried again
        after each of ``retry_delays`` while the budget lasts, then
        WhatsAppSendError; DeliveryUnknown ends the tries at once."""
        payload: Dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **address,
            **content,
        }
        if callback_data is not None:
            payload["biz_opaque_callback_data"] = callback_data
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SEND_BUDGET_SECONDS
        user = next(iter(address.values()), "")
        last: WhatsAppSendError = WhatsAppSendError("no try within the budget", retryable=True)
        for delay in (0.0, *retry_delays):
            delay = max(delay, self._pause_left(user, loop.time()))
            if loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            try:
                return await self._try(number, payload, deadline - loop.time())
            except WhatsAppBusy as busy:
                self._pause(user, busy, loop.time())
                last = busy
            except WhatsAppSendError as error:
                if not error.retryable:
                    raise
                last = error
            logger.warning("whatsapp: sending to %s failed (%s)", address, last)
        left = self._pause_left(user, loop.time())
        if left > 0:
            # Paced, not failed: the caller sends it again once the pause ends.
            logger.info("whatsapp: message to %s paced for %.1f s", address, left)
            raise WhatsAppBusy(f"paced: {last}", last.code, left)
        logger.error("whatsapp: giving up on a message to %s: %s", address, last)
        raise last

    async def mark_read(self, number: str, wamid: str, typing: bool) -> bool:
        """Mark the citizen's message ``wamid`` (and the ones before it) read
        and, with ``typing``, show "digitando…" on their phone until the
        next message or 25 s (Meta's typing indicators). One try, never
        raises: a lost signal costs nothing. Whether Meta took it."""
        payload: Dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": wamid,
        }
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        try:
            status, _raw = await self._post(
                f"{number}/messages", SIGNAL_TIMEOUT_SECONDS, {"connected": False}, json=payload
            )
            if status == 200:
                return True
            logger.warning("whatsapp: read mark of %s refused: HTTP %s", wamid, status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.warning("whatsapp: read mark of %s not sent: %r", wamid, error)
        return False

    async def _try(self, number: str, payload: Dict[str, Any], timeout: float) -> str:
        state = {"connected": False}
        try:
            status, raw = await self._post(f"{number}/messages", timeout, state, json=payload)
        except (aiohttp.ClientError, asyncio.TimeoutError) as problem:
            if state["connected"]:
                raise DeliveryUnknown(f"no answer from the Graph API: {problem!r}") from problem
            raise WhatsAppSendError(f"not connected: {problem!r}", retryable=True) from problem
        return _outcome(status, raw)

    async def _post(
        self, path: str, timeout: float, state: Dict[str, bool], **body: Any
    ) -> Tuple[int, bytes]:
        """POST ``body`` (``json=`` or ``data=``) to the Graph API's ``path``:
        the status and raw answer. On an error, ``state["connected"]`` tells
        whether the request may have reached Meta."""
        if self._session is None:
            self._session = aiohttp.ClientSession(trace_configs=[_connection_tracing()])
        async with self._session.post(
            f"{self.api}/{path}",
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            trace_request_ctx=state,
            **body,
        ) as reply:
            return reply.status, await reply.read()
