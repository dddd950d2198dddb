"""The Bot API's HTTP client: what it sends, how it reads answers, keeps and replaces connections, and fails."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from channels.telegram_http import BotApiRequest, bot_api_request

OK = b'{"ok":true,"result":true}'

# What the scripted server does with one request: the bytes it answers, or None to close.
Script = Callable[[bytes, bytes], Awaitable[bytes | None]]


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering each request as scripted; it keeps what it got."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                answer = await self.script(head, body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(body: bytes = OK, *, close: bool = False) -> bytes:
    """An HTTP/1.1 200 with a Content-Length."""
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + connection
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def always_ok(head: bytes, body: bytes) -> bytes:
    return answer()


@asynccontextmanager
async def served(
    script: Script = always_ok, context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[ScriptedServer, str]]:
    server = ScriptedServer(script)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    port = listening.sockets[0].getsockname()[1]
    scheme = "https" if context else "http"
    try:
        yield server, f"{scheme}://localhost:{port}/bot123:ABC"
    finally:
        for writer in server.writers:
            writer.close()
        listening.close()


def parameters(**values: Any) -> RequestData:
    return RequestData([RequestParameter.from_input(name, value) for name, value in values.items()])


@pytest.fixture
async def client() -> AsyncIterator[BotApiRequest]:
    request = BotApiRequest()
    await request.initialize()
    yield request
    await request.shutdown()


async def test_a_call_is_posted_form_encoded_and_its_answer_read(client: BotApiRequest) -> None:
    async with served() as (server, base):
        markup = {"inline_keyboard": [[{"text": "Hài lòng", "callback_data": "a:15:4"}]]}
        status, body = await client.do_request(
            f"{base}/editMessageText",
            "POST",
            parameters(chat_id=42, text="Câu 2/20", reply_markup=markup),
        )

    assert (status, body) == (200, OK)
    ((head, sent),) = server.requests
    assert head.startswith(b"POST /bot123:ABC/editMessageText HTTP/1.1\r\n")
    assert b"content-type: application/x-www-form-urlencoded" in head.lower()
    assert dict(parse_qsl(sent.decode())) == {
        "chat_id": "42",
        "text": "Câu 2/20",
        "reply_markup": json.dumps(markup),
    }


async def test_a_chunked_answer_is_read_whole(client: BotApiRequest) -> None:
    async def chunked(head: bytes, body: bytes) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (len(OK[:10]), OK[:10])
            + b"%x\r\n%s\r\n" % (len(OK[10:]), OK[10:])
            + b"0\r\n\r\n"
        )

    async with served(chunked) as (_server, base):
        assert await client.do_request(f"{base}/getMe", "POST") == (200, OK)


async def test_an_error_status_is_returned_for_python_telegram_bot_to_read(
    client: BotApiRequest,
) -> None:
    refused = b'{"ok":false,"error_code":400,"description":"Bad Request: message is not modified"}'

    async def bad_request(head: bytes, body: bytes) -> bytes:
        return answer(refused).replace(b"200 OK", b"400 Bad Request")

    async with served(bad_request) as (_server, base):
        assert await client.do_request(f"{base}/editMessageText", "POST") == (400, refused)


async def test_one_connection_carries_one_call_after_another(client: BotApiRequest) -> None:
    async with served() as (server, base):
        for _ in range(5):
            await client.do_request(f"{base}/getMe", "POST")

    assert (server.connections, len(server.requests)) == (1, 5)


async def test_calls_at_once_take_a_connection_each_and_keep_them(client: BotApiRequest) -> None:
    async def slow(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return answer()

    async with served(slow) as (server, base):
        await asyncio.gather(*(client.do_request(f"{base}/getMe", "POST") for _ in range(4)))
        await asyncio.gather(*(client.do_request(f"{base}/getMe", "POST") for _ in range(4)))

    assert (server.connections, len(server.requests)) == (4, 8)


async def test_a_connection_the_server_asks_to_close_is_not_used_again(
    client: BotApiRequest,
) -> None:
    async def closing(head: bytes, body: bytes) -> bytes:
        return answer(close=True)

    async with served(closing) as (server, base):
        for _ in range(3):
            assert await client.do_request(f"{base}/getMe", "POST") == (200, OK)

    assert server.connections == 3


async def test_an_idle_connection_the_server_closed_is_replaced_without_an_error(
    client: BotApiRequest,
) -> None:
    async with served() as (server, base):
        await client.do_request(f"{base}/getMe", "POST")
        for writer in server.writers:  # the server's keep-alive ran out
            writer.close()
        await asyncio.sleep(0.05)
        assert await client.do_request(f"{base}/getMe", "POST") == (200, OK)

    assert server.connections == 2


async def test_an_answer_cut_short_is_a_network_error(client: BotApiRequest) -> None:
    async def cut(head: bytes, body: bytes) -> bytes | None:
        return None  # the connection closes with no answer

    async with served(cut) as (_server, base):
        with pytest.raises(NetworkError):
            await client.do_request(f"{base}/getMe", "POST")


async def test_an_answer_that_never_comes_times_out(client: BotApiRequest) -> None:
    async def never(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(10)
        return answer()

    async with served(never) as (_server, base):
        with pytest.raises(TimedOut):
            await client.do_request(f"{base}/getMe", "POST", read_timeout=0.1)


async def test_a_server_that_is_not_there_is_a_network_error(client: BotApiRequest) -> None:
    async with served() as (_server, base):
        pass  # closed again: nothing listens on that port now

    with pytest.raises(NetworkError):
        await client.do_request(f"{base}/getMe", "POST")


async def test_with_every_connection_busy_a_call_waits_then_times_out() -> None:
    client = BotApiRequest(connections=1)

    async def slow(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.5)
        return answer()

    async with served(slow) as (_server, base):
        first = asyncio.create_task(client.do_request(f"{base}/getMe", "POST"))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut, match="not sent"):
            await client.do_request(f"{base}/getMe", "POST", pool_timeout=0.1)
        assert await first == (200, OK)
    await client.shutdown()


class RecordingFiles(BaseRequest):
    """Stands for python-telegram-bot's httpx client: records what it is given."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        self.methods.append(url.rsplit("/", 1)[-1])
        return 200, OK


