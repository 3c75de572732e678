"""Run the benchmark suite (see bench/README.md).

.venv/bin/python -m bench [--backends sqlite postgresql] [--levels 10 100 500 1000]
    [--duration 60] [--steps 50 100 ...] [--no-baselines] [--cluster]
    [--out bench/results/latest.md]
.venv/bin/python -m bench --render var/bench/results.pickle  (a run's tables again)
"""

from __future__ import annotations

import argparse
import pickle
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import render
from bench.suite import Plan, run_all
from tests.support.processes import ROOT

# Every figure of the last run, to render its tables again (--render).
FIGURES = ROOT / "var" / "bench" / "results.pickle"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    plan = Plan()
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--levels", nargs="+", type=int, default=plan.levels)
    parser.add_argument("--interval", type=float, default=plan.interval)
    parser.add_argument("--duration", type=float, default=plan.duration)
    parser.add_argument("--steps", nargs="*", type=int, default=plan.steps)
    parser.add_argument("--step-seconds", type=float, default=plan.step_seconds)
    parser.add_argument("--operators", type=int, default=plan.operators)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--cluster", action="store_true", help="also the product as `make cluster` runs it"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.md"))
    parser.add_argument("--render", type=Path, help="a run's figures: write its tables again")
    args = parser.parse_args()
    if args.render:
        results, header = pickle.loads(args.render.read_bytes())
        write(render(results, header), args.out)
        return
    plan = Plan(
        args.levels,
        args.interval,
        args.duration,
        args.steps,
        args.step_seconds,
        plan.drain,
        args.operators,
    )
    started, load_before = datetime.now(UTC), load_average()
    clock = time.monotonic()
    results = run_all(args.backends, plan, not args.no_baselines, args.cluster)
    minutes = (time.monotonic() - clock) / 60
    header = [
        f"- Command: `{shlex.join(['python', '-m', 'bench', *sys.argv[1:]])}` (`make bench`)",
        f"- Started {started:%Y-%m-%d %H:%M} UTC, took {minutes:.1f} min; load average "
        f"(1, 5, 15 min) before {load_before}, after {load_average()}",
    ]
    FIGURES.write_bytes(pickle.dumps((results, header)))
    write(render(results, header), args.out)


def write(text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
