"""The client against real servers: locks, queries, errors, cancellation, several addresses, watches."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from conftest import Server, binary, eventually, free_port

import leasehold
from leasehold._proto import leasehold_pb2 as pb


async def test_connect_reports_the_server_and_closes(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        info = client.server
        assert info is not None
        assert info.protocol_version == 1
        assert info.principal == "anonymous"
        assert info.address == server.address
    assert client.closed
    with pytest.raises(leasehold.Unavailable):
        await client.describe("jobs/1")


async def test_connect_tries_addresses_in_turn(server: Server) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with await leasehold.connect([dead, server.address]) as client:
        assert client.server is not None and client.server.address == server.address
    async with await leasehold.connect(f"{dead},{server.address}") as client:
        assert (await client.describe("jobs/1")).held is False


async def test_connect_fails_with_unavailable_when_no_address_answers() -> None:
    with pytest.raises(leasehold.Unavailable) as raised:
        await leasehold.connect(
            [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], connect_timeout=2.0, failover_timeout=0.5
        )
    assert raised.value.code == "UNAVAILABLE"


async def test_connect_follows_a_standby_to_the_leader(server: Server) -> None:
    """A standby answers Hello with UNAVAILABLE and Status.leader; the client goes there."""
    hellos = 0

    async def standby(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal hellos
        (length,) = struct.unpack(">I", await reader.readexactly(4))
        frame = pb.Frame.FromString(await reader.readexactly(length))
        assert frame.method == b"leasehold.v1.Leasehold/Hello"
        hellos += 1
        status = pb.Status(code=pb.UNAVAILABLE, message="standby", leader=server.address)
        body = pb.Frame(call_id=frame.call_id, status=status).SerializeToString()
        writer.write(struct.pack(">I", len(body)) + body)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(standby, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        async with await leasehold.connect(f"127.0.0.1:{port}") as client:
            assert hellos == 1
            assert client.server is not None and client.server.address == server.address
            session = await client.open_session(ttl=5.0)
            lock = await session.acquire("jobs/leader", wait=0)
            assert lock.fencing_token > 0


async def test_lock_context_manager_acquires_and_releases(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        session = await client.open_session(ttl=5.0)
        async with session.lock("jobs/42", wait=1.0) as lock:
            assert lock.key == "jobs/42"
            described = await client.describe("jobs/42")
            assert described.held and described.lock is not None
            assert described.lock.fencing_token == lock.fencing_token
            assert described.lock.session_id == session.id
            assert not lock.lost.is_set()
        assert (await client.describe("jobs/42")).held is False
        assert lock.lost.is_set()  # released: no longer held

        # Every way out releases: an exception in the block...
        with pytest.raises(RuntimeError):
            async with session.lock("jobs/42", wait=1.0):
                raise RuntimeError("work failed")
        assert (await client.describe("jobs/42")).held is False

        # ... and the cancellation of the task running it.
        entered = asyncio.Event()

        async def holder() -> None:
            async with session.lock("jobs/42", wait=1.0):
                entered.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(holder())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def released() -> bool:
            return not (await client.describe("jobs/42")).held

        await eventually(released, "the cancelled block's lock is released")


async def test_try_lock_raises_lock_held_with_the_holder(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        first = await client.open_session(ttl=5.0)
        second = await client.open_session(ttl=5.0)
        lock = await first.acquire("jobs/7", wait=0)
        with pytest.raises(leasehold.LockHeld) as raised:
            await second.acquire("jobs/7", wait=0)
        assert raised.value.code == "LOCK_HELD"
        assert isinstance(raised.value, leasehold.LeaseholdError)
        assert raised.value.holder is not None
        assert raised.value.holder.session_id == first.id
        assert raised.value.holder.fencing_token == lock.fencing_token

        # Asking again as the holder gives the same grant back (what makes retries safe).
        again = await first.acquire("jobs/7", wait=0)
        assert again is lock

        revision = await lock.release()
        assert revision > lock.fencing_token
        taken = await second.acquire("jobs/7", wait=0)
        assert taken.fencing_token > lock.fencing_token
        await taken.release()


async def test_waiting_acquire_is_granted_in_turn_or_times_out(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        first = await client.open_session(ttl=5.0)
        second = await client.open_session(ttl=5.0)
        lock = await first.acquire("jobs/queue", wait=0)
        with pytest.raises(leasehold.DeadlineExceeded) as raised:
            await second.acquire("jobs/queue", wait=0.2)
        assert raised.value.code == "DEADLINE_EXCEEDED" and not raised.value.no_answer

        waiting = asyncio.create_task(second.acquire("jobs/queue", wait=10.0))

        async def queued() -> bool:
            return (await client.describe("jobs/queue")).waiters == 1

        await eventually(queued, "the second session waits in the queue")
        described = await client.describe("jobs/queue")
        assert [waiter.session_id for waiter in described.queue] == [second.id]
        await lock.release()
        granted = await waiting
        assert granted.fencing_token > lock.fencing_token
        await granted.release()


async def test_cancelling_a_waiting_acquire_leaves_the_queue(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        holder = await client.open_session(ttl=5.0)
        waiter = await client.open_session(ttl=5.0)
        lock = await holder.acquire("jobs/cancel", wait=0)
        waiting = asyncio.create_task(waiter.acquire("jobs/cancel", wait=30.0))

        async def waiters(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return (await client.describe("jobs/cancel")).waiters == count

            return check

        await eventually(await waiters(1), "the waiter is queued")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await eventually(await waiters(0), "the cancelled waiter leaves the queue")

        # The lock is not handed to the session whose wait was cancelled.
        await lock.release()
        described = await client.describe("jobs/cancel")
        assert not described.held and described.waiters == 0
        assert waiter.locks == ()


async def test_list_validate_and_key_checks(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        session = await client.open_session(ttl=5.0)
        b = await session.acquire("list/b", wait=0)
        a = await session.acquire("list/a", wait=0)
        await session.acquire("other/c", wait=0)
        listing = await client.list("list/")
        assert [lock.key for lock in listing.locks] == ["list/a", "list/b"]
        assert listing.revision >= b.fencing_token
        assert len((await client.list()).locks) == 3
        assert len((await client.list("list/", limit=1)).locks) == 1

        valid = await client.validate("list/a", a.fencing_token)
        assert valid.valid and valid.lock is not None and valid.lock.key == "list/a"
        assert not (await client.validate("list/a", b.fencing_token)).valid

        # Keys are str; non-ASCII keys round-trip; NUL and lone surrogates are refused before sending.
        unicode_lock = await session.acquire("list/é✓", wait=0)
        assert (await client.describe("list/é✓")).lock == unicode_lock.info
        for bad in ("a\x00b", "bad\udc80", ""):
            with pytest.raises(leasehold.InvalidArgument):
                await session.acquire(bad, wait=0)
        assert await session.close() == 4


async def test_force_release_needs_admin(server: Server, tmp_path: Path) -> None:
    admin_token, user_token = "admin-secret", "user-secret"
    auth = {
        "tokens": [
            {"principal": "ops", "sha256": hashlib.sha256(admin_token.encode()).hexdigest(), "roles": ["admin"]},
            {"principal": "worker", "sha256": hashlib.sha256(user_token.encode()).hexdigest(), "roles": []},
        ]
    }
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps(auth))
    secured = Server(
        binary("LEASEHOLD_BIN", "leasehold"),
        ["--data", str(tmp_path / "secured.db"), "--auth-file", str(auth_file)],
        tmp_path,
        "secured",
    )
    secured.start()
    try:
        with pytest.raises(leasehold.Unauthenticated):
            await leasehold.connect(secured.address, token="wrong")
        async with (
            await leasehold.connect(secured.address, token=user_token) as worker,
            await leasehold.connect(secured.address, token=admin_token) as ops,
        ):
            session = await worker.open_session(ttl=5.0)
            assert session.owner == "worker"
            lock = await session.acquire("jobs/stuck", wait=0)
            with pytest.raises(leasehold.PermissionDenied):
                await worker.force_release("jobs/stuck", reason="not mine to end")
            released = await ops.force_release("jobs/stuck", reason="stuck job")
            assert released.released is not None and released.released.fencing_token == lock.fencing_token
            assert released.revision > lock.fencing_token
            assert not (await ops.describe("jobs/stuck")).held
            with pytest.raises(leasehold.NotFound):
                await ops.force_release("jobs/stuck", reason="again")
            with pytest.raises(leasehold.NotLockHolder) as raised:
                await lock.release()
            assert raised.value.code == "NOT_LOCK_HOLDER"
            assert lock.lost.is_set()
    finally:
        secured.stop()


async def test_session_calls_after_close_raise_session_expired(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        session = await client.open_session(ttl=5.0)
        await session.acquire("jobs/closed", wait=0)
        states = session.states()
        assert await anext(states) == "connected"
        assert await session.close() == 1
        with pytest.raises(StopAsyncIteration):
            await anext(states)  # the state stream ends with the session
        with pytest.raises(leasehold.SessionExpired):
            await session.acquire("jobs/closed", wait=0)
        assert not (await client.describe("jobs/closed")).held
        with pytest.raises(leasehold.InvalidArgument):
            await client.open_session(ttl=0.5)  # below the 1 s minimum


async def test_watch_delivers_events_in_order(server: Server) -> None:
    async with await leasehold.connect(server.address) as client:
        session = await client.open_session(ttl=5.0)
        lock = await session.acquire("watch/a", wait=0)
        await session.acquire("elsewhere/b", wait=0)
        await lock.release()
        async with client.watch("watch/", from_revision=1) as events:
            first = await anext(events)
            second = await anext(events)
        assert (first.type, first.key, first.fencing_token) == (leasehold.EventType.ACQUIRED, "watch/a", lock.fencing_token)
        assert (second.type, second.key) == (leasehold.EventType.RELEASED, "watch/a")
        assert second.revision > first.revision


async def test_watch_reader_that_falls_behind_its_buffer_resumes_without_gap(server: Server) -> None:
    """A stream buffer of 2 responses overflows while nobody reads: the stream is cancelled, not grown, and the watch
    picks up from the next revision when read again."""
    async with await leasehold.connect(server.address, stream_buffer=2) as client:
        session = await client.open_session(ttl=10.0)
        watch = client.watch("slow/", from_revision=1)
        lock = await session.acquire("slow/0", wait=0)
        first = await anext(watch)  # the stream is open and live
        await lock.release()
        for n in range(1, 15):
            lock = await session.acquire(f"slow/{n}", wait=0)
            await lock.release()
        seen = [first]
        while len(seen) < 30:
            seen.append(await anext(watch))
        await watch.aclose()
        assert [event.revision for event in seen] == list(range(first.revision, first.revision + 30))
        assert watch.restarts >= 1
