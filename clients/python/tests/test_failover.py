"""Several addresses: which one the client chooses (fake standbys in front of a real server), and a real failover
between two `leasehold serve` nodes on one PostgreSQL database, the active one killed with SIGKILL."""

from __future__ import annotations

import asyncio
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO, PostgresCluster, Server, binary, collect_states, eventually, free_port

import leasehold
from leasehold._proto import leasehold_pb2 as pb
from leasehold._wire import PROTOCOL_VERSION, Connection

# MARK: fake standbys


class FakeStandby:
    """Answers every `Hello` as a standby does: `UNAVAILABLE`, and `Status.leader` = `leader(n)` for the n-th Hello
    (counted from 1; an empty string names no leader). It answers nothing else."""

    def __init__(self, leader: Callable[[int], str]) -> None:
        self.leader = leader
        self.hellos = 0
        self.address = ""
        self._listener: asyncio.Server | None = None

    async def __aenter__(self) -> FakeStandby:
        self._listener = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self._listener.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._listener is not None
        self._listener.close()
        await self._listener.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            frame = pb.Frame.FromString(await reader.readexactly(length))
            assert frame.method == b"leasehold.v1.Leasehold/Hello"
            self.hellos += 1
            status = pb.Status(code=pb.UNAVAILABLE, message="standby", leader=self.leader(self.hellos))
            body = pb.Frame(call_id=frame.call_id, status=status).SerializeToString()
            writer.write(struct.pack(">I", len(body)) + body)
            await writer.drain()
        finally:
            writer.close()


async def test_connect_keeps_trying_while_no_node_is_active(server: Server) -> None:
    """A failover in progress: the standby knows no leader for its first answers, then names the new active."""
    async with FakeStandby(lambda n: server.address if n >= 4 else "") as standby:
        async with await leasehold.connect(standby.address, reconnect_backoff=(0.01, 0.05)) as client:
            assert standby.hellos == 4
            assert client.server is not None and client.server.address == server.address
            session = await client.open_session(ttl=5.0)
            assert (await session.acquire("jobs/after-failover", wait=0)).fencing_token > 0


async def test_connect_tries_every_address_then_follows_the_leader(server: Server) -> None:
    """A dead address, then a standby naming an address not in the list: the client ends at the active node."""
    dead = f"127.0.0.1:{free_port()}"
    async with FakeStandby(lambda n: server.address) as standby:
        async with await leasehold.connect([dead, standby.address], failover_timeout=0) as client:
            assert standby.hellos == 1
            assert client.server is not None and client.server.address == server.address


async def test_reconnects_start_with_the_address_that_worked(server: Server) -> None:
    async with FakeStandby(lambda n: "") as standby:
        async with await leasehold.connect([standby.address, server.address], failover_timeout=0) as client:
            assert standby.hellos == 1
            server.restart()  # SIGKILL and start again on the same port: the connection ends
            assert (await client.describe("jobs/1")).held is False
            assert standby.hellos == 1  # the reconnect went to the server first
            assert client.server is not None and client.server.address == server.address


async def test_a_node_that_never_answers_does_not_hold_up_the_others(server: Server) -> None:
    """A node that accepts TCP and says nothing (frozen, or cut off) is left trying while the next address is tried;
    once another node is chosen its attempt is stopped and its connection closed."""
    connections = 0
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()  # until the client closes its end
        closed.set()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    address = f"127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    async with listener:
        # Without the overlap the silent node alone would take the whole connect_timeout (30 s).
        async with asyncio.timeout(15):
            client = await leasehold.connect([address, server.address], connect_timeout=30.0, failover_timeout=0)
        async with client:
            assert client.server is not None and client.server.address == server.address
            assert connections == 1
            async with asyncio.timeout(10):
                await closed.wait()


async def test_connect_gives_up_after_the_failover_timeout() -> None:
    async with FakeStandby(lambda n: "") as standby:
        with pytest.raises(leasehold.Unavailable) as raised:
            await leasehold.connect(standby.address, failover_timeout=0)
        assert standby.hellos == 1  # 0: each address once
        assert "standby" in raised.value.message

        with pytest.raises(leasehold.Unavailable):
            await leasehold.connect(standby.address, failover_timeout=0.5, reconnect_backoff=(0.01, 0.05))
        assert standby.hellos > 2  # tried again, with a back-off, until the timeout


