"""Night benchmark: how `sipas serve`'s event loop fares while the night's work runs, in the
serving process (as before) or in a child process (`bot.nightly`, as now).

Not a test. Bulk-loads N completed responses over 30 days into a SQLite file (the
aggregation benchmark's loader), every day marked changed, then, on a fresh copy of that
file for each way, runs the night (aggregation of every changed day, then the 30 pipeline
files) while a probe in the same event loop wakes every 10 ms and records how late it is:
a respondent's webhook would wait as long. Each way runs in a process of its own, so the
peak RSS is the serving process's own.

    python benchmarks/night/bench.py                     # 100,000 responses
    python benchmarks/night/bench.py --responses 300000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "aggregation"))

from bench import FIRST_DAY, load_sqlite, prepare  # the aggregation benchmark's loader

from bot.nightly import in_child_process, night, run_night
from bot.settings import Settings, load_settings

PROBE_SECONDS = 0.01
WAYS = ("in-process", "child")


async def probe(lateness: list[float]) -> None:
    """Wake every PROBE_SECONDS and record how late each wake-up was."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + PROBE_SECONDS
        await asyncio.sleep(PROBE_SECONDS)
        lateness.append(loop.time() - due)


def memory_mb(field: str) -> float:
    """A memory figure of this process from /proc (not getrusage: its peak survives exec, so
    it would report this benchmark's loader)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError(field)


async def one_way(way: str, settings: Settings) -> dict[str, Any]:
    lateness: list[float] = []
    prober = asyncio.create_task(probe(lateness))
    await asyncio.sleep(0.2)  # the probe's own baseline
    started = time.perf_counter()
    if way == "in-process":
        await run_night(settings, "benchmark")
    else:
        await in_child_process(night, settings, "benchmark", name="sipas-nightly")
    seconds = time.perf_counter() - started
    prober.cancel()
    late_ms = sorted(value * 1000 for value in lateness)
    return {
        "way": way,
        "seconds": round(seconds, 2),
        "probe_p50_ms": round(late_ms[len(late_ms) // 2], 1),
        "probe_p99_ms": round(quantiles(late_ms, n=100)[98], 1),
        "probe_max_ms": round(late_ms[-1], 1),
        "late_over_50ms_share": round(sum(v > 50 for v in late_ms) / len(late_ms), 3),
        "serving_process_peak_rss_mb": memory_mb("VmHWM"),
        "serving_process_rss_after_mb": memory_mb("VmRSS"),
    }


def run_way(way: str, db: Path, exports: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--way", way, "--db", str(db), "--exports", str(exports)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--exports", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{args.db}",
            secret_key="benchmark-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
            export_dir=Path(args.exports),
            log_level="WARNING",
        )
        print(json.dumps(asyncio.run(one_way(args.way, settings))))
        return
    days = [FIRST_DAY + timedelta(days=n) for n in range(30)]
    figures = []
    with tempfile.TemporaryDirectory(prefix="sipas-night-") as folder:
        work = Path(folder)
        print(f"loading {args.responses:,} responses…", file=sys.stderr)
        db, _schema, points = asyncio.run(prepare("sqlite", args.responses, days, work))
        load_sqlite(Path(db), args.responses, days, points, 1, seed=1)
        for way in WAYS:
            copy = work / f"{way}.db"
            shutil.copy(db, copy)
            print(f"the night, {way}…", file=sys.stderr)
            figures.append(run_way(way, copy, work / f"exports-{way}"))
    print(
        json.dumps(
            {
                "responses": args.responses,
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "ways": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
