"""Benchmark-only: turns off the per-process Telegram flood cap (30 messages/s) in the server.

The load harness puts this directory on PYTHONPATH of the server it starts (and so of
every worker the server spawns), with SIPAS_BENCH_UNTHROTTLED=1: the fake Bot API has
no flood limit, and the harness measures the service, not Telegram's cap.
"""

import os

if os.environ.get("SIPAS_BENCH_UNTHROTTLED") == "1":
    from channels import telegram_delivery

    _original_init = telegram_delivery.RetryingRateLimiter.__init__

    def _init_without_overall_cap(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _original_init(self, *args, **kwargs)
        self._base_limiter = None  # AIORateLimiter then skips its overall limit

    telegram_delivery.RetryingRateLimiter.__init__ = _init_without_overall_cap  # type: ignore[method-assign]
