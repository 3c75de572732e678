"""The run's figures as Markdown: machine, levels, resources, saturation,
baselines as ratios, and the issue's targets met or missed."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections import Counter
from importlib import metadata

from bench.ledger import Summary, percentile
from bench.suite import Measured, PathResult
from tests.support.processes import ROOT

TARGET_RELAY_P99 = 0.250
TARGET_HANDOFF_P99 = 0.500
TARGET_SATURATION_RATIO = 1.0
PEER, FLOOR, PRODUCT = "peer", "floor", "handoff"


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    rasa = subprocess.run(
        [
            str(ROOT / ".venv-rasa/bin/python"),
            "-c",
            "import importlib.metadata as m, platform;"
            "print(platform.python_version(), m.version('rasa'), m.version('python-socketio'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; RAM {int(memory) / 2**20:.1f} GiB; "
        f"{platform.platform()}",
        f"- Handoff service and load generator: Python {platform.python_version()}, "
        f"python-socketio {metadata.version('python-socketio')}, sanic {metadata.version('sanic')}",
        f"- Rasa side: Python {rasa[0] if rasa else '?'}, Rasa {rasa[1] if rasa else '?'}, "
        f"python-socketio {rasa[2] if rasa else '?'}",
    ]


def ms(value: float) -> str:
    if math.isnan(value):
        return "–"
    return (
        "∞"
        if math.isinf(value)
        else f"{value * 1000:.0f}"
        if value >= 0.1
        else f"{value * 1000:.1f}"
    )


def quartet(summary: Summary | None) -> str:
    if summary is None or not summary.received:
        return "–"
    return " / ".join(ms(v) for v in (summary.p50, summary.p95, summary.p99, summary.max))


def _usage(level: Measured, name: str) -> str:
    usage = level.usage.get(name)
    return "–" if usage is None else f"{usage.cpu_percent:.0f}% / {usage.peak_rss_mib:.0f}"


def _counts(level: Measured) -> tuple[int, int, int, int, int]:
    totals = level.whole or level.window
    return (
        sum(s.sent for s in totals.values()),
        sum(s.lost for s in totals.values()),
        sum(s.duplicated for s in totals.values()),
        sum(s.out_of_order for s in totals.values()),
        len(level.errors),
    )


def _lost(level: Measured) -> str:
    return " / ".join(str(s.lost) for s in level.whole.values())


def _handshakes(level: Measured) -> str:
    ordered = level.handshakes
    if not ordered:
        return "–"
    figures = (percentile(ordered, 0.5), percentile(ordered, 0.99), ordered[-1])
    return " / ".join(ms(v) for v in figures)


def levels_table(result: PathResult) -> list[str]:
    lines = [
        f"#### {result.backend}: load model (one message per conversation every 20 s, "
        "an operator answers each)",
        "",
        "| conversations | visitor msg/s offered / sent | handoff start p50 / p95 / p99 / max ms "
        "| customer → operator p50 / p95 / p99 / max ms | operator → customer p50 / p95 / p99 "
        "/ max ms | visitor handshake p50 / p99 / max ms | messages | lost (start / in / out) "
        "| dup | out of order | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in result.levels:
        sent, _lost_total, dup, ooo, errors = _counts(level)
        lines.append(
            f"| {level.name} | {level.phase.offered_per_second:.1f} / "
            f"{level.phase.achieved_per_second:.1f} "
            f"| {quartet(level.whole.get('handoff start'))} "
            f"| {quartet(level.window.get('customer -> operator'))} "
            f"| {quartet(level.window.get('operator -> customer'))} "
            f"| {_handshakes(level)} "
            f"| {sent} | {_lost(level)} | {dup} | {ooo} | {errors} |"
        )
    names = list(result.levels[0].usage) if result.levels else []
    lines += [
        "",
        "Resources during each measured minute: CPU (% of one core) / peak RSS (MiB), "
        "generator schedule lag p99, database growth per 1,000 attendances.",
        "",
        "| conversations | " + " | ".join(names) + " | lag p99 ms | DB growth / 1,000 |",
        "|---|" + "---|" * len(names) + "---|---|",
    ]
    for level in result.levels:
        growth = f"{level.db_bytes_per_1000 / 2**20:.1f} MiB"
        lines.append(
            f"| {level.name} | "
            + " | ".join(_usage(level, n) for n in names)
            + f" | {ms(level.phase.lag_p99)} | {growth} |"
        )
    return lines


def steps_table(results: list[PathResult]) -> list[str]:
    lines = [
        "| path | backend | msg/s offered / sent | p50 ms | p99 ms (missing = ∞) | max ms "
        "| generator CPU | server CPU | held |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for step in result.steps:
            worst = max(step.window.values(), key=lambda s: s.p99_with_missing)
            servers = ", ".join(
                f"{n} {u.cpu_percent:.0f}%" for n, u in step.usage.items() if n != "load generator"
            )
            factor = 2 if result.label.startswith(PRODUCT) else 1
            lines.append(
                f"| {result.label} | {result.backend} | {step.name} / "
                f"{step.phase.achieved_per_second * factor:.0f} | {ms(worst.p50)} "
                f"| {ms(worst.p99_with_missing)} | {ms(worst.max)} "
                f"| {step.usage['load generator'].cpu_percent:.0f}% | {servers} "
                f"| {'yes' if step.held else 'no'} |"
            )
    return lines


def _find(results: list[PathResult], prefix: str, backend: str | None = None) -> PathResult | None:
    return next(
        (
            r
            for r in results
            if r.label.startswith(prefix) and (backend is None or r.backend == backend)
        ),
        None,
    )


def _saturation(result: PathResult | None) -> str:
    if result is None:
        return "–"
    sign = "" if result.saturation_reached else "≥ "
    return f"{sign}{result.saturation:.0f} msg/s"


def verdicts(results: list[PathResult]) -> list[str]:
    lines = [
        "| backend | target | measured | met |",
        "|---|---|---|---|",
    ]
    floor = _find(results, FLOOR)
    for result in (r for r in results if r.label.startswith(PRODUCT)):
        if not result.levels:
            continue
        top = result.levels[-1]
        _, lost, dup, ooo, errors = _counts(top)
        worst = max(top.window[n].p99 for n in ("customer -> operator", "operator -> customer"))
        start = top.whole["handoff start"].p99
        lines += [
            f"| {result.backend} | {top.name} conversations: 0 lost, duplicated, out of order "
            f"| {lost} lost, {dup} dup, {ooo} out of order, {errors} errors "
            f"| {'yes' if lost + dup + ooo + errors == 0 else 'no'} |",
            f"| {result.backend} | relay p99 < 250 ms each way | {ms(worst)} ms "
            f"| {'yes' if worst < TARGET_RELAY_P99 else 'no'} |",
            f"| {result.backend} | handoff start p99 < 500 ms | {ms(start)} ms "
            f"| {'yes' if start < TARGET_HANDOFF_P99 else 'no'} |",
        ]
        peer = _find(results, PEER, result.backend.split(",")[0])
        reply = peer.steps[0] if peer is not None and peer.steps else None
        relayed = cpu_ms_per_message(top, 2)
        replied = cpu_ms_per_message(reply, 1) if reply is not None else math.nan
        lines.append(
            f"| {result.backend} | CPU per relayed message ≤ the peer's per bot reply "
            f"| {relayed:.1f} ms (at {top.name} conversations) / {replied:.1f} ms (at "
            f"{reply.name if reply is not None else '–'} msg/s) "
            f"| {'yes' if relayed <= replied else 'no'} |"
        )
        if peer is not None and peer.saturation:
            ratio = result.saturation / peer.saturation
            lines.append(
                f"| {result.backend} | saturation ≥ Rasa's reply path "
                f"| {_saturation(result)} / {_saturation(peer)} = {ratio:.2f} "
                f"| {'yes' if ratio >= TARGET_SATURATION_RATIO else 'no'} |"
            )
        if floor is not None and peer is not None:
            lines.append(
                f"| {result.backend} | (ratios at 50 visitor msg/s, p50) "
                f"| {_ratio(result, peer, floor)} | |"
            )
    return lines


def cpu_ms_per_message(measured: Measured, per_visitor_message: int) -> float:
    """CPU of the servers (every process but the load generator, the
    database's included) per message they handled: on the handoff path a
    customer message and its answer are two."""
    servers = sum(u.cpu_percent for n, u in measured.usage.items() if n != "load generator")
    handled = measured.phase.achieved_per_second * per_visitor_message
    return servers * 10 / handled if handled else math.nan


def _ratio(product: PathResult, peer: PathResult, floor: PathResult) -> str:
    top = product.levels[-1]
    inbound = top.window["customer -> operator"].p50
    outbound = top.window["operator -> customer"].p50
    peer_p50 = peer.steps[0].window["round trip"].p50 if peer.steps else math.nan
    floor_p50 = floor.steps[0].window["round trip"].p50 if floor.steps else math.nan
    return (
        f"customer → operator {ms(inbound)} ms = {inbound / peer_p50:.1f}× peer "
        f"({ms(peer_p50)} ms), {inbound / floor_p50:.0f}× floor ({ms(floor_p50)} ms); "
        f"operator → customer {ms(outbound)} ms = {outbound / peer_p50:.1f}× peer, "
        f"{outbound / floor_p50:.0f}× floor"
    )


def _kind(error: str) -> str:
    """An error without its conversation: "send: TimeoutError"."""
    action, _, rest = error.partition(" ")
    detail = rest.split(": ", 1)[1] if ": " in rest else rest
    return f"{action}: {detail.split('(')[0][:60]}"


def render(results: list[PathResult], header: list[str]) -> str:
    lines = ["# Benchmark results", "", *header, "", "## Machine", "", *machine()]
    lines += ["", "## Targets (issue 15)", "", *verdicts(results)]
    lines += ["", "## The product under the load model", ""]
    for result in results:
        if result.levels:
            lines += [*levels_table(result), ""]
    lines += [
        "## Saturation search (p99 under 1 s; rates in messages Rasa handles per second)",
        "",
        "Saturation: " + "; ".join(f"{r.label} on {r.backend}: {_saturation(r)}" for r in results),
        "",
        *steps_table(results),
    ]
    errors = Counter(
        f"{r.label}, {r.backend}, {m.name}: {_kind(e)}"
        for r in results
        for m in r.levels + r.steps
        for e in m.errors
    )
    if errors:
        lines += ["", "## Errors by kind", "", *(f"- {n} × {k}" for k, n in errors.most_common())]
    return "\n".join(lines) + "\n"
