"""``Session`` and ``Lock``: a lease that keeps itself alive, and the locks it holds."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeVar

from google.protobuf.message import Message

from . import errors
from ._codec import key_to_wire, milliseconds, text_from_wire
from ._proto import leasehold_pb2 as pb
from ._wire import Connection
from .client import SERVICE, _Backoff, is_connectivity
from .types import LockInfo

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Session", "SessionState", "Lock"]

#: How sure a session is of its locks: ``"connected"`` (keepalives succeed); ``"jeopardy"`` (keepalives fail: the
#: locks may be lost soon); ``"safe"`` (resumed in time after a jeopardy, nothing was lost; ``"connected"`` follows);
#: ``"expired"`` (the session and its locks are gone; final).
SessionState = Literal["connected", "jeopardy", "safe", "expired"]

T = TypeVar("T")
M = TypeVar("M", bound=Message)

#: State changes kept for an observer that does not read them (the oldest are dropped past this).
_OBSERVER_BUFFER = 64


class _Observer:
    def __init__(self, first: SessionState) -> None:
        self.items: collections.deque[SessionState] = collections.deque([first], maxlen=_OBSERVER_BUFFER)
        self.finished = False
        self.wakeup = asyncio.Event()

    def push(self, state: SessionState) -> None:
        self.items.append(state)
        self.wakeup.set()

    def finish(self) -> None:
        self.finished = True
        self.wakeup.set()


class Session:
    """A session with the server: it keeps itself alive, reconnects and resumes, and says how sure it is of its locks.

    Made by ``client.open_session()``. The keepalives run in an asyncio task on the client's loop (no thread): one
    every TTL/3. The session's local deadline, ``confirmed_until``, is the send time of the last acknowledged
    keepalive (or open, or resume) plus the TTL: the server cannot expire the session before it. The session turns
    ``"expired"`` at that deadline at the latest, even while the server does not answer at all, and sets every lock's
    ``lost`` event ``lost_margin`` seconds before it.
    """

    def __init__(
        self,
        client: Client,
        info: pb.SessionInfo,
        connection: Connection,
        sent_at: float,
        lost_margin: float | None,
    ) -> None:
        self._client = client
        self._loop = asyncio.get_running_loop()
        #: The session's id.
        self.id: int = info.session_id
        #: The TTL the server granted, in seconds.
        self.ttl: float = info.ttl_ms / 1000
        #: The principal that owns the session.
        self.owner: str = text_from_wire(info.owner)
        #: Seconds before ``confirmed_until`` at which the locks' ``lost`` events are set.
        self.lost_margin: float = lost_margin if lost_margin is not None else min(max(self.ttl / 10, 0.2), 5.0)
        self._secret = info.secret
        self._connection = connection
        self._confirmed_at = sent_at
        self._state: SessionState = "connected"
        self._closed = False
        self._ended = asyncio.Event()
        self._observers: list[_Observer] = []
        self._locks: dict[str, Lock] = {}
        self._acquiring: collections.Counter[str] = collections.Counter()
        self._background: set[asyncio.Task[object]] = set()
        self._resume_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._lost_timer: asyncio.TimerHandle | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        connection.on_close.append(self._connection_closed)
        self._schedule_deadline()
        self._keepalive_task = self._loop.create_task(self._keepalive_loop(), name=f"leasehold-keepalive-{self.id}")

    def __repr__(self) -> str:
        return f"<leasehold.Session id={self.id} ttl={self.ttl} state={self._state}>"

    # MARK: state

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def expired(self) -> bool:
        return self._state == "expired"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def confirmed_until(self) -> float:
        """The session's local deadline, on the event loop's clock (``loop.time()``): the send time of the last
        acknowledged keepalive plus the TTL. Whatever the locks guard must be left alone from then on."""
        return self._confirmed_at + self.ttl

    async def states(self) -> AsyncIterator[SessionState]:
        """The current state, then every change; ends after ``"expired"`` or ``close()``.

        ``async for state in session.states(): ...``
        """
        observer = _Observer(self._state)
        if self._state == "expired" or self._closed:
            observer.finished = True
        else:
            self._observers.append(observer)
        try:
            while True:
                while observer.items:
                    state = observer.items.popleft()
                    yield state
                    if state == "expired":
                        return
                if observer.finished:
                    return
                observer.wakeup.clear()
                await observer.wakeup.wait()
        finally:
            with contextlib.suppress(ValueError):
                self._observers.remove(observer)

    # MARK: locks

    def lock(self, key: str, *, wait: float = 30.0) -> LockContext:
        """``async with session.lock(key, wait=30.0) as lock:`` holds ``key`` for the block and releases it on every
        way out (also when the block raises or its task is cancelled).

        The exit raises the release's error (``NotLockHolder``, ``SessionExpired``) when the block itself succeeded:
        the lock was lost while the block ran.
        """
        return LockContext(self, key, wait)

    async def acquire(self, key: str, *, wait: float = 30.0) -> Lock:
        """Takes ``key``, waiting up to ``wait`` seconds in the key's FIFO queue; ``wait=0`` is a try-lock.

        Safe to retry: after a lost connection it is sent again on the next one (the server gives a holder its existing
        grant back). Cancelling the calling task withdraws the wait from the queue.

        Raises:
            LockHeld: ``wait=0`` and the key is held (``holder`` says by whom).
            DeadlineExceeded: the wait ran out.
            SessionExpired: the session expired (at once, also while waiting).
            InvalidArgument: not a valid key.
        """
        wire_key = key_to_wire(key)
        self._check_usable()
        deadline = self._loop.time() + wait
        backoff = _Backoff(*self._client.reconnect_backoff)
        self._acquiring[key] += 1
        try:
            while True:
                remaining = max(0.0, deadline - self._loop.time())
                request = pb.AcquireRequest(
                    session_id=self.id, key=wire_key, wait_timeout_ms=milliseconds(remaining, "wait")
                )
                call = self._session_call(
                    "Acquire", request, pb.AcquireResponse, timeout=remaining + self._client.call_timeout
                )
                try:
                    response = await self._until_ended(call, on_cancel_grant=key)
                except errors.LeaseholdError as error:
                    if not is_connectivity(error):
                        raise
                    await self._until_ended(asyncio.sleep(backoff.next()))
                    continue
                info = LockInfo._from_wire(response.lock)
                existing = self._locks.get(key)
                if existing is not None and existing.fencing_token == info.fencing_token:
                    return existing
                lock = Lock(self, info)
                if self._loop.time() >= self.confirmed_until - self.lost_margin:
                    lock.lost.set()  # granted while keepalives fail, past the point where locks are given up
                self._locks[key] = lock
                return lock
        finally:
            self._acquiring[key] -= 1
            if self._acquiring[key] <= 0:
                del self._acquiring[key]

    @property
    def locks(self) -> tuple[Lock, ...]:
        """The locks this session holds, as far as it knows."""
        return tuple(self._locks.values())

    # MARK: lifecycle

    async def close(self) -> int:
        """Closes the session on the server, releasing all its locks, and stops the keepalives.

        Returns:
            How many locks the server released (0 if the session had already expired or was closed).
        """
        if self._closed or self._state == "expired":
            self._end()
            return 0
        self._closed = True
        self._keepalive_task.cancel()
        try:
            request = pb.CloseSessionRequest(session_id=self.id)
            response = await self._session_call(
                "CloseSession", request, pb.CloseSessionResponse, timeout=self._client.call_timeout, closing=True
            )
            return response.released
        except (errors.SessionExpired, errors.NotFound):
            return 0
        finally:
            self._end()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        with contextlib.suppress(errors.LeaseholdError):
            await self.close()

    # MARK: internals

    def _check_usable(self) -> None:
        if self._state == "expired":
            raise errors.SessionExpired(f"session {self.id} has expired")
        if self._closed:
            raise errors.SessionExpired(f"session {self.id} is closed")

    async def _session_call(
        self, method: str, request: Message, response_type: type[M], *, timeout: float, closing: bool = False
    ) -> M:
        """A call that must run on the connection the session is bound to (resuming there first if needed)."""
        if not closing:
            self._check_usable()
        connection = await self._bound_connection(wait=True)
        try:
            return await connection.unary(SERVICE + method, request, response_type, timeout=timeout)
        except errors.SessionExpired:
            self._expire()
            raise
        except errors.DeadlineExceeded as error:
            if error.no_answer:
                await self._client._discard(connection)  # its server may be frozen: reconnect for the next try
            raise

    async def _until_ended(self, awaitable: Awaitable[T], *, on_cancel_grant: str | None = None) -> T:
        """Awaits ``awaitable``, or raises ``SessionExpired`` as soon as the session ends (expires or closes).

        ``on_cancel_grant`` names the key of an acquire: when it is cancelled, a grant that may have raced with the
        cancellation is released in the background, so that a cancelled acquire never leaves a lock held.
        """
        task = asyncio.ensure_future(awaitable)
        ended = self._loop.create_task(self._ended.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            ended.cancel()
            with contextlib.suppress(BaseException):
                await task
            if on_cancel_grant is not None:
                self._spawn(self._release_orphan(on_cancel_grant))
            raise
        ended.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise errors.SessionExpired(f"session {self.id} {'closed' if self._closed else 'expired'}")

    async def _release_orphan(self, key: str) -> None:
        """Releases ``key`` if the server granted it to this session although the acquire was cancelled."""
        with contextlib.suppress(errors.LeaseholdError):
            description = await self._client.describe(key)
            lock = description.lock
            if lock is None or lock.session_id != self.id or key in self._locks or self._acquiring[key] > 0:
                return
            request = pb.ReleaseRequest(session_id=self.id, key=key_to_wire(key), fencing_token=lock.fencing_token)
            await self._session_call("Release", request, pb.ReleaseResponse, timeout=self._client.call_timeout)

    def _spawn(self, awaitable: Awaitable[object]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _bound_connection(self, *, wait: bool = False) -> Connection:
        """The client's current connection, with this session resumed on it if it was bound to an older one.

        ``wait``: keep trying while no node is active (a failover), up to the client's ``failover_timeout``.
        """
        connection = await self._client._connection(wait=wait)
        if connection is self._connection:
            return connection
        async with self._resume_lock:
            if connection is self._connection:
                return connection
            sent_at = self._loop.time()
            request = pb.ResumeSessionRequest(session_id=self.id, secret=self._secret)
            try:
                info = await connection.unary(
                    SERVICE + "ResumeSession", request, pb.SessionInfo, timeout=self._client.call_timeout
                )
            except (errors.SessionExpired, errors.NotFound) as error:
                self._expire()
                raise errors.SessionExpired(f"session {self.id} expired: {error.message}") from error
            self._connection = connection
            connection.on_close.append(self._connection_closed)
            self._confirm(sent_at)
            # A lock the server no longer lists for this session was lost while disconnected (force-released).
            held = {LockInfo._from_wire(lock).key: lock.fencing_token for lock in info.locks}
            for key, lock in list(self._locks.items()):
                if held.get(key) != lock.fencing_token:
                    lock._forget()
        return connection

    def _connection_closed(self, connection: Connection) -> None:
        if connection is self._connection:
            self._wake.set()  # try a keepalive now: it reconnects and resumes, or reports jeopardy

    def _confirm(self, sent_at: float) -> None:
        if sent_at > self._confirmed_at and self._state != "expired":
            self._confirmed_at = sent_at
            self._schedule_deadline()

    def _schedule_deadline(self) -> None:
        for timer in (self._lost_timer, self._deadline_timer):
            if timer is not None:
                timer.cancel()
        deadline = self.confirmed_until
        self._lost_timer = self._loop.call_at(deadline - self.lost_margin, self._mark_locks_lost)
        self._deadline_timer = self._loop.call_at(deadline, self._deadline_passed)

    def _mark_locks_lost(self) -> None:
        for lock in self._locks.values():
            lock.lost.set()

    def _deadline_passed(self) -> None:
        if self._loop.time() >= self.confirmed_until:
            self._expire()

    async def _keepalive_loop(self) -> None:
        interval = self.ttl / 3
        backoff = _Backoff(*self._client.reconnect_backoff)
        next_at = self._confirmed_at + interval
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_at - self._loop.time()))
            sent_at = self._loop.time()
            connection: Connection | None = None
            try:
                connection = await self._bound_connection()
                request = pb.KeepAliveRequest(session_id=self.id)
                await connection.unary(SERVICE + "KeepAlive", request, pb.KeepAliveResponse, timeout=interval)
            except (errors.SessionExpired, errors.NotFound):
                self._expire()
                return
            except errors.LeaseholdError as error:
                if self._state == "expired":
                    return
                if connection is not None and is_connectivity(error):
                    await self._client._discard(connection)
                if self._loop.time() >= self.confirmed_until:
                    self._expire()
                    return
                self._publish("jeopardy")
                next_at = min(self._loop.time() + backoff.next(), self.confirmed_until)
                continue
            self._confirm(sent_at)
            if self._state == "jeopardy":
                self._publish("safe")
                self._publish("connected")
            backoff.reset()
            next_at = sent_at + interval

    def _publish(self, state: SessionState) -> None:
        if self._state == state or self._state == "expired":
            return
        self._state = state
        for observer in self._observers:
            observer.push(state)

    def _expire(self) -> None:
        """Ends the session as expired: final; every lock is lost."""
        if self._state == "expired":
            return
        self._mark_locks_lost()
        self._publish("expired")
        self._end()

    def _end(self) -> None:
        """Stops everything the session runs (expired or closed)."""
        self._ended.set()
        for timer in (self._lost_timer, self._deadline_timer):
            if timer is not None:
                timer.cancel()
        if self._keepalive_task is not asyncio.current_task():
            self._keepalive_task.cancel()
        for lock in list(self._locks.values()):
            lock._forget()
        observers, self._observers = self._observers, []
        for observer in observers:
            observer.finish()
        self._client._sessions.discard(self)


class Lock:
    """A held lock: ``key``, ``fencing_token`` (pass it to every downstream write), and ``lost``."""

    def __init__(self, session: Session, info: LockInfo) -> None:
        self.session = session
        #: The grant as the server recorded it.
        self.info = info
        #: Set when the session can no longer be sure it holds the lock: ``lost_margin`` before the session's local
        #: deadline while keepalives fail, at expiry, when the server no longer lists it, and after release. Once set
        #: it stays set.
        self.lost = asyncio.Event()
        self._released = False

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def fencing_token(self) -> int:
        return self.info.fencing_token

    def __repr__(self) -> str:
        return f"<leasehold.Lock key={self.key!r} fencing_token={self.fencing_token} lost={self.lost.is_set()}>"

    async def release(self) -> int:
        """Releases the lock.

        If the connection is lost before the answer, the release is sent again on the next connection; when that
        finds the lock no longer held by this session, the first one took effect (or the lock was lost meanwhile).

        Returns:
            The revision of the release, or 0 when it is unknown (or the lock was already released).

        Raises:
            NotLockHolder: the lock was already lost (expired or force-released).
            SessionExpired: the session expired.
        """
        if self._released:
            return 0
        session = self.session
        request = pb.ReleaseRequest(session_id=session.id, key=key_to_wire(self.key), fencing_token=self.fencing_token)
        timeout = session._client.call_timeout
        try:
            try:
                response = await session._session_call("Release", request, pb.ReleaseResponse, timeout=timeout)
                revision = response.revision
            except errors.LeaseholdError as error:
                if not is_connectivity(error):
                    raise
                try:
                    response = await session._session_call("Release", request, pb.ReleaseResponse, timeout=timeout)
                    revision = response.revision
                except errors.NotLockHolder:
                    revision = 0
        except (errors.NotLockHolder, errors.SessionExpired):
            self._released = True
            self._forget()
            raise
        # A connectivity error twice leaves the lock as it was: it may still be held, and release() may be retried.
        self._released = True
        self._forget()
        return revision

    def _forget(self) -> None:
        """The lock is no longer held (or no longer known to be): set ``lost`` and drop it from the session."""
        self.lost.set()
        if self.session._locks.get(self.key) is self:
            del self.session._locks[self.key]


class LockContext:
    """What ``session.lock()`` returns: ``async with`` acquires on entry and releases on every exit."""

    def __init__(self, session: Session, key: str, wait: float) -> None:
        self._session = session
        self._key = key
        self._wait = wait
        self._lock: Lock | None = None

    async def __aenter__(self) -> Lock:
        self._lock = await self._session.acquire(self._key, wait=self._wait)
        return self._lock

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        # A task of its own, shielded: a cancellation that ends the block must not cut the release short.
        release = asyncio.ensure_future(lock.release())
        try:
            await asyncio.shield(release)
        except asyncio.CancelledError:
            self._session._spawn(release)
            raise
        except errors.LeaseholdError:
            if value is None:
                raise
