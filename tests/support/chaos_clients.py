"""Many widgets and consoles in one event loop, for the chaos run.

A :class:`ChaosVisitor` behaves as ``widget/frame.js`` does: a secret
token, each message with a client id kept in an outbox until Rasa
acknowledges it (re-sent, same id, after a time-out or a reconnection), and
on every reconnection the history is reloaded from the handoff service so
what was missed is shown, in order. A :class:`ChaosOperator` behaves as the
console does: takes calls, answers each customer message (one client id
per answer, so a retry is harmless) and resynchronises after reconnecting
(``attendances:list`` + ``attendance:messages``); at the end it finishes
its calls, and each visitor waits for the closing message with its
protocol. Both reconnect as the browser's socket.io client does
(:func:`keep_connected`) and time each replay.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

ACK_TIMEOUT = 10.0
RETRY_PAUSE = 0.5
# The browser's socket.io client: reconnects without end, 1 s doubling to
# 5 s between tries, and waits 20 s for the server to accept a connection.
RECONNECT_FIRST_SECONDS, RECONNECT_MAX_SECONDS = 1.0, 5.0
CONNECT_TIMEOUT = 20.0
# The start of the closing message of a finished attendance (domain.yml,
# utter_attendance_finished), with the attendance's protocol.
CLOSING = "Seu atendimento foi finalizado. Número do protocolo:"


def reply_to(text: str) -> str:
    """The operator's answer to a customer message."""
    return f"re: {text}"


@dataclass
class Replay:
    """One reconnection: who, and when (wall clock) it reconnected and had
    shown what it missed (None while it has not)."""

    client: str
    connected_at: float
    done_at: float | None = None
    refused: Any = None  # the service's error, when it refused to list the calls


@dataclass
class Tally:
    """What the clients saw, for the final count."""

    replays: list[Replay] = field(default_factory=list)
    # Operator messages delivered to visitors twice (shown once thanks to their id).
    redelivered: int = 0
    # Calls the service put back in the queue while their operator's console
    # was connected (to another process, which this one does not know of).
    requeued: int = 0
    # What waited past its bound (an answer never shown, ...).
    stuck: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def keep_connected(sio: socketio.AsyncClient, connect: Any, tally: Tally) -> None:
    """Reconnect as the browser's socket.io client does. python-socketio's
    own reconnection is off: it waits only 1 s for the server's answer, so
    a server busy after a restart (Rasa, with 200 widgets coming back)
    turned it away again and again, and some clients stayed away for a
    minute; it also gave up after some abrupt closes."""
    delay = RECONNECT_FIRST_SECONDS
    while True:
        await asyncio.sleep(delay if not sio.connected else RETRY_PAUSE)
        if sio.connected:
            delay = RECONNECT_FIRST_SECONDS
            continue
        try:
            await connect()
        except (socketio.exceptions.ConnectionError, ValueError) as error:
            tally.errors[f"connection refused: {error}"[:80]] += 1
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)


