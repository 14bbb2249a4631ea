"""TLS from the client's side: against `leasehold serve --tls-cert …` itself, with a CA and certificates made at test
time by scripts/make-test-certs.sh, and through a TLS-terminating proxy (Python's ssl, with the test certificates in
tls/) in front of a plaintext server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import Server, binary

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


MAKE_TEST_CERTS = Path(__file__).resolve().parents[3] / "scripts" / "make-test-certs.sh"


def make_certificates(folder: Path) -> None:
    """ca.pem, server.pem/.key (for loopback) and client.pem/.key (CN py-admin.example): the repository's one
    recipe, scripts/make-test-certs.sh."""
    made = subprocess.run(
        ["bash", str(MAKE_TEST_CERTS), str(folder), "--server", "server", "--client", "client=py-admin.example"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert made.returncode == 0, made.stderr


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """`leasehold serve` with mutual TLS, and an auth file that makes the client certificate's CN an admin."""
    make_certificates(tmp_path)
    auth = tmp_path / "auth.json"
    auth.write_text('{"tokens": [{"principal": "py-ops", "cert_cn": "py-admin.example", "roles": ["admin"]}]}')
    arguments = [
        "--data", str(tmp_path / "leasehold.db"), "--tls-cert", str(tmp_path / "server.pem"),
        "--tls-key", str(tmp_path / "server.key"), "--tls-client-ca", str(tmp_path / "ca.pem"),
        "--auth-file", str(auth),
    ]
    process = Server(binary("LEASEHOLD_BIN", "leasehold"), arguments, tmp_path, "leasehold-tls")
    process.start()
    try:
        yield process, tmp_path
    finally:
        process.stop()


async def test_mutual_tls_against_the_server_itself(tls_server: tuple[Server, Path]) -> None:
    server, certs = tls_server
    tls = leasehold.TLS(
        ca_file=str(certs / "ca.pem"), cert_file=str(certs / "client.pem"), key_file=str(certs / "client.key")
    )
    async with await leasehold.connect(server.address, tls=tls) as client:
        assert client.server is not None and client.server.principal == "py-ops"
        session = await client.open_session(ttl=5.0)
        async with session.lock("tls/real", wait=0) as lock:
            assert (await client.validate("tls/real", lock.fencing_token)).valid
        await session.close()
    # Plaintext, no client certificate, or a CA that did not sign the server's: each is refused.
    with pytest.raises(leasehold.Unavailable, match="speaks TLS"):
        await leasehold.connect(server.address, connect_timeout=3.0)
    with pytest.raises(leasehold.Unavailable):
        await leasehold.connect(server.address, tls=leasehold.TLS(ca_file=str(certs / "ca.pem")), connect_timeout=3.0)
    with pytest.raises(leasehold.Unavailable):
        await leasehold.connect(server.address, tls=True, connect_timeout=3.0)