async def test_standbys_that_name_each_other_do_not_loop() -> None:
    addresses: list[str] = []
    async with FakeStandby(lambda n: addresses[1]) as first, FakeStandby(lambda n: addresses[0]) as second:
        addresses += [first.address, second.address]
        with pytest.raises(leasehold.Unavailable):
            await leasehold.connect(first.address, failover_timeout=0)
        assert (first.hellos, second.hellos) == (1, 1)


async def test_queries_wait_for_the_active_node(server: Server) -> None:
    """A query made while only a standby answers waits (with the back-off) until a node is active."""
    leader = {1: server.address}
    async with FakeStandby(lambda n: leader.get(n, server.address if n >= 4 else "")) as standby:
        async with await leasehold.connect(standby.address, reconnect_backoff=(0.01, 0.05)) as client:
            assert standby.hellos == 1
            server.restart()  # SIGKILL: the connection ends; the next call goes through the standby again
            assert (await client.describe("jobs/1")).held is False
            assert standby.hellos == 4
            assert client.server is not None and client.server.address == server.address


# MARK: two nodes on PostgreSQL


async def hello_refusal(address: str) -> leasehold.LeaseholdError | None:
    """What `Hello` at `address` answers: `None` when it succeeds (the node is active)."""
    host, port = address.rsplit(":", 1)
    try:
        connection = await Connection.open(
            host, int(port), hello=pb.HelloRequest(protocol_version=PROTOCOL_VERSION), tls=None, connect_timeout=5.0
        )
    except leasehold.LeaseholdError as error:
        return error
    await connection.close()
    return None


async def until_hello(
    node: Server, answered: Callable[[leasehold.LeaseholdError | None], bool], what: str, attempts: int
) -> None:
    """Says `Hello` to `node` every 100 ms, at most `attempts` times, until `answered` holds of what it answers."""
    refusal: leasehold.LeaseholdError | None = None

    async def check() -> bool:
        nonlocal refusal
        refusal = await hello_refusal(node.address)
        return answered(refusal)

    await eventually(check, lambda: f"{node.address} {what}: {refusal}", attempts=attempts, interval=0.1)


async def until_active(node: Server) -> None:
    """Waits (at most 300 × 100 ms) until `node` answers `Hello`."""
    await until_hello(node, lambda refusal: refusal is None, "active", attempts=300)


async def until_standby_of(node: Server, leader: Server) -> None:
    """Waits (at most 100 × 100 ms) until `node` refuses `Hello` naming `leader` (a standby learns the leader on its
    first takeover attempt)."""
    await until_hello(
        node,
        lambda refusal: isinstance(refusal, leasehold.Unavailable) and refusal.leader == leader.address,
        f"naming {leader.address} as leader",
        attempts=100,
    )


async def start_active_and_standby(a: Server, b: Server) -> None:
    """Starts `a` and waits until it is active, then `b` until it is `a`'s standby."""
    a.start()
    await until_active(a)
    b.start()
    await until_standby_of(b, a)


def resumed(states: list[str]) -> bool:
    """Whether a session went back to "connected" after "safe" (it was resumed after a jeopardy)."""
    return states[-1:] == ["connected"] and "safe" in states


