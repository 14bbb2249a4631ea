"""TLS from the client's side. The server in this repository speaks plaintext only, so a TLS-terminating proxy in
the test (Python's ssl, with the test certificates in tls/) stands in front of a real `leasehold serve`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Server

import leasehold

CERTS = Path(__file__).parent / "tls"


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(backend: Server, *, require_client_cert: bool) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(CERTS / "server.pem", CERTS / "server.key")
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(CERTS / "ca.pem")
    tasks: set[asyncio.Task[None]] = set()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = backend.address.split(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        for task in (pipe(reader, upstream_writer), pipe(upstream_reader, writer)):
            tasks.add(asyncio.create_task(task))

    listener = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        listener.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_tls_with_a_client_certificate(server: Server) -> None:
    tls = leasehold.TLS(
        ca_file=str(CERTS / "ca.pem"), cert_file=str(CERTS / "client.pem"), key_file=str(CERTS / "client.key")
    )
    async with tls_proxy(server, require_client_cert=True) as address:
        async with await leasehold.connect(address, tls=tls) as client:
            session = await client.open_session(ttl=5.0)
            async with session.lock("tls/1", wait=0) as lock:
                assert (await client.validate("tls/1", lock.fencing_token)).valid
        # Without a client certificate, or without trusting the server's CA, the handshake fails.
        with pytest.raises(leasehold.Unavailable):
            await leasehold.connect(address, tls=leasehold.TLS(ca_file=str(CERTS / "ca.pem")), connect_timeout=3.0)
        with pytest.raises(leasehold.Unavailable):
            await leasehold.connect(address, tls=True, connect_timeout=3.0)


async def test_plaintext_client_cannot_talk_to_a_tls_port(server: Server) -> None:
    async with tls_proxy(server, require_client_cert=False) as address:
        with pytest.raises(leasehold.Unavailable):
            await leasehold.connect(address, connect_timeout=3.0)
        context = ssl.create_default_context(cafile=str(CERTS / "ca.pem"))
        async with await leasehold.connect(address, tls=context) as client:
            assert client.server is not None and client.server.protocol_version == 1
