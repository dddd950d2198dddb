"""Start-up benchmark: how long `sipas --help` and `sipas units --help` take, from a cold process.

Not a test. Runs each command N times as a fresh process and prints the median wall-clock
time, against a floor measured in the same run: the interpreter starting and doing
nothing (`python -c pass`). What a command costs above the floor is what it imports.

    python benchmarks/startup/bench.py             # 15 runs each
    python benchmarks/startup/bench.py --runs 51
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def sipas() -> str:
    """The `sipas` command of this environment (the one beside this Python), else on PATH."""
    beside = Path(sys.executable).parent / "sipas"
    found = str(beside) if beside.exists() else shutil.which("sipas")
    if found is None:
        raise SystemExit("no `sipas` command: install the project first (make install)")
    return found


def median_seconds(command: list[str], runs: int) -> float:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    runs = parser.parse_args().runs
    commands = {
        "floor: python -c pass": [sys.executable, "-c", "pass"],
        "sipas --help": [sipas(), "--help"],
        "sipas units --help": [sipas(), "units", "--help"],
    }
    print(f"start-up, median of {runs} runs (wall clock)")
    floor = None
    for name, command in commands.items():
        seconds = median_seconds(command, runs)
        floor = floor or seconds
        print(f"  {name:<24} {seconds * 1000:7.0f} ms  {seconds / floor:5.1f}x the floor")


if __name__ == "__main__":
    main()
