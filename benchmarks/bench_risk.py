"""Risk engine throughput: evaluations per second on one core over the labelled corpus inputs.

    python benchmarks/bench_risk.py [--rounds 7] [--repeat 200] [--cases tests/data/cases.jsonl]

Prints the median of several rounds, and, measured in the same run, two baselines so that the
figure can be read on any machine: ScreeningInput.from_dict on the same inputs (the parsing every
request pays anyway) and a trivial Python function call.  Target: >= 20,000 evaluations/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from teller_guard.risk import ScreeningInput, default_rules, evaluate  # noqa: E402
from teller_guard.risk.backtest import load_cases  # noqa: E402

TARGET_PER_SECOND = 20_000


def pin_to_one_core() -> str:
    """Measure one core's worth of work: pin the process when the OS lets us."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def rate(function, items, repeat: int, rounds: int) -> tuple[float, float, list[float]]:
    """Calls per second of function over items: (median per CPU-second, median per wall-second,
    the CPU rates of each round).  One warm-up round first.

    CPU time (time.process_time) is what one core spent on this process alone, so the headline
    figure holds on a shared, busy machine; wall-clock time is shown next to it.
    """
    for item in items:
        function(*item)
    cpu_rates, wall_rates = [], []
    for _ in range(rounds):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(repeat):
            for item in items:
                function(*item)
        calls = repeat * len(items)
        cpu_rates.append(calls / (time.process_time() - cpu_start))
        wall_rates.append(calls / (time.perf_counter() - wall_start))
    return statistics.median(cpu_rates), statistics.median(wall_rates), cpu_rates


def trivial(screening, policy):
    return screening


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(ROOT / "tests" / "data" / "cases.jsonl"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200, help="passes over the corpus per round")
    args = parser.parse_args(argv)

    pinning = pin_to_one_core()
    cases = load_cases(args.cases)
    raw_inputs = [
        (json.loads(line)["input"],)
        for line in Path(args.cases).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rules = default_rules()
    evaluations = [(case.screening, case.policy, rules) for case in cases]

    engine, engine_wall, engine_rounds = rate(evaluate, evaluations, args.repeat, args.rounds)
    parsing, _, _ = rate(ScreeningInput.from_dict, raw_inputs, args.repeat, args.rounds)
    call, _, _ = rate(trivial, [(c.screening, c.policy) for c in cases], args.repeat, args.rounds)

    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"python {platform.python_version()} on {platform.machine()}, {pinning}, "
          f"load average {os.getloadavg()[0]:.2f}; {len(cases)} corpus inputs x {args.repeat} "
          f"passes x {args.rounds} rounds; rules {rules.version} ({len(rules.rules)} rules, "
          f"{len(rules.typologies)} typologies)")
    print(f"evaluate():                 {engine:>12,.0f} evaluations per CPU-second (median; "
          f"rounds: {', '.join(f'{value:,.0f}' for value in engine_rounds)})")
    print(f"                            {engine_wall:>12,.0f} evaluations per wall-second (median)")
    print(f"baseline from_dict():       {parsing:>12,.0f} parses per CPU-second "
          f"-> one evaluation costs {parsing / engine:.2f} x one parse")
    print(f"baseline trivial call:      {call:>12,.0f} calls per CPU-second  "
          f"-> one evaluation costs {call / engine:.0f} x one function call")
    verdict = "meets" if engine >= TARGET_PER_SECOND else "BELOW"
    print(f"target {TARGET_PER_SECOND:,}/s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
