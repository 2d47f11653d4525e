"""A small real HTTP/1.1 server on a loopback address that records what reaches it.

It counts every accepted connection (not just complete requests), so a test can prove that
a forbidden destination saw nothing at all. Every response closes its connection, so each
request a client makes needs a new connection (and a new name lookup).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reply:
    """What the server answers on one path."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drip: float = 0.0
    chunked: bool = False


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Upstream:
    """An HTTP server on ``host``; ``replies`` maps a path to a :class:`Reply` or a factory."""

    def __init__(
        self, host: str = "127.0.0.2", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.replies: dict[str, Reply | Callable[[Seen], Reply]] = {}
        self.connections = 0
        self.requests: list[Seen] = []
        self._server: asyncio.Server | None = None

    @classmethod
    def catch_all(cls, port: int) -> Upstream:
        """A listener on every local address (IPv4 and IPv6) at ``port``."""
        return cls("*", port)

    @property
    def origin(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    async def start(self) -> Upstream:
        if self.host == "*":
            host, family = None, socket.AF_UNSPEC
        else:
            host, family = self.host, socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = await asyncio.start_server(
            self._serve, host, self.port, family=family, ssl=self.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Upstream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            seen = await _read_request(reader)
            if seen is None:
                return
            self.requests.append(seen)
            reply = self.replies.get(seen.path, Reply(404, body=b"not found"))
            if callable(reply):
                reply = reply(seen)
            await _write_reply(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or "0")
    body = await reader.readexactly(length) if length else b""
    return Seen(method, path, headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
    if reply.delay:
        await asyncio.sleep(reply.delay)
    length = len(reply.body)
    framing = "transfer-encoding: chunked" if reply.chunked else f"content-length: {length}"
    head = [f"HTTP/1.1 {reply.status} X", framing, "connection: close"]
    head += [f"{k}: {v}" for k, v in reply.headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()
    step = 1024 if (reply.drip or reply.chunked) else max(len(reply.body), 1)
    for start in range(0, len(reply.body), step):
        part = reply.body[start : start + step]
        writer.write(b"%x\r\n%s\r\n" % (len(part), part) if reply.chunked else part)
        await writer.drain()
        if reply.drip:
            await asyncio.sleep(reply.drip)
    if reply.chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()


def tls_contexts(name: str, directory: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for ``name``, and a client
    context that trusts only that certificate (and checks host names)."""
    import datetime
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = Path(directory, f"{name}.pem")
    key_path = Path(directory, f"{name}.key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client
