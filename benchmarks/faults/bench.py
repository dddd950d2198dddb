"""Long fault runs: the load harness with something breaking underneath; nothing may be lost.

Not a test. Each scenario runs the load harness (benchmarks/load/bench.py: real
server, fake Bot API, respondents delivering like Telegram, which redelivers what
was not answered 200) while a fault is injected, then counts lost and duplicated
answers from the database (both must be 0) and how the service recovered.

    python benchmarks/faults/bench.py kill-server         # kill -9 of the whole server, restart
    python benchmarks/faults/bench.py kill-worker         # kill -9 of one of 2 workers (PostgreSQL)
    python benchmarks/faults/bench.py bot-api-storm       # 429 storms and 5xx from the Bot API
    python benchmarks/faults/bench.py postgres-restart    # restarts the local PostgreSQL cluster!

postgres-restart restarts the cluster at SIPAS_TEST_POSTGRES_URL's host with
`pg_ctlcluster --skip-systemctl-redirect <version> main restart`: every other
client of that server sees its connections dropped. Never run it beside a test run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))

from bench import Setting, run_load

FAULT_AFTER_SECONDS = 8.0
STORMS = 3


async def kill_server(setting: Setting) -> dict[str, Any]:
    """kill -9 the server (every process of it), wait, start a new one on the same port."""
    await asyncio.sleep(FAULT_AFTER_SECONDS)
    for pid in setting.server.pids():
        os.kill(pid, signal.SIGKILL)
    setting.server.process.wait()
    killed = time.monotonic()
    await asyncio.sleep(2)
    await asyncio.to_thread(setting.restart)
    return {"fault": "kill -9 of the server", "down_seconds": round(time.monotonic() - killed, 1)}


async def kill_worker(setting: Setting) -> dict[str, Any]:
    """kill -9 one worker every few seconds; the parent starts it again."""
    kills = 0
    await asyncio.sleep(FAULT_AFTER_SECONDS)
    while True:
        workers = setting.server.worker_pids()
        if workers:
            os.kill(workers[kills % len(workers)], signal.SIGKILL)
            kills += 1
        await asyncio.sleep(FAULT_AFTER_SECONDS)
        setting.tally.failures["workers_killed"] = kills


async def bot_api_storm(setting: Setting) -> dict[str, Any]:
    """Three bursts of 429 (retry after 1 s) and 5xx on the methods every answer uses (a tap's
    own answer goes back in the webhook's answer: no call of its own to fail).

    Each 429 makes the bot hold every request for the time Telegram asks, as it must;
    the bursts are spaced so that the respondents get through between them.
    """
    telegram = setting.telegram
    for storm in range(1, STORMS + 1):
        await asyncio.sleep(FAULT_AFTER_SECONDS)
        telegram.fail("editMessageText", 429, times=5, retry_after=1)
        telegram.fail("sendMessage", 500, times=10)
        setting.tally.failures["storms"] = storm
    return {"fault": f"{STORMS} Bot API storms"}


async def postgres_restart(setting: Setting) -> dict[str, Any]:
    """Restart the PostgreSQL cluster under load; the service must recover by itself."""
    await asyncio.sleep(FAULT_AFTER_SECONDS)
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    failures_before = sum(setting.tally.failures.values())
    restarted = time.monotonic()
    await asyncio.to_thread(
        subprocess.run,
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
    )
    back = time.monotonic()
    # Recovered once no delivery has failed for a while (the tally has no event to wait on).
    while (  # noqa: ASYNC110
        setting.tally.last_failure is not None and time.monotonic() - setting.tally.last_failure < 5
    ):
        await asyncio.sleep(0.5)
    last = setting.tally.last_failure
    return {
        "fault": "PostgreSQL restart",
        "restart_took_seconds": round(back - restarted, 1),
        "failed_deliveries_during_outage": sum(setting.tally.failures.values()) - failures_before,
        "recovered_seconds_after_restart": round(max(0.0, (last or back) - back), 1),
    }


SCENARIOS = {
    "kill-server": (kill_server, "sqlite", 1),
    "kill-worker": (kill_worker, "postgres", 2),
    "bot-api-storm": (bot_api_storm, "sqlite", 1),
    "postgres-restart": (postgres_restart, "postgres", 2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--respondents", type=int, default=100)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between taps")
    arguments = parser.parse_args()
    disturbance, backend, workers = SCENARIOS[arguments.scenario]
    result = asyncio.run(
        run_load(
            respondents=arguments.respondents,
            backend=backend,
            workers=workers,
            think=arguments.think,
            disturbance=disturbance,
        )
    )
    print(json.dumps({"scenario": arguments.scenario, **result}, indent=2))
    if result["lost_answers"] or result["duplicated_answers"]:
        sys.exit("answers were lost or duplicated")
    if result["completed_surveys"] != arguments.respondents:
        sys.exit("not every survey completed")


if __name__ == "__main__":
    main()
