"""The Bot API's HTTP client for python-telegram-bot: kept-alive HTTP/1.1 over asyncio, h11 reading.

A survey's tap makes one Bot API call (the question message edited). Through
python-telegram-bot's httpx client one call cost 0.6-1.0 ms of CPU, more the more
connections were pooled (httpx looks at every pooled connection at each request); here it
costs 0.1-0.2 ms (docs/benchmarks.md, "Webhook path under load"). The HTTP itself is h11's,
the parser httpx's own transport uses, so answers are read exactly as there (lengths,
chunks, a connection the server closes). What this client does not do goes to
python-telegram-bot's httpx client: requests carrying files (multipart), and any
deployment behind a proxy (`bot_api_request` says which).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.request
from collections import defaultdict
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import h11
import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

__all__ = ["BotApiRequest", "KeptConnection", "bot_api_request", "take_usable"]

# As python-telegram-bot's httpx client: seconds to connect, to write a request, to read its
# answer, and to wait for a free connection.
CONNECT_SECONDS = 5.0
WRITE_SECONDS = 5.0
READ_SECONDS = 5.0
POOL_WAIT_SECONDS = 1.0
# As httpx: an idle connection is closed after this long (the server may have closed it).
KEEPALIVE_SECONDS = 5.0
# Requests in flight at once; a request finding none free waits up to POOL_WAIT_SECONDS.
CONNECTIONS = 256
READ_BYTES = 65_536

Origin = tuple[str, str, int]  # scheme, host, port


def bot_api_request(base_url: str) -> BaseRequest | None:
    """The client for the bot's calls to `base_url`: a `BotApiRequest`, or None (keep
    python-telegram-bot's httpx client) when the environment names a proxy for it, which
    httpx honours and this client does not."""
    host = urlsplit(base_url).hostname or ""
    proxies = urllib.request.getproxies()
    scheme = urlsplit(base_url).scheme
    if (proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host):
        return None
    return BotApiRequest()


class KeptConnection:
    """One kept-alive HTTP/1.1 connection to an origin. (The load harness delivers webhooks
    over these too, as lean as the service's side: benchmarks/load/bench.py.)"""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.http = h11.Connection(h11.CLIENT)
        self.idle_since = time.monotonic()

    def usable(self, now: float) -> bool:
        """Whether an idle connection may carry a request: open at both ends, not idle long."""
        return (
            now - self.idle_since < KEEPALIVE_SECONDS
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    async def exchange(
        self,
        request: h11.Request,
        body: bytes,
        write_seconds: float | None,
        read_seconds: float | None,
    ) -> tuple[int, bytes]:
        """Send one request; its answer's status and body."""
        http = self.http
        message = http.send(request) or b""
        if body:
            message += http.send(h11.Data(data=body)) or b""
        message += http.send(h11.EndOfMessage()) or b""
        self.writer.write(message)
        async with asyncio.timeout(write_seconds):
            await self.writer.drain()
        status = 0
        chunks: list[bytes] = []
        async with asyncio.timeout(read_seconds):
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    # b"" at the end of the stream: h11 then says whether the answer was whole.
                    http.receive_data(await self.reader.read(READ_BYTES))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return status, b"".join(chunks)
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("the server closed the connection before answering")

    def kept(self) -> bool:
        """After an exchange: whether the connection can carry the next request (the server
        did not ask to close it); ready for it if so."""
        if self.http.our_state is not h11.DONE or self.http.their_state is not h11.DONE:
            return False
        self.http.start_next_cycle()
        self.idle_since = time.monotonic()
        return True

    def close(self) -> None:
        self.writer.close()


def take_usable(idle: list[KeptConnection]) -> KeptConnection | None:
    """The most recently used of the `idle` connections still usable, taken out of the list;
    the stale ones met on the way are closed and dropped."""
    now = time.monotonic()
    while idle:
        connection = idle.pop()
        if connection.usable(now):
            return connection
        connection.close()
    return None


class BotApiRequest(BaseRequest):
    """python-telegram-bot's HTTP layer for the Bot API: kept-alive connections per origin,
    at most `connections` requests in flight; files go through `files` (python-telegram-bot's
    httpx client by default)."""

    def __init__(
        self,
        *,
        connections: int = CONNECTIONS,
        ssl_context: ssl.SSLContext | None = None,
        files: BaseRequest | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(connections)
        self._idle: defaultdict[Origin, list[KeptConnection]] = defaultdict(list)
        self._ssl_context = ssl_context
        self._files = files or HTTPXRequest(connection_pool_size=8)

    @property
    def read_timeout(self) -> float:
        return READ_SECONDS

    async def initialize(self) -> None:
        await self._files.initialize()

    async def shutdown(self) -> None:
        """Close every idle connection (and the files' client)."""
        idle = [connection for pool in self._idle.values() for connection in pool]
        self._idle.clear()
        for connection in idle:
            connection.close()
        await asyncio.gather(
            *(connection.writer.wait_closed() for connection in idle), return_exceptions=True
        )
        await self._files.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,  # seconds, None or DEFAULT_NONE
        write_timeout: Any = BaseRequest.DEFAULT_NONE,  # seconds, None or DEFAULT_NONE
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,  # seconds, None or DEFAULT_NONE
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,  # seconds, None or DEFAULT_NONE
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`: the status and body of the answer; TimedOut or
        NetworkError as python-telegram-bot's own client raises them."""
        if request_data is not None and request_data.contains_files:
            return await self._files.do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        origin = (scheme, host, parts.port or (443 if scheme == "https" else 80))
        body = urlencode(request_data.json_parameters).encode() if request_data else b""
        headers = [
            ("Host", parts.netloc),
            ("User-Agent", self.USER_AGENT),
            ("Content-Length", str(len(body))),
        ]
        if body:
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = h11.Request(method=method, target=target or "/", headers=headers)
        try:
            async with asyncio.timeout(_seconds(pool_timeout, POOL_WAIT_SECONDS)):
                await self._slots.acquire()
        except TimeoutError as error:
            raise TimedOut(
                "Pool timeout: every connection is busy; the request was not sent"
            ) from error
        try:
            connection = take_usable(self._idle[origin])
            if connection is None:
                connection = await self._connect(origin, _seconds(connect_timeout, CONNECT_SECONDS))
            try:
                answer = await connection.exchange(
                    request,
                    body,
                    _seconds(write_timeout, WRITE_SECONDS),
                    _seconds(read_timeout, READ_SECONDS),
                )
            except BaseException:
                connection.close()
                raise
            if connection.kept():
                self._idle[origin].append(connection)
            else:
                connection.close()
            return answer
        except TimeoutError as error:
            raise TimedOut from error
        except (OSError, h11.ProtocolError) as error:  # ConnectionError is an OSError
            raise NetworkError(f"{type(error).__name__}: {error}") from error
        finally:
            self._slots.release()

    async def _connect(self, origin: Origin, seconds: float | None) -> KeptConnection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            # httpx's checks (certifi's authorities, SSL_CERT_FILE honoured) unless given.
            context = self._ssl_context or _default_ssl_context()
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            )
        return KeptConnection(reader, writer)


@cache
def _default_ssl_context() -> ssl.SSLContext:
    """One context for the process (making one reads the authorities' file)."""
    return httpx.create_ssl_context()


def _seconds(given: object, default: float) -> float | None:
    """A timeout as python-telegram-bot passes it: seconds, None (no limit), or its
    DEFAULT_NONE, which stands for ours."""
    if given is None or isinstance(given, int | float):
        return given
    return default