class ChaosVisitor:
    def __init__(self, name: str, rasa_url: str, handoff_url: str, tally: Tally) -> None:
        self.name = name
        self.rasa_url = rasa_url
        self.handoff_url = handoff_url
        self.tally = tally
        self.token = secrets.token_urlsafe(24)
        self.sent: list[str] = []  # acknowledged, in order
        self.shown: list[str] = []  # operator messages shown, in order, once
        self.closings_pushed = 0  # closing messages that arrived live
        self.closing_in_history = False  # seen in a reloaded history
        self._seen_ids: set[Any] = set()
        self._bound = asyncio.Event()
        self._shown_changed = asyncio.Event()
        self._connects = 0
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("session_refused", self._on_refused)
        self.sio.on("bot_uttered", self._on_bot)
        self._http: aiohttp.ClientSession | None = None

    async def _on_connect(self) -> None:
        self._connected_at = time.time()
        await self.sio.emit("session_request", {"session_id": self.token})

    async def _on_disconnect(self, *_reason: Any) -> None:
        self._bound.clear()

    async def _on_confirm(self, _token: Any) -> None:
        self._connects += 1
        if self._connects > 1:
            # A widget reloads the history after reconnecting: what it missed.
            replay = Replay(self.name, self._connected_at)
            self.tally.replays.append(replay)
            await self._reload_history()
            replay.done_at = time.time()
        self._bound.set()

    async def _on_refused(self, refusal: Any) -> None:
        """Rasa could not confirm the session (its database away): ask again
        a second later, as the widget does."""
        self.tally.errors[f"session refused {refusal.get('code')}"] += 1
        if refusal.get("retry"):
            await asyncio.sleep(1.0)
            if self.sio.connected and not self._bound.is_set():
                await self.sio.emit("session_request", {"session_id": self.token})

    def _show(self, text: str) -> None:
        if text.startswith("re: ") and text not in self.shown:
            self.shown.append(text)
            self._shown_changed.set()

    async def _on_bot(self, data: dict[str, Any]) -> None:
        message_id = (data.get("metadata") or {}).get("handoff_message_id")
        if message_id is not None:
            if message_id in self._seen_ids:
                self.tally.redelivered += 1
                return
            self._seen_ids.add(message_id)
        text = data.get("text") or ""
        if text.startswith(CLOSING):
            self.closings_pushed += 1  # no id: the widget shows each one it gets
            self._shown_changed.set()
        if text.startswith("re: ") and text in self.shown and message_id is not None:
            self.tally.redelivered += 1  # already shown from the history
            return
        self._show(text)

    async def _reload_history(self) -> None:
        assert self._http is not None
        while True:
            try:
                async with self._http.get(
                    f"{self.handoff_url}/widget/api/history",
                    headers={"X-Conversation-Token": self.token},
                ) as response:
                    if response.status == 200:
                        for message in (await response.json())["messages"]:
                            if message["from"] == "bot":
                                self._show(message["text"])
                                if message["text"].startswith(CLOSING):
                                    self.closing_in_history = True
                                    self._shown_changed.set()
                        return
                    self.tally.errors[f"history HTTP {response.status}"] += 1
            except (aiohttp.ClientError, TimeoutError):
                self.tally.errors["history unreachable"] += 1
            await asyncio.sleep(RETRY_PAUSE)

    async def say(self, text: str, metadata: dict[str, Any] | None = None) -> None:
        """Send until acknowledged (the outbox), same client id every time."""
        payload: dict[str, Any] = {
            "message": text,
            "session_id": self.token,
            "client_id": uuid.uuid4().hex,
        }
        if metadata:
            payload["metadata"] = metadata
        while True:
            await self._bound.wait()
            try:
                ack = await self.sio.call("user_uttered", payload, timeout=ACK_TIMEOUT)
                if not isinstance(ack, dict):
                    ack = {"error": {"code": repr(ack)}}
                if ack.get("ok"):
                    self.sent.append(text)
                    return
                self.tally.errors[f"visitor ack {ack.get('error', {}).get('code')}"] += 1
            except (socketio.exceptions.TimeoutError, socketio.exceptions.SocketIOError):
                self.tally.errors["visitor ack missing"] += 1
            await asyncio.sleep(RETRY_PAUSE)

    async def wait_shown(self, text: str, timeout: float) -> bool:
        return await self._wait(lambda: text in self.shown, timeout)

    @property
    def closing_shown(self) -> bool:
        return bool(self.closings_pushed) or self.closing_in_history

    async def wait_closing(self, timeout: float) -> bool:
        return await self._wait(lambda: self.closing_shown, timeout)

    async def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._shown_changed.clear()
            try:
                await asyncio.wait_for(self._shown_changed.wait(), min(remaining, 5))
            except TimeoutError:
                pass
        return True

    async def run(
        self, messages: int, widget_key: str, reply_timeout: float, think_seconds: float = 0.0
    ) -> None:
        """Write ``messages`` messages, each after the answer to the previous
        one has been shown and about ``think_seconds`` of reading and typing."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        await self._connect()
        self._watch = asyncio.ensure_future(keep_connected(self.sio, self._connect, self.tally))
        for index in range(messages):
            text = f"{self.name} m{index:03d}"
            metadata = {
                "name": self.name,
                "email": f"{self.name}@example.com",
                "widget_key": widget_key,
            }
            await self.say(text, metadata if index == 0 else None)
            if not await self.wait_shown(reply_to(text), reply_timeout):
                self.tally.stuck.append(f"{reply_to(text)!r} not shown in {reply_timeout} s")
            await asyncio.sleep(think_seconds * random.uniform(0.5, 1.5))

    async def _connect(self) -> None:
        await self.sio.connect(
            self.rasa_url, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT
        )

    async def close(self) -> None:
        self._watch.cancel()
        await self.sio.disconnect()
        if self._http is not None:
            await self._http.close()


class ChaosOperator:
    def __init__(
        self, name: str, handoff_url: str, username: str, password: str, share: int, tally: Tally
    ) -> None:
        self.name = name
        self.handoff_url = handoff_url
        self.username = username
        self.password = password
        self.share = share  # how many calls this operator takes at most
        self.tally = tally
        self.active: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        # Customer message ids with an answer (this console's, or one the
        # call's history showed), and the calls whose history was read.
        self._answered: set[int] = set()
        self._read: dict[int, asyncio.Event] = {}
        self._connects = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("connect", self._on_connect)
        self.sio.on("attendance:queued", self._on_queued)
        self.sio.on("attendance:requeued", self._on_requeued)
        self.sio.on("message:new", self._on_message)

    async def start(self) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.handoff_url}/api/auth/login",
                json={"username": self.username, "password": self.password, "token": True},
            ) as response:
                assert response.status == 200, await response.text()
                token = (await response.json())["token"]
            async with http.post(
                f"{self.handoff_url}/api/me/status",
                json={"status": "available"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200, await response.text()
        self._token = token
        await self._connect()
        self._spawn(keep_connected(self.sio, self._connect, self.tally))

    async def _connect(self) -> None:
        await self.sio.connect(
            self.handoff_url,
            auth={"token": self._token},
            transports=["websocket"],
            wait_timeout=CONNECT_TIMEOUT,
        )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """A console action, tried again until the service answers."""
        while True:
            try:
                ack = await self.sio.call(event, data, timeout=ACK_TIMEOUT)
                if ack.get("ok") or ack.get("error", {}).get("code") != "unavailable":
                    return ack
                self.tally.errors[f"{event} unavailable"] += 1
            except (socketio.exceptions.TimeoutError, socketio.exceptions.SocketIOError):
                self.tally.errors[f"{event} no answer"] += 1
            await asyncio.sleep(RETRY_PAUSE)

    async def _on_connect(self) -> None:
        self._connects += 1
        if self._connects > 1:
            self._spawn(self._resync(time.time()))

    async def _resync(self, connected_at: float) -> None:
        """What a console does after reconnecting: reload its calls and their messages."""
        replay = Replay(self.name, connected_at)
        self.tally.replays.append(replay)
        listed = await self._call("attendances:list", {})
        if not listed.get("ok"):
            replay.refused = listed.get("error")
            return
        self.active = {a["id"] for a in listed["active"]}
        active = sorted(self.active)
        missed = await asyncio.gather(*(self._missed(a) for a in active))
        # Replayed: the queue and what was missed are on screen; taking calls
        # and answering are the operator's next steps.
        replay.done_at = time.time()
        for attendance_id, messages in zip(active, missed, strict=True):
            for message in messages:
                await self._answer(attendance_id, message)
        for attendance in listed["queued"]:
            await self._take(attendance["id"])

    def _history_read(self, attendance_id: int) -> asyncio.Event:
        return self._read.setdefault(attendance_id, asyncio.Event())

    async def _missed(self, attendance_id: int) -> list[dict[str, Any]]:
        """The attendance's customer messages still without an answer (by
        whoever had the call); the answered ones are noted as such."""
        loaded = await self._call("attendance:messages", {"attendance_id": attendance_id})
        self._history_read(attendance_id).set()
        if not loaded.get("ok"):
            return []
        messages = loaded["messages"]
        replied = {m["text"] for m in messages if m["direction"] == "operator"}
        customer = [m for m in messages if m["direction"] == "customer"]
        self._answered.update(m["id"] for m in customer if reply_to(m["text"]) in replied)
        return [m for m in customer if m["id"] not in self._answered]

    async def _catch_up(self, attendance_id: int) -> None:
        for message in await self._missed(attendance_id):
            await self._answer(attendance_id, message)

    def _let_go(self, attendance_id: int) -> None:
        """As the console: a call in the queue is no longer mine; its history
        is read again if I take it back (another operator may have answered)."""
        self.active.discard(attendance_id)
        self._read.pop(attendance_id, None)

    async def _on_queued(self, attendance: dict[str, Any]) -> None:
        self._let_go(attendance["id"])
        self._spawn(self._take(attendance["id"]))

    async def _on_requeued(self, attendance: dict[str, Any]) -> None:
        self.tally.requeued += 1
        self._let_go(attendance["id"])

    async def _take(self, attendance_id: int) -> None:
        if len(self.active) >= self.share or attendance_id in self.active:
            return
        ack = await self._call("attendance:take", {"attendance_id": attendance_id})
        if ack.get("ok"):
            self.active.add(attendance_id)
            await self._catch_up(attendance_id)

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message["direction"] == "customer" and message["attendance_id"] in self.active:
            self._spawn(self._answer_new(message["attendance_id"], message))

    async def _answer_new(self, attendance_id: int, message: dict[str, Any]) -> None:
        """A message announced live, answered once the call's history is on
        screen: the service announces a stored message again after a
        reconciliation (the console shows it once, by id), and the operator
        who had the call before may have answered it."""
        await self._history_read(attendance_id).wait()
        await self._answer(attendance_id, message)

    async def _answer(self, attendance_id: int, message: dict[str, Any]) -> None:
        lock = self._locks.setdefault(attendance_id, asyncio.Lock())
        async with lock:  # answers leave in the order of the questions
            if message["id"] in self._answered:
                return
            ack = await self._call(
                "message:send",
                {
                    "attendance_id": attendance_id,
                    "text": reply_to(message["text"]),
                    "client_id": f"answer-{message['id']}",
                },
            )
            if ack.get("ok"):
                self._answered.add(message["id"])
            else:
                self.tally.errors[f"answer refused: {ack['error']['message']}"] += 1

    async def finish_all(self) -> None:
        """The operator finishes each of their calls ("Finalizar")."""
        listed = await self._call("attendances:list", {})
        for attendance in listed.get("active", []):
            ack = await self._call("attendance:finish", {"attendance_id": attendance["id"]})
            if not ack.get("ok"):
                self.tally.errors[f"finish refused: {ack['error']['message']}"] += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.sio.disconnect()
