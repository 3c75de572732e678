"""The benchmark suite itself, with tiny numbers: the harness runs end to end
against the real processes, counts every message and loses none."""

from __future__ import annotations

from pathlib import Path

from bench.report import render
from bench.suite import Plan, run_floor, run_product

# 3 conversations writing every 1.5 s for 3 s after a warm-up, then one short
# saturation step: about 40 s with the stack's start on SQLite.
PLAN = Plan(
    levels=[3], interval=1.5, duration=3.0, steps=[6], step_seconds=1.5, drain=15.0, operators=1
)


def test_bench_smoke(tmp_path: Path) -> None:
    product = run_product("sqlite", PLAN, tmp_path)
    floor = run_floor(PLAN, tmp_path)

    (level,) = product.levels
    assert level.errors == []
    for name, counted in level.whole.items():
        assert counted.sent > 0, name
        assert counted.received == counted.sent, (name, counted)
        assert (counted.lost, counted.duplicated, counted.out_of_order) == (0, 0, 0), name
    assert level.window["customer -> operator"].sent > 0
    assert level.phase.sends > 0
    assert {"handoff", "rasa", "actions", "load generator"} <= set(level.usage)
    assert level.usage["rasa"].cpu_percent > 0 and level.usage["rasa"].peak_rss_mib > 100
    assert level.db_bytes_per_1000 > 0
    assert len(level.handshakes) == 3 and all(h > 0 for h in level.handshakes)
    for path in (product, floor):
        (step,) = path.steps
        assert step.held, step
        assert all(s.lost == 0 and s.received > 0 for s in step.window.values()), step.window

    report = render([product, floor], ["- Command: smoke"])
    assert "| 3 | 2.0 / " in report
