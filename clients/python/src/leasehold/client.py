"""``connect`` and ``Client``: one reconnecting connection for sessions, queries and watches."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.message import Message

from . import errors
from ._codec import format_address, key_to_wire, milliseconds, parse_address, text_from_wire, text_to_wire
from ._proto import leasehold_pb2 as pb
from ._wire import DEFAULT_STREAM_BUFFER, PROTOCOL_VERSION, Connection, Stream
from .types import Description, Event, ForceReleased, Listing, LockInfo, ServerInfo, Validation, Waiter

if TYPE_CHECKING:
    from .session import Session

__all__ = ["TLS", "Client", "Watch", "connect"]

M = TypeVar("M", bound=Message)

SERVICE = "leasehold.v1.Leasehold/"

#: Leader redirections followed within one connection attempt, so that two standbys naming each other cannot loop.
_MAX_LEADER_HOPS = 4


@dataclass(frozen=True, slots=True)
class TLS:
    """TLS settings: the CA that signed the server's certificate, and a client certificate to present.

    ``leasehold.connect(address, tls=TLS(ca_file="ca.pem"))``; pass an ``ssl.SSLContext`` instead for full control.
    """

    #: PEM file of the CA to verify the server with; ``None`` uses the system's trust store.
    ca_file: str | None = None
    #: PEM file of a client certificate, for servers that require one.
    cert_file: str | None = None
    #: PEM file of the client certificate's key (``None``: it is in ``cert_file``).
    key_file: str | None = None
    #: The name to verify the server's certificate against; ``None`` uses the host of each address.
    server_hostname: str | None = None

    def context(self) -> ssl.SSLContext:
        """A client context for TLS 1.2 or later with these files loaded."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def is_connectivity(error: BaseException) -> bool:
    """Whether an error says only that the server could not be reached or did not answer: worth retrying."""
    if isinstance(error, errors.Unavailable):
        return True
    return isinstance(error, errors.DeadlineExceeded) and error.no_answer


class _AddressRound:
    """The order of one connection round: every address once, starting from the one that last worked, and an address
    named by a standby's refusal (``Status.leader``) next, ahead of the rest. At most ``_MAX_LEADER_HOPS`` hints are
    followed per round and no address is tried twice, so standbys that name each other cannot make a loop.

    Pure: it opens nothing; ``Client._connect_any`` asks it what to try and tells it what a refusal said.
    """

    def __init__(self, addresses: Sequence[tuple[str, int]], preferred: int) -> None:
        count = len(addresses)
        self._queue: collections.deque[tuple[str, int]] = collections.deque(
            addresses[(preferred + i) % count] for i in range(count)
        )
        self._tried: set[tuple[str, int]] = set()
        self._hops = 0

    def next(self) -> tuple[str, int] | None:
        """The next address to try, or ``None`` when the round has tried them all."""
        while self._queue:
            address = self._queue.popleft()
            if address not in self._tried:
                self._tried.add(address)
                return address
        return None

    @property
    def exhausted(self) -> bool:
        """Whether ``next()`` would return ``None``."""
        return all(address in self._tried for address in self._queue)

    def refused(self, leader: str) -> None:
        """A node refused ``Hello``; ``leader`` is the ``HOST:PORT`` it named as active (empty: none)."""
        if not leader or self._hops >= _MAX_LEADER_HOPS:
            return
        try:
            address = parse_address(leader)
        except errors.InvalidArgument:
            return
        self._hops += 1
        if address not in self._tried:
            self._queue.appendleft(address)