@pytest.fixture
def nodes(postgres: PostgresCluster, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two `leasehold serve` nodes on one new database with a 1 s leader lease (not started); both are stopped by
    PID at teardown, however the test ended."""
    url = postgres.create_database()
    pair: list[Server] = []
    for name in ("a", "b"):
        node = Server(binary("LEASEHOLD_BIN", "leasehold"), [], tmp_path, name)
        node.arguments = ["--store", url, "--advertise", node.address, "--leader-lease", "1s"]
        pair.append(node)
    try:
        yield pair[0], pair[1]
    finally:
        for node in pair:
            node.kill()


async def test_session_lock_and_watch_survive_sigkill_of_the_active(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    await start_active_and_standby(a, b)

    backoff = (0.05, 0.2)
    async with (
        await leasehold.connect([a.address, b.address], reconnect_backoff=backoff) as client,
        await leasehold.connect([b.address, a.address], reconnect_backoff=backoff) as watcher,
        await leasehold.connect([b.address, a.address], reconnect_backoff=backoff) as other,
    ):
        # The watcher's first address is the standby: it follows Status.leader to the active.
        assert watcher.server is not None and watcher.server.address == a.address
        seen: list[leasehold.Event] = []
        watch = watcher.watch("jobs/", from_revision=1)

        async def consume(count: int) -> None:
            while len(seen) < count:
                seen.append(await anext(watch))

        session = await client.open_session(ttl=10.0)
        states: list[str] = []
        observer = asyncio.create_task(collect_states(session, states))
        for n in range(2):
            await (await session.acquire(f"jobs/before-{n}", wait=0)).release()
        lock = await session.acquire("jobs/held", wait=0)
        await consume(5)

        a.kill()  # SIGKILL: the standby takes over once the lease has run out on the database's clock

        # Made while nobody is active: both wait for the new active.
        held = await other.describe("jobs/held")
        assert held.lock is not None and held.lock.fencing_token == lock.fencing_token
        assert other.server is not None and other.server.address == b.address
        for n in range(2):
            await (await session.acquire(f"jobs/after-{n}", wait=0)).release()
        await consume(9)
        await watch.aclose()

        # The session went through jeopardy and was resumed in time on the new active, with its lock and token.
        await eventually(lambda: resumed(states), lambda: f"connected again after safe: {states}")
        assert states[:4] == ["connected", "jeopardy", "safe", "connected"], states
        assert session.state == "connected"
        assert client.server is not None and client.server.address == b.address
        assert not lock.lost.is_set()
        assert (await client.validate("jobs/held", lock.fencing_token)).valid
        assert await session.acquire("jobs/held", wait=0) is lock
        with pytest.raises(leasehold.LockHeld) as raised:
            await (await other.open_session(ttl=5.0)).acquire("jobs/held", wait=0)
        assert raised.value.holder is not None and raised.value.holder.fencing_token == lock.fencing_token

        # Every event once, in order, across the switch: no gap, no duplicate.
        revisions = [event.revision for event in seen]
        assert revisions == list(range(revisions[0], revisions[0] + 9)), revisions
        assert [event.key for event in seen] == [
            "jobs/before-0",
            "jobs/before-0",
            "jobs/before-1",
            "jobs/before-1",
            "jobs/held",
            "jobs/after-0",
            "jobs/after-0",
            "jobs/after-1",
            "jobs/after-1",
        ]
        assert seen[4].fencing_token == lock.fencing_token
        assert watcher.server is not None and watcher.server.address == b.address
        assert watch.restarts >= 1

        assert await lock.release() > lock.fencing_token
        await session.close()
        observer.cancel()


async def test_a_queued_acquire_is_sent_again_on_the_new_active(nodes: tuple[Server, Server]) -> None:
    """A wait in a key's queue lives in the active's memory: after the failover the client sends the Acquire again
    with what is left of its wait, and is granted once the holder releases."""
    a, b = nodes
    await start_active_and_standby(a, b)

    backoff = (0.05, 0.2)
    async with (
        await leasehold.connect([a.address, b.address], reconnect_backoff=backoff) as first,
        await leasehold.connect([a.address, b.address], reconnect_backoff=backoff) as second,
    ):
        holder = await first.open_session(ttl=10.0)
        held = await holder.acquire("jobs/queue", wait=0)
        waiter = await second.open_session(ttl=10.0)
        waiting = asyncio.create_task(waiter.acquire("jobs/queue", wait=30.0))

        async def queued() -> bool:
            return (await first.describe("jobs/queue")).waiters == 1

        await eventually(queued, "the waiter is queued")  # at most 5 s
        a.kill()
        await eventually(queued, "the Acquire is queued again on the new active", attempts=400)  # at most 10 s
        described = await first.describe("jobs/queue")
        assert described.lock is not None and described.lock.fencing_token == held.fencing_token
        assert [queued.session_id for queued in described.queue] == [waiter.id]
        assert not waiting.done()

        await held.release()
        granted = await asyncio.wait_for(waiting, 20)
        assert granted.fencing_token > held.fencing_token
        assert (await first.validate("jobs/queue", granted.fencing_token)).valid
        assert first.server is not None and first.server.address == b.address


async def test_session_moves_to_the_new_active_while_the_old_one_is_frozen(nodes: tuple[Server, Server]) -> None:
    """SIGSTOP, not SIGKILL: the old active's port still accepts TCP but answers nothing. The keepalive times out, the
    reconnect leaves the frozen node trying and reaches the new active, and the session resumes there in time."""
    a, b = nodes
    await start_active_and_standby(a, b)

    # Tried in turn, the frozen node alone would take connect_timeout, past the session's deadline.
    async with await leasehold.connect([a.address, b.address], connect_timeout=20.0) as client:
        session = await client.open_session(ttl=20.0)
        lock = await session.acquire("jobs/frozen", wait=0)
        states: list[str] = []
        observer = asyncio.create_task(collect_states(session, states))
        a.freeze()
        try:
            await eventually(lambda: resumed(states), lambda: f"connected again after safe: {states}", attempts=1600)
            assert states[:4] == ["connected", "jeopardy", "safe", "connected"], states
            assert client.server is not None and client.server.address == b.address
            assert not lock.lost.is_set()
            assert (await client.validate("jobs/frozen", lock.fencing_token)).valid
        finally:
            a.thaw()
        # Awake, the old active knows its lease is gone: it serves nothing and names the new active.
        await until_standby_of(a, b)
        assert await lock.release() > lock.fencing_token
        await session.close()
        observer.cancel()


async def test_a_watch_alone_leaves_a_frozen_active(nodes: tuple[Server, Server]) -> None:
    """A client with only a watch sends nothing a frozen node could fail to answer: its silence check finds the node
    unresponsive, and the watch resumes on the new active with no gap and no duplicate."""
    a, b = nodes
    await start_active_and_standby(a, b)

    async with (
        await leasehold.connect([a.address, b.address], call_timeout=2.0, connect_timeout=2.0) as watcher,
        await leasehold.connect([b.address, a.address], call_timeout=3.0) as writer,
    ):
        seen: list[leasehold.Event] = []
        watch = watcher.watch("jobs/", from_revision=1)
        session = await writer.open_session(ttl=10.0)
        await (await session.acquire("jobs/before", wait=0)).release()
        seen += [await anext(watch), await anext(watch)]
        await session.close()

        a.freeze()
        try:
            session = await writer.open_session(ttl=10.0)  # the writer reconnects to the new active
            assert writer.server is not None and writer.server.address == b.address
            await (await session.acquire("jobs/after", wait=0)).release()
            async with asyncio.timeout(30):  # the silence check takes about call_timeout, 2 s
                seen += [await anext(watch), await anext(watch)]
        finally:
            a.thaw()
        await watch.aclose()
        assert [event.key for event in seen] == ["jobs/before", "jobs/before", "jobs/after", "jobs/after"]
        assert [event.revision for event in seen] == list(range(seen[0].revision, seen[0].revision + 4))
        assert watch.restarts >= 1


async def test_session_expires_when_no_node_takes_over_in_time(nodes: tuple[Server, Server]) -> None:
    """Both nodes gone: the rounds over the addresses keep failing, the locks are given up before the session's local
    deadline, and the session turns expired there, as with one server that stays down."""
    a, b = nodes
    await start_active_and_standby(a, b)

    async with await leasehold.connect([a.address, b.address], reconnect_backoff=(0.05, 0.2)) as client:
        session = await client.open_session(ttl=2.0)
        lock = await session.acquire("jobs/lost", wait=0)
        states: list[str] = []
        observer = asyncio.create_task(collect_states(session, states))
        b.kill()
        a.kill()
        await observer  # ends with "expired"
        assert states[0] == "connected" and "jeopardy" in states and states[-1] == "expired", states
        assert "safe" not in states
        assert lock.lost.is_set()
        assert asyncio.get_running_loop().time() >= session.confirmed_until
        with pytest.raises(leasehold.SessionExpired):
            await session.acquire("jobs/lost", wait=0)


async def test_work_queue_workers_carry_on_through_a_failover(nodes: tuple[Server, Server], tmp_path: Path) -> None:
    """The work-queue example with both addresses: the active is killed mid-item, and every item is still done
    exactly once, the workers finishing on the new active."""
    a, b = nodes
    await start_active_and_standby(a, b)

    items = [f"item-{n}" for n in range(6)]
    done = tmp_path / "done"
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(REPO / "clients" / "python" / "examples" / "work_queue.py"),
            "--server",
            f"{a.address},{b.address}",
            "--items",
            ",".join(items),
            "--done",
            str(done),
            "--ttl",
            "10",
            "--work",
            "0.3",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    assert workers[0].stdout is not None
    first = (await asyncio.wait_for(workers[0].stdout.readline(), 20)).decode().split()
    assert first[0] == "start", first
    a.kill()  # mid-item: the worker holds the lock and has not recorded the item

    outputs = [await asyncio.wait_for(worker.communicate(), 40) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr.decode()
    lines = [line.split() for stdout, _ in outputs for line in stdout.decode().splitlines()]
    finished = [line for line in lines if line[0] == "done"]
    assert sorted(line[1] for line in finished) == sorted(items)
    assert sorted(path.name for path in done.iterdir()) == sorted(items)
    # The item in progress at the kill was finished by its worker, under the grant it had before the failover.
    mine = [line for line in finished if line[1] == first[1]]
    assert len(mine) == 1 and mine[0][2] == first[2] and mine[0][3] == first[3], mine
    assert await hello_refusal(b.address) is None
