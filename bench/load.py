"""The load model on one event loop: conversations whose visitor writes
every ``interval`` seconds, and (on the handoff path) operators who take each
attendance and answer every message.

Three paths share the schedule and the visitor client:
- ``Relay``: the product (visitor -> Rasa -> handoff -> console, and back);
- ``Peer``: Rasa's own bot reply path, no handoff (the peer baseline);
- ``Floor``: a bare python-socketio echo server (the floor baseline).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import socketio

from bench.ledger import Ledger, parse, percentile, tag
from bench.operators import MAX_CONCURRENT, Operator
from bench.visitor import Visitor

FIRST_TEXT = "Olá, preciso de ajuda com o IPTU."
TEXT = "Mais uma informação sobre o meu pedido."
ANSWER = "Resposta do atendente."
CLOSED = "protocolo"
CONNECT_ATTEMPTS = 2
# A send or a console call that failed: counted as an error, the run goes on.
FAILURES = (
    socketio.exceptions.SocketIOError,
    RuntimeError,
    TimeoutError,
)  # in utter_attendance_finished, the end of an attendance


@dataclass
class Conversation:
    name: str
    visitor: Visitor
    number: int = 0  # of the next message
    operator: Operator | None = None
    attendance_id: int | None = None
    taken: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    unanswered: deque[tuple[int, float]] = field(default_factory=deque)


@dataclass
class Phase:
    """What the schedule did: offered and achieved rates, and how late the
    generator was against its own schedule (it must not be the bottleneck)."""

    conversations: int
    interval: float
    start: float
    end: float
    sends: int = 0
    lags: list[float] = field(default_factory=list)

    @property
    def offered_per_second(self) -> float:
        return self.conversations / self.interval

    @property
    def achieved_per_second(self) -> float:
        return self.sends / (self.end - self.start)

    @property
    def lag_p99(self) -> float:
        return percentile(sorted(self.lags), 0.99)


class Load:
    """Conversations on one server; subclasses say how replies come back."""

    ledgers: dict[str, Ledger]

    def __init__(self, url: str, label: str) -> None:
        self.url = url
        self.label = label
        self.conversations: dict[str, Conversation] = {}
        self.errors: list[str] = []
        # Seconds from connecting to the session's confirmation, per visitor
        # that connected (the ones that did not are errors).
        self.handshakes: list[float] = []

    def reset(self) -> None:
        """Fresh counts for the next batch of conversations."""
        self.ledgers = {name: Ledger(name) for name in self.ledgers}
        self.errors = []
        self.handshakes = []

    # -- what each path does differently ------------------------------------
    def on_sent(self, conversation: Conversation, number: int, sent_at: float) -> None:
        raise NotImplementedError

    def on_text(self, conversation: Conversation, text: str, received_at: float) -> None:
        raise NotImplementedError

    # -- the schedule ---------------------------------------------------------
    async def _send(self, conversation: Conversation) -> None:
        number = conversation.number
        conversation.number += 1
        sent_at = time.time()
        first = number == 0
        text = f"{FIRST_TEXT if first else TEXT} {tag(conversation.name, number, sent_at)}"
        metadata = {"name": conversation.name, "email": f"{conversation.name}@bench.example"}
        self.on_sent(conversation, number, sent_at)
        await conversation.visitor.say(text, metadata if first else None)

    def adopt(self, conversation: Conversation, index: int) -> None:
        """A new conversation, the ``index``-th of its batch."""

    async def _open_one(self, name: str, index: int, at: float, phase: Phase) -> None:
        visitor = Visitor(self.url, lambda text, when: self.on_text(conversation, text, when))
        conversation = Conversation(name, visitor)
        self.conversations[name] = conversation
        self.adopt(conversation, index)
        await asyncio.sleep(max(0.0, at - time.monotonic() - 1.0))
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                await visitor.connect()
                self.handshakes.append(visitor.handshake_seconds)
                break
            except FAILURES as error:  # a widget tries again; each failure is counted
                self.errors.append(f"connect {name} (attempt {attempt + 1}): {error!r}")
                await visitor.close()
        else:
            del self.conversations[name]
            return
        await self._paced(conversation, at, phase, until=at + 0.001)

    async def _paced(
        self, conversation: Conversation, at: float, phase: Phase, until: float
    ) -> None:
        while at < until:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            phase.lags.append(time.monotonic() - at)
            try:
                await self._send(conversation)
                phase.sends += 1
            except FAILURES as error:  # counted, and the run goes on
                self.errors.append(f"send {conversation.name}: {error!r}")
            at += phase.interval

    async def open(self, count: int, interval: float, prefix: str) -> Phase:
        """``count`` new conversations, first messages spread over ``interval``."""
        start = time.monotonic()
        phase = Phase(count, interval, time.time(), time.time() + interval)
        await asyncio.gather(
            *(
                self._open_one(f"{prefix}-{i}", i, start + interval * i / count, phase)
                for i in range(count)
            )
        )
        await asyncio.sleep(max(0.0, start + interval - time.monotonic()))
        return phase

    async def steady(self, interval: float, seconds: float, count: int | None = None) -> Phase:
        """Every (or the first ``count``) open conversation writes every
        ``interval`` seconds for ``seconds``; returns when the last is sent."""
        chosen = list(self.conversations.values())[: count or None]
        start = time.monotonic()
        phase = Phase(len(chosen), interval, time.time(), time.time() + seconds)
        await asyncio.gather(
            *(
                self._paced(c, start + interval * i / len(chosen), phase, start + seconds)
                for i, c in enumerate(chosen)
            )
        )
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
        return phase

    async def drain(self, timeout: float) -> None:
        """Wait until every sent message arrived, or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(x.pending() for x in self.ledgers.values()):
            await asyncio.sleep(0.2)
        for conversation in self.conversations.values():
            refusals = conversation.visitor.refusals
            self.errors.extend(f"refused {conversation.name}: {r!r}" for r in refusals)
            refusals.clear()

    async def close(self) -> None:
        await asyncio.gather(
            *(c.visitor.close() for c in self.conversations.values()), return_exceptions=True
        )
        self.conversations.clear()