async def test_a_call_with_a_file_goes_through_python_telegram_bots_own_client() -> None:
    files = RecordingFiles()
    client = BotApiRequest(files=files)
    async with served() as (server, base):
        document = InputFile(b"a,b\n1,2\n", filename="summary.csv")
        sent = await client.do_request(
            f"{base}/sendDocument", "POST", parameters(chat_id=42, document=document)
        )

    assert sent == (200, OK)
    assert (files.methods, server.requests) == (["sendDocument"], [])


async def test_https_checks_the_servers_certificate(tmp_path: Path) -> None:
    certificate, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    trusting = ssl.create_default_context(cafile=str(certificate))

    async with served(context=server_context) as (_server, base):
        client = BotApiRequest(ssl_context=trusting)
        assert await client.do_request(f"{base}/getMe", "POST") == (200, OK)
        await client.shutdown()
        # Without the certificate among its authorities, the client refuses the server.
        default = BotApiRequest()
        with pytest.raises(NetworkError):
            await default.do_request(f"{base}/getMe", "POST")
        await default.shutdown()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "cert.pem", directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


def test_behind_a_proxy_the_bot_keeps_python_telegram_bots_own_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.lower(), raising=False)
    assert isinstance(bot_api_request("https://api.telegram.org/bot"), BotApiRequest)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.so-noi-vu.internal:3128")
    assert bot_api_request("https://api.telegram.org/bot") is None
    # ... unless the Bot API is one the proxy is bypassed for.
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert isinstance(bot_api_request("https://api.telegram.org/bot"), BotApiRequest)
