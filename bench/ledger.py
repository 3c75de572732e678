"""Every message of a run counted: send time, receipts, latency, loss,
duplicates and order. Send times travel inside the message text."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

TAG = re.compile(r"c=(\S+) n=(\d+) t=(\d+\.\d+)")


def tag(conversation: str, number: int, sent_at: float) -> str:
    return f"c={conversation} n={number} t={sent_at:.6f}"


def parse(text: str) -> tuple[str, int, float] | None:
    """(conversation, number, send time) of a tagged text, else None."""
    found = TAG.search(text)
    if found is None:
        return None
    return found.group(1), int(found.group(2)), float(found.group(3))


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a sorted list (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Summary:
    sent: int
    received: int
    lost: int
    duplicated: int
    out_of_order: int
    p50: float
    p95: float
    p99: float
    max: float
    # p99 counting a message not (yet) received as infinitely late.
    p99_with_missing: float


@dataclass
class Ledger:
    """One direction of one path (e.g. customer -> operator)."""

    name: str
    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    receipts: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    out_of_order: set[tuple[str, int]] = field(default_factory=set)
    _last: dict[str, int] = field(default_factory=dict)

    def on_sent(self, conversation: str, number: int, sent_at: float) -> None:
        self.sent[(conversation, number)] = sent_at

    def on_received(self, conversation: str, number: int, received_at: float) -> None:
        key = (conversation, number)
        self.receipts[key].append(received_at)
        if number < self._last.get(conversation, -1):
            self.out_of_order.add(key)
        self._last[conversation] = max(number, self._last.get(conversation, -1))

    def pending(self) -> int:
        return sum(1 for key in self.sent if key not in self.receipts)

    def summary(self, start: float = 0.0, end: float = math.inf) -> Summary:
        """Messages sent in [start, end): latency of first receipt, and counts."""
        keys = [key for key, at in self.sent.items() if start <= at < end]
        latencies = sorted(
            self.receipts[key][0] - self.sent[key] for key in keys if key in self.receipts
        )
        return Summary(
            sent=len(keys),
            received=len(latencies),
            lost=len(keys) - len(latencies),
            duplicated=sum(len(self.receipts[k]) - 1 for k in keys if k in self.receipts),
            out_of_order=sum(1 for key in keys if key in self.out_of_order),
            p50=percentile(latencies, 0.50),
            p95=percentile(latencies, 0.95),
            p99=percentile(latencies, 0.99),
            max=latencies[-1] if latencies else math.nan,
            p99_with_missing=percentile(
                latencies + [math.inf] * (len(keys) - len(latencies)), 0.99
            ),
        )
