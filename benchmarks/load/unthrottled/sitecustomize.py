"""Benchmark-only: lifts Telegram's flood limits (30 messages/s, 20 a minute per group) in the server.

The load harness puts this directory on PYTHONPATH of the server it starts (and so of
every worker the server spawns), with SIPAS_BENCH_UNTHROTTLED=1: the fake Bot API has
no flood limit, and the harness measures the service, not Telegram's cap. The limits are
raised out of reach rather than removed, so every message still takes its turn as in
service: from this process's bucket, or with several workers from the database's.
"""

import os

if os.environ.get("SIPAS_BENCH_UNTHROTTLED") == "1":
    from channels import telegram_delivery

    OUT_OF_REACH = 1_000_000
    telegram_delivery.MESSAGES_PER_SECOND = OUT_OF_REACH
    telegram_delivery.GROUP_MESSAGES_PER_MINUTE = OUT_OF_REACH
    telegram_delivery.LocalFloodLimit.__init__.__defaults__ = (OUT_OF_REACH,)