class _Backoff:
    """Doubling pauses up to ``maximum``, each drawn between half its step and the step ("equal jitter"), so that
    clients cut off by one failover spread their attempts."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self._initial = initial
        self._maximum = maximum
        self._current = initial
        self._rng = rng or random.Random()

    def next(self) -> float:
        step = self._current
        self._current = min(self._current * 2, self._maximum)
        return step / 2 + self._rng.uniform(0, step / 2)

    def reset(self) -> None:
        self._current = self._initial


async def connect(
    address: str | Sequence[str] = "127.0.0.1:7420",
    *,
    token: str | None = None,
    tls: TLS | ssl.SSLContext | bool | None = None,
    client_name: str = "leasehold-python",
    connect_timeout: float = 5.0,
    call_timeout: float = 10.0,
    reconnect_backoff: tuple[float, float] = (0.05, 0.5),
    failover_timeout: float = 10.0,
    stream_buffer: int = DEFAULT_STREAM_BUFFER,
) -> Client:
    """Connects to a Leasehold server and says ``Hello``.

    Args:
        address: ``HOST:PORT`` (``[::1]:7420`` for IPv6), a comma-separated list of them, or a sequence. With several,
            they are tried in turn, and a standby's answer naming the active node is followed.
        token: The bearer token for a server with an auth file.
        tls: ``None`` for plaintext; ``True`` for TLS with the system's trust store; a ``TLS`` with a CA file and a
            client certificate; or an ``ssl.SSLContext``.
        client_name: A name for the server's logs.
        connect_timeout: Seconds for TCP, TLS and ``Hello`` on one address. With several addresses, one that has not
            answered after a quarter of it (at most 1 s) keeps trying while the next one starts.
        call_timeout: The deadline of calls that do not wait for a lock, in seconds.
        reconnect_backoff: The first and the longest step between reconnection attempts, in seconds (each pause is
            drawn between half the step and the step).
        failover_timeout: How long, in seconds, ``connect``, queries, ``open_session`` and session calls keep trying
            the addresses (in turn, pausing by ``reconnect_backoff`` between rounds) while none answers as the active
            node: a failover or a restart in progress. 0 tries each address once.
        stream_buffer: Watch responses buffered for a consumer that does not keep up; past it the stream is cancelled
            and the watch resumes by revision when the consumer reads again.

    Returns:
        A connected client; use ``async with`` or ``await client.close()``.

    Raises:
        Unavailable: no address answered as the active node within ``failover_timeout``.
        Unauthenticated: the token was refused.
    """
    client = Client(
        address,
        token=token,
        tls=tls,
        client_name=client_name,
        connect_timeout=connect_timeout,
        call_timeout=call_timeout,
        reconnect_backoff=reconnect_backoff,
        failover_timeout=failover_timeout,
        stream_buffer=stream_buffer,
    )
    try:
        await client._connection(wait=True)
    except BaseException:
        await client.close()
        raise
    return client


class Client:
    """A client of a Leasehold server: sessions, queries and watches over one connection that reconnects as needed.

    Made by ``leasehold.connect``. Every method is a coroutine for the event loop the client was made on; the client
    runs no thread.
    """

    def __init__(
        self,
        address: str | Sequence[str],
        *,
        token: str | None = None,
        tls: TLS | ssl.SSLContext | bool | None = None,
        client_name: str = "leasehold-python",
        connect_timeout: float = 5.0,
        call_timeout: float = 10.0,
        reconnect_backoff: tuple[float, float] = (0.05, 0.5),
        failover_timeout: float = 10.0,
        stream_buffer: int = DEFAULT_STREAM_BUFFER,
    ) -> None:
        texts = address.split(",") if isinstance(address, str) else list(address)
        self._addresses = [parse_address(text) for text in texts if text.strip()]
        if not self._addresses:
            raise errors.InvalidArgument("no server address")
        self._token = token or ""
        self._server_hostname: str | None = None
        if tls is None or tls is False:
            self._tls: ssl.SSLContext | None = None
        elif tls is True:
            self._tls = TLS().context()
        elif isinstance(tls, TLS):
            self._tls = tls.context()
            self._server_hostname = tls.server_hostname
        else:
            self._tls = tls
        self._client_name = client_name
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.reconnect_backoff = reconnect_backoff
        self.failover_timeout = failover_timeout
        #: Seconds without an answer after which the next address is tried alongside.
        self._stagger = min(connect_timeout / 4, 1.0)
        self._stream_buffer = stream_buffer
        self._current: Connection | None = None
        self._connecting: asyncio.Task[Connection] | None = None
        self._preferred = 0
        self._closed = False
        self._sessions: set[Session] = set()

    # MARK: lifecycle

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the open sessions (releasing their locks; all at once, within ``call_timeout``), then the connection.

        Safe to call twice.
        """
        if self._closed:
            return

        async def close_session(session: Session) -> None:
            # Bounded: with the server gone, a session is left to expire there rather than hold up the close.
            with contextlib.suppress(errors.LeaseholdError, TimeoutError):
                async with asyncio.timeout(self.call_timeout):
                    await session.close()

        await asyncio.gather(*(close_session(session) for session in list(self._sessions)))
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
            self._connecting = None
        current, self._current = self._current, None
        if current is not None:
            await current.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def server(self) -> ServerInfo | None:
        """The server's ``Hello`` answer on the current connection, ``None`` while disconnected."""
        current = self._current
        if current is None or current.closed:
            return None
        hello = current.hello
        return ServerInfo(
            server_version=hello.server_version,
            server_id=hello.server_id,
            protocol_version=hello.protocol_version,
            max_frame_bytes=hello.max_frame_bytes,
            principal=hello.principal,
            roles=tuple(hello.roles),
            address=current.address,
        )

    # MARK: sessions

    async def open_session(self, ttl: float = 10.0, *, name: str = "", lost_margin: float | None = None) -> Session:
        """Opens a session that keeps itself alive (a keepalive every TTL/3), reconnects and resumes.

        Args:
            ttl: Seconds the session outlives its last keepalive (1 to 300).
            name: A name for the server's logs.
            lost_margin: How long before the session's local deadline its locks' ``lost`` events are set; the
                default is a tenth of the TTL, from 0.2 s to 5 s.

        Raises:
            InvalidArgument: the TTL is out of range.
            ResourceExhausted: the server's session limit.
            Unavailable: no server could be reached.
        """
        from .session import Session

        request = pb.OpenSessionRequest(ttl_ms=milliseconds(ttl, "ttl"), name=text_to_wire(name))
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            connection = await self._connection(wait=True)
            sent_at = loop.time()
            try:
                info = await connection.unary(
                    SERVICE + "OpenSession", request, pb.SessionInfo, timeout=self.call_timeout
                )
                break
            except errors.LeaseholdError as error:
                # Sent again once on a new connection: if the lost one had opened a session, that session holds
                # nothing and expires after its TTL.
                if attempt == 1 or not is_connectivity(error):
                    raise
                await self._discard(connection)
        session = Session(self, info, connection, sent_at, lost_margin)
        self._sessions.add(session)
        return session

    # MARK: queries

    async def describe(self, key: str) -> Description:
        """The key's holder and FIFO queue (``held`` is false for a free key)."""
        response = await self._call(SERVICE + "Describe", pb.DescribeRequest(key=key_to_wire(key)), pb.DescribeResponse)
        return Description(
            held=response.held,
            lock=LockInfo._from_wire(response.lock) if response.HasField("lock") else None,
            waiters=response.waiters,
            queue=tuple(
                Waiter(session_id=w.session_id, owner=text_from_wire(w.owner), waiting_since_ms=w.waiting_since_ms)
                for w in response.queue
            ),
            revision=response.revision,
        )

    async def validate(self, key: str, fencing_token: int) -> Validation:
        """Whether ``fencing_token`` is the key's current grant."""
        request = pb.ValidateRequest(key=key_to_wire(key), fencing_token=fencing_token)
        response = await self._call(SERVICE + "Validate", request, pb.ValidateResponse)
        return Validation(
            valid=response.valid,
            lock=LockInfo._from_wire(response.lock) if response.HasField("lock") else None,
            revision=response.revision,
        )

    async def list(self, prefix: str = "", *, limit: int = 0) -> Listing:
        """Held locks whose key starts with ``prefix`` (a byte prefix; empty lists all), sorted by key.

        ``limit`` caps the count; 0 is no limit.
        """
        request = pb.ListRequest(prefix=key_to_wire(prefix, "prefix", allow_empty=True), limit=limit)
        response = await self._call(SERVICE + "List", request, pb.ListResponse)
        return Listing(locks=tuple(LockInfo._from_wire(lock) for lock in response.locks), revision=response.revision)

    async def force_release(self, key: str, reason: str) -> ForceReleased:
        """Ends the current hold of ``key``, whoever holds it. Needs a token with the role ``admin``.

        Raises:
            PermissionDenied: the principal is not ``admin``.
            NotFound: the key is not held.
        """
        request = pb.ForceReleaseRequest(key=key_to_wire(key), reason=text_to_wire(reason))
        # Sent once: a second try after a lost answer could release the next holder, granted meanwhile.
        response = await self._call(SERVICE + "ForceRelease", request, pb.ForceReleaseResponse, retry=False)
        return ForceReleased(
            released=LockInfo._from_wire(response.released) if response.HasField("released") else None,
            revision=response.revision,
        )

    def watch(self, prefix: str = "", *, from_revision: int = 0) -> Watch:
        """Events on keys starting with ``prefix``, in revision order, each exactly once across reconnects.

        ``from_revision`` is the first revision wanted (inclusive); 0 means events from now on. Iterate with
        ``async for``; ``await watch.aclose()`` (or ``async with``) stops it. Iteration raises ``Compacted`` when the
        server no longer keeps ``from_revision``.
        """
        return Watch(self, key_to_wire(prefix, "prefix", allow_empty=True), from_revision)

    # MARK: internals

    async def _call(self, method: str, request: Message, response_type: type[M], *, retry: bool = True) -> M:
        """A call that needs no session; with ``retry`` (for calls that change nothing: the queries) sent again once
        on a new connection if the connection was lost."""
        connection = await self._connection(wait=True)
        try:
            return await connection.unary(method, request, response_type, timeout=self.call_timeout)
        except errors.LeaseholdError as error:
            if not retry or not is_connectivity(error):
                raise
            await self._discard(connection)
        connection = await self._connection(wait=True)
        return await connection.unary(method, request, response_type, timeout=self.call_timeout)

    async def _connection(self, *, wait: bool = False) -> Connection:
        """The current connection, reconnecting if it has ended.

        One round tries every address in turn (shared by all callers); with ``wait``, rounds that find no active node
        are repeated with the reconnect back-off for up to ``failover_timeout`` seconds. The keepalives and watches
        make one round at a time, as they have their own back-off and report each failure.
        """
        if not wait:
            return await self._connect_round()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.failover_timeout
        backoff = _Backoff(*self.reconnect_backoff)
        while True:
            try:
                return await self._connect_round()
            except errors.Unavailable:
                delay = backoff.next()
                if self._closed or loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)

    async def _connect_round(self) -> Connection:
        if self._closed:
            raise errors.Unavailable("the client is closed")
        current = self._current
        if current is not None and not current.closed:
            return current
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect_any(), name="leasehold-connect")
        task = self._connecting
        try:
            # Shielded: one caller's cancellation must not cancel the attempt the others wait for.
            connection = await asyncio.shield(task)
        finally:
            if task.done() and self._connecting is task:
                self._connecting = None
                if not task.cancelled() and task.exception() is None:
                    self._current = task.result()
        if self._closed:
            await connection.close()
            raise errors.Unavailable("the client is closed")
        return connection

    async def _discard(self, connection: Connection) -> None:
        """Drops ``connection`` if it is current, so that the next call reconnects (its server may be frozen)."""
        if self._current is connection:
            self._current = None
        await connection.close()

    async def _connect_any(self) -> Connection:
        """One round over the addresses, from the last one that worked, following standbys' leader hints.

        Addresses are tried one at a time, except that one that has not answered after ``_stagger`` seconds (a frozen
        node, or one whose machine is gone, takes ``connect_timeout`` to fail) keeps trying while the next starts: the
        first node to accept ``Hello`` is chosen, and the other attempts are stopped.
        """
        plan = _AddressRound(self._addresses, self._preferred)
        problems: list[str] = []
        hello = pb.HelloRequest(
            protocol_version=PROTOCOL_VERSION,
            client_name=text_to_wire(self._client_name, "client name"),
            token=text_to_wire(self._token, "token"),
        )

        async def attempt(host: str, port: int) -> Connection:
            return await Connection.open(
                host,
                port,
                hello=hello,
                tls=self._tls,
                server_hostname=self._server_hostname,
                connect_timeout=self.connect_timeout,
                stream_buffer=self._stream_buffer,
            )

        loop = asyncio.get_running_loop()
        attempts: dict[asyncio.Task[Connection], tuple[str, int]] = {}
        chosen: Connection | None = None
        try:
            while chosen is None and (attempts or not plan.exhausted):
                address = plan.next()
                if address is not None:
                    attempts[loop.create_task(attempt(*address))] = address
                if not attempts:
                    continue
                done, _ = await asyncio.wait(
                    attempts, timeout=None if plan.exhausted else self._stagger, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    address = attempts.pop(task)
                    error = task.exception()
                    if error is None:
                        if chosen is None:
                            chosen = task.result()
                            if address in self._addresses:
                                self._preferred = self._addresses.index(address)
                        else:
                            await task.result().close()
                        continue
                    if not isinstance(error, errors.Unavailable):
                        if chosen is None:
                            raise error  # UNAUTHENTICATED, UNSUPPORTED_PROTOCOL: the same on every node
                        continue
                    problems.append(error.message)
                    plan.refused(error.leader)
        finally:
            for task in attempts:
                task.cancel()
            for task in attempts:
                with contextlib.suppress(BaseException):
                    await (await task).close()  # an attempt that won the race with its cancellation
        if chosen is None:
            raise errors.Unavailable("no server reachable: " + "; ".join(problems))
        return chosen


class Watch:
    """An ``async for`` stream of ``Event``s that resumes by revision after reconnects: no gap, no duplicate.

    A stream that stays silent for half the client's ``call_timeout`` is checked with a small query on its connection:
    a server that does not answer it (frozen, or its machine gone, which closes nothing) is left, and the watch
    resumes on the next node.
    """

    def __init__(self, client: Client, prefix: bytes, from_revision: int) -> None:
        self._client = client
        self._prefix = prefix
        self._next = from_revision
        self._stream: Stream[pb.WatchResponse] | None = None
        self._connection: Connection | None = None
        #: The read of the stream's next item, kept across a silence check and a cancelled ``anext``.
        self._reading: asyncio.Future[pb.WatchResponse | None] | None = None
        self._pending: collections.deque[Event] = collections.deque()
        self._done = False
        self._backoff = _Backoff(*client.reconnect_backoff)
        #: How many times the watch has opened a new stream after losing one (a lost connection, a full buffer).
        self.restarts = 0
        self._opened = False

    @property
    def next_revision(self) -> int:
        """The revision the watch would resume from: one past the last event delivered (0 before the first)."""
        return self._next

    def __aiter__(self) -> Watch:
        return self

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stops the watch (the server is sent CANCEL)."""
        self._done = True
        self._pending.clear()
        self._drop_stream()

    def _drop_stream(self) -> None:
        reading, self._reading = self._reading, None
        if reading is not None:
            if reading.done() and not reading.cancelled():
                reading.exception()  # seen: the stream's end is handled here, not left to the garbage collector
            reading.cancel()
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        self._connection = None

    async def _read(self) -> pb.WatchResponse | None:
        """The stream's next item; during a silence, checks now and then that its server still answers."""
        assert self._stream is not None and self._connection is not None
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._stream.next())
        reading = self._reading
        while True:
            done, _ = await asyncio.wait({reading}, timeout=self._client.call_timeout / 2)
            if done:
                self._reading = None
                return reading.result()
            connection = self._connection
            try:
                probe = pb.ListRequest(prefix=self._prefix, limit=1)
                await connection.unary(SERVICE + "List", probe, pb.ListResponse, timeout=self._client.call_timeout / 2)
            except errors.DeadlineExceeded as error:
                if error.no_answer:
                    await self._client._discard(connection)  # ends the stream: the watch resumes elsewhere
            except errors.LeaseholdError:
                pass  # an answer; or the connection has ended, which the stream reports

    async def __anext__(self) -> Event:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._done:
                raise StopAsyncIteration
            try:
                if self._stream is None:
                    if self._opened:
                        self.restarts += 1
                    self._opened = True
                    connection = await self._client._connection()
                    request = pb.WatchRequest(prefix=self._prefix, start_revision=self._next)
                    self._stream = connection.stream(SERVICE + "Watch", request, pb.WatchResponse)
                    self._connection = connection
                response = await self._read()
            except (errors.Unavailable, errors.DeadlineExceeded, errors.ResourceExhausted) as error:
                # Lost connection, or a reader that fell behind: resume from the next revision on a new stream.
                self._drop_stream()
                if self._client.closed or (isinstance(error, errors.DeadlineExceeded) and not error.no_answer):
                    self._done = True
                    raise
                await asyncio.sleep(self._backoff.next())
                continue
            except errors.LeaseholdError:
                self._done = True
                self._stream = None
                raise
            if response is None:
                self._done = True
                self._stream = None
                raise StopAsyncIteration
            self._backoff.reset()
            if not response.events:
                if self._next == 0:
                    self._next = response.revision + 1  # caught up, as of this revision: resume after it
                continue
            for message in response.events:
                if message.revision >= self._next:
                    self._pending.append(Event._from_wire(message))
                    self._next = message.revision + 1
