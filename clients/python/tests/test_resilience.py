"""Sessions and watches through server restarts, a server that stays down, and a frozen server (SIGSTOP)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Server, collect_states

import leasehold

#: How late after its local deadline a session may turn expired: the timer's scheduling on a loaded machine.
EXPIRY_SLACK = 1.0


async def wait_for_state(states: list[str], wanted: str, attempts: int = 400) -> None:
    """Waits (at most `attempts` × 25 ms) until `wanted` has been seen."""
    for _ in range(attempts):
        if wanted in states:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never {wanted}: saw {states}")


async def test_session_resumes_through_a_restart_within_the_ttl(server: Server) -> None:
    async with await leasehold.connect(server.address, reconnect_backoff=(0.05, 0.2)) as client:
        session = await client.open_session(ttl=6.0)
        lock = await session.acquire("jobs/restart", wait=0)
        states: list[str] = []
        watcher = asyncio.create_task(collect_states(session, states))
        await wait_for_state(states, "connected")

        server.kill()  # a crash: nothing is closed cleanly
        await wait_for_state(states, "jeopardy")
        server.start()
        await wait_for_state(states, "safe")
        for _ in range(400):  # "connected" follows "safe"
            if len(states) >= 4:
                break
            await asyncio.sleep(0.025)

        assert states[:4] == ["connected", "jeopardy", "safe", "connected"], states
        assert session.state == "connected"
        assert not lock.lost.is_set()
        # The lock survived the restart, with its token, and this session can still release it.
        assert (await client.validate("jobs/restart", lock.fencing_token)).valid
        assert await session.acquire("jobs/restart", wait=0) is lock  # an idempotent retry after the reconnect
        revision = await lock.release()
        assert revision > lock.fencing_token
        assert not (await client.describe("jobs/restart")).held
        await session.close()
        await watcher
        assert states[-1] == "connected"


async def test_session_expires_when_the_server_stays_down(server: Server) -> None:
    async with await leasehold.connect(server.address, reconnect_backoff=(0.05, 0.2)) as client:
        session = await client.open_session(ttl=2.0)
        lock = await session.acquire("jobs/down", wait=0)
        states: list[str] = []
        watcher = asyncio.create_task(collect_states(session, states))
        loop = asyncio.get_running_loop()
        lost_at: list[float] = []

        async def note_lost() -> None:
            await lock.lost.wait()
            lost_at.append(loop.time())

        lost_watcher = asyncio.create_task(note_lost())
        server.kill()
        await watcher  # ends with "expired"
        expired_at = loop.time()
        deadline = session.confirmed_until

        assert states[0] == "connected" and "jeopardy" in states and states[-1] == "expired", states
        assert deadline <= expired_at <= deadline + EXPIRY_SLACK
        await lost_watcher
        assert lost_at[0] <= deadline - session.lost_margin + EXPIRY_SLACK / 2
        assert lost_at[0] < expired_at
        with pytest.raises(leasehold.SessionExpired):
            await session.acquire("jobs/down", wait=0)


async def test_frozen_server_expires_the_session_at_the_local_deadline(server: Server) -> None:
    """A server stopped with SIGSTOP accepts TCP but answers nothing: only the local deadline can end the session."""
    async with await leasehold.connect(server.address, connect_timeout=10.0) as client:
        session = await client.open_session(ttl=1.5)
        lock = await session.acquire("jobs/frozen", wait=0)
        states: list[str] = []
        watcher = asyncio.create_task(collect_states(session, states))
        loop = asyncio.get_running_loop()
        lost_at: list[float] = []

        async def note_lost() -> None:
            await lock.lost.wait()
            lost_at.append(loop.time())

        lost_watcher = asyncio.create_task(note_lost())
        await wait_for_state(states, "connected")
        server.freeze()
        try:
            await watcher
            expired_at = loop.time()
        finally:
            server.thaw()
        deadline = session.confirmed_until
        assert states[-1] == "expired", states
        # The keepalive, reconnect and Hello all hang on the frozen server (connect_timeout is 10 s): the session
        # still turns expired at its deadline, and the lock was given up before it.
        assert deadline <= expired_at <= deadline + EXPIRY_SLACK
        await lost_watcher
        assert lost_at[0] < deadline
        assert lock.lost.is_set()


async def test_watch_resumes_across_restarts_without_gap_or_duplicate(server: Server) -> None:
    async with await leasehold.connect(server.address, reconnect_backoff=(0.05, 0.2)) as client:
        seen: list[leasehold.Event] = []
        watch = client.watch("resume/", from_revision=1)

        async def consume(count: int) -> None:
            while len(seen) < count:
                seen.append(await anext(watch))

        session = await client.open_session(ttl=10.0)
        for n in range(3):
            lock = await session.acquire(f"resume/{n}", wait=0)
            await lock.release()
        await consume(6)

        server.kill()
        server.start()
        # More events after the restart, some made before the watch reconnects.
        session = await client.open_session(ttl=10.0)
        for n in range(3, 6):
            lock = await session.acquire(f"resume/{n}", wait=0)
            await lock.release()
        await consume(12)

        server.kill()
        server.start()
        session = await client.open_session(ttl=10.0)
        lock = await session.acquire("resume/last", wait=0)
        await consume(13)
        await watch.aclose()

        revisions = [event.revision for event in seen]
        assert revisions == list(range(revisions[0], revisions[0] + 13)), revisions
        assert [event.key for event in seen[:2]] == ["resume/0", "resume/0"]
        assert seen[-1].key == "resume/last" and seen[-1].fencing_token == lock.fencing_token
        assert watch.next_revision == revisions[-1] + 1
