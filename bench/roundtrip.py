"""Latency and memory of one running stack (Rasa, actions, handoff).

    .venv/bin/python -m bench.roundtrip [--backend sqlite|postgresql] [-n 100]

Starts the real processes like the tests do, then measures:
- operator -> visitor: `message:send` emitted until the visitor's socket.io
  client receives the text from Rasa;
- visitor -> operator: `user_uttered` emitted until the console's client
  receives `message:new` (Rasa, event broker, handoff database, socket.io);
- opening an attendance through the REST API (what the action does);
- resident memory of each process after the run.
Prints a Markdown table; bench/README.md keeps the last figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from tests.support.clients import Operator, Visitor
from tests.support.databases import fresh_database
from tests.support.processes import SERVICE_TOKEN, start_stack


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{p50 * 1000:.1f} ms | {p95 * 1000:.1f} ms | {max(ordered) * 1000:.1f} ms"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(backend: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        tracker = url if backend == "postgresql" else f"sqlite:///{folder}/rasa.db"
        stack = start_stack(url, tracker, Path(folder))
        try:
            operator = Operator(stack.handoff_url)
            visitor = Visitor(stack.rasa_url)
            visitor.say("olá", metadata={"name": "Bench", "email": "bench@example.com"})
            visitor.next_text()
            queued = operator.wait_for("attendance:queued")
            attendance_id = queued["id"]
            operator.call("attendance:take", {"attendance_id": attendance_id})

            outbound = []
            for i in range(n):
                started = time.perf_counter()
                operator.call(
                    "message:send",
                    {
                        "attendance_id": attendance_id,
                        "text": f"o{i}",
                        "client_id": uuid.uuid4().hex,
                    },
                )
                assert visitor.next_text() == f"o{i}"
                outbound.append(time.perf_counter() - started)

            inbound = []
            for i in range(n):
                started = time.perf_counter()
                visitor.say(f"c{i}")
                operator.wait_for("message:new", lambda m, i=i: m["text"] == f"c{i}")
                inbound.append(time.perf_counter() - started)

            opening = []
            for _ in range(n):
                started = time.perf_counter()
                response = requests.post(
                    f"{stack.handoff_url}/api/attendances",
                    json={"conversation_id": uuid.uuid4().hex, "channel": "socketio"},
                    headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
                    timeout=10,
                )
                assert response.status_code == 201
                opening.append(time.perf_counter() - started)

            print(f"\n### {backend}, n={n}\n")
            print("| path | p50 | p95 | max |\n|---|---|---|---|")
            print(f"| operator -> visitor (through Rasa) | {percentiles(outbound)} |")
            print(f"| visitor -> operator (Rasa, broker, handoff) | {percentiles(inbound)} |")
            print(f"| open attendance (REST) | {percentiles(opening)} |")
            print("\n| process | RSS |\n|---|---|")
            for service in stack.services:
                assert service.process is not None
                print(f"| {service.name} | {rss_mib(service.process.pid):.0f} MiB |")
            operator.close()
            visitor.close()
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("-n", type=int, default=100)
    args = parser.parse_args()
    run(args.backend, args.n)


if __name__ == "__main__":
    main()