class Floor(Load):
    """The echo server sends each text straight back."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "floor (bare python-socketio echo)")
        self.ledgers = {"round trip": Ledger("round trip")}

    def on_sent(self, conversation: Conversation, number: int, sent_at: float) -> None:
        self.ledgers["round trip"].on_sent(conversation.name, number, sent_at)

    def on_text(self, conversation: Conversation, text: str, received_at: float) -> None:
        if found := parse(text):
            self.ledgers["round trip"].on_received(found[0], found[1], received_at)


class Peer(Load):
    """Rasa's bot answers each message once; answers match sends in order."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "peer (Rasa's bot reply, no handoff)")
        self.ledgers = {"round trip": Ledger("round trip")}

    def on_sent(self, conversation: Conversation, number: int, sent_at: float) -> None:
        conversation.unanswered.append((number, sent_at))
        self.ledgers["round trip"].on_sent(conversation.name, number, sent_at)

    def on_text(self, conversation: Conversation, text: str, received_at: float) -> None:
        if conversation.unanswered:
            number, _ = conversation.unanswered.popleft()
            self.ledgers["round trip"].on_received(conversation.name, number, received_at)
        else:
            self.errors.append(f"unexpected bot text to {conversation.name}: {text!r}")


class Relay(Load):
    """The product: each conversation is handed off to an operator, who
    answers every customer message."""

    def __init__(self, url: str, operators: list[Operator]) -> None:
        super().__init__(url, "handoff (the product)")
        self.operators = operators
        self.ledgers = {
            "handoff start": Ledger("handoff start"),
            "customer -> operator": Ledger("customer -> operator"),
            "operator -> customer": Ledger("operator -> customer"),
        }
        self._tasks: set[asyncio.Task] = set()

    async def connect_operators(self) -> None:
        await asyncio.gather(*(op.connect(self.on_console_event) for op in self.operators))

    async def open(self, count: int, interval: float, prefix: str) -> Phase:
        needed = math.ceil(count / MAX_CONCURRENT)
        if needed > len(self.operators):
            raise ValueError(f"{count} conversations need {needed} operators")
        return await super().open(count, interval, prefix)

    def adopt(self, conversation: Conversation, index: int) -> None:
        conversation.operator = self.operators[index // MAX_CONCURRENT]

    def on_sent(self, conversation: Conversation, number: int, sent_at: float) -> None:
        if number == 0:
            self.ledgers["handoff start"].on_sent(conversation.name, 0, sent_at)
        else:
            self.ledgers["customer -> operator"].on_sent(conversation.name, number, sent_at)

    def on_text(self, conversation: Conversation, text: str, received_at: float) -> None:
        found = parse(text)
        if found and text.startswith(ANSWER):
            self.ledgers["operator -> customer"].on_received(found[0], found[1], received_at)
        elif CLOSED in text:
            conversation.closed.set()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_console_event(self, operator: Operator, event: str, data: Any) -> None:
        received_at = time.time()
        if event == "disconnect":  # the console is lost: its calls are not taken
            self.errors.append(f"console {operator.username} disconnected: {data}")
        elif event == "attendance:queued":
            conversation = self.conversations.get(data.get("contact_name") or "")
            if conversation is None or conversation.operator is not operator:
                return
            if conversation.attendance_id is None:
                conversation.attendance_id = data["id"]
                self.ledgers["handoff start"].on_received(conversation.name, 0, received_at)
                self._spawn(self._take(conversation))
        elif event == "message:new" and data.get("direction") == "customer":
            found = parse(data.get("text") or "")
            conversation = self.conversations.get(found[0]) if found else None
            if conversation is None or conversation.operator is not operator:
                return
            if found[1] == 0:
                return  # the first message came with the attendance; _take answers it
            self.ledgers["customer -> operator"].on_received(found[0], found[1], received_at)
            self._spawn(self._answer(conversation, found[1]))

    async def _take(self, conversation: Conversation) -> None:
        assert conversation.operator is not None
        try:
            await conversation.operator.call(
                "attendance:take", {"attendance_id": conversation.attendance_id}
            )
        except FAILURES as error:
            self.errors.append(f"take {conversation.name}: {error!r}")
            return
        conversation.taken.set()
        await self._answer(conversation, 0)

    async def _answer(self, conversation: Conversation, number: int) -> None:
        await conversation.taken.wait()
        assert conversation.operator is not None
        sent_at = time.time()
        self.ledgers["operator -> customer"].on_sent(conversation.name, number, sent_at)
        try:
            await conversation.operator.call(
                "message:send",
                {
                    "attendance_id": conversation.attendance_id,
                    "text": f"{ANSWER} {tag(conversation.name, number, sent_at)}",
                    "client_id": uuid.uuid4().hex,
                },
            )
        except FAILURES as error:
            self.errors.append(f"answer {conversation.name}: {error!r}")

    async def finish(self, timeout: float = 60) -> int:
        """Operators finish every attendance; waits for the visitors' closing
        messages (Rasa's closing flow done). Returns how many closed."""

        async def finish_one(conversation: Conversation) -> None:
            await conversation.taken.wait()
            assert conversation.operator is not None
            await conversation.operator.call(
                "attendance:finish", {"attendance_id": conversation.attendance_id}
            )
            await conversation.closed.wait()

        results = await asyncio.gather(
            *(asyncio.wait_for(finish_one(c), timeout) for c in self.conversations.values()),
            return_exceptions=True,
        )
        for conversation, result in zip(self.conversations.values(), results, strict=True):
            if isinstance(result, BaseException):
                self.errors.append(f"finish {conversation.name}: {result!r}")
        return sum(1 for r in results if not isinstance(r, BaseException))
