"""The RPC layer: length-prefixed ``leasehold.v1.Frame``s over one TCP (or TLS) connection, many calls at once.

Each frame is a 4-byte big-endian length and that many bytes of ``Frame``. The client numbers its calls (``call_id``);
a call's first frame names the method and may carry ``timeout_ms``; the server's last frame of a call carries a
``Status``. A client cancels a call with a frame holding only the ``call_id`` and the ``CANCEL`` flag.

One reader task per connection (an asyncio task, no thread) hands each frame to its call: a future for a unary call,
a bounded queue for a stream.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import struct
from collections.abc import Callable
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from . import errors
from ._codec import error_from_status, format_address
from ._proto import leasehold_pb2 as pb

CANCEL_FLAG = 1
PROTOCOL_VERSION = 1
HELLO = "leasehold.v1.Leasehold/Hello"

_LENGTH = struct.Struct(">I")

#: The largest frame accepted from the server.
DEFAULT_MAX_FRAME_BYTES = 16 << 20
#: Stream items buffered for a consumer that does not read them; past this the stream ends with RESOURCE_EXHAUSTED.
DEFAULT_STREAM_BUFFER = 1024

M = TypeVar("M", bound=Message)


class _StreamCall:
    """The receiving side of one server stream: payloads in a bounded buffer, then the final status."""

    def __init__(self, limit: int) -> None:
        self.items: collections.deque[bytes] = collections.deque()
        self.limit = limit
        self.end: errors.LeaseholdError | None = None
        self.ended = False
        self.wakeup = asyncio.Event()

    def push(self, payload: bytes) -> bool:
        """Buffers an item; false when the buffer is full."""
        if len(self.items) >= self.limit:
            return False
        self.items.append(payload)
        self.wakeup.set()
        return True

    def finish(self, error: errors.LeaseholdError | None) -> None:
        if not self.ended:
            self.ended = True
            self.end = error
            self.wakeup.set()


class Stream(Generic[M]):
    """The items of one server-streaming call, decoded as ``response_type``.

    ``await stream.next()`` returns the next item, or ``None`` once the server ended the call with OK; it raises the
    call's error otherwise. ``cancel()`` sends CANCEL (idempotent).
    """

    def __init__(self, connection: Connection, call_id: int, call: _StreamCall, response_type: type[M]) -> None:
        self._connection = connection
        self._call_id = call_id
        self._call = call
        self._type = response_type

    async def next(self) -> M | None:
        call = self._call
        while True:
            if call.items:
                payload = call.items.popleft()
                try:
                    return self._type.FromString(payload)
                except DecodeError:
                    self.cancel()
                    raise errors.LeaseholdError("undecodable stream item", code="INTERNAL") from None
            if call.ended:
                self._connection._forget(self._call_id)
                if call.end is not None:
                    raise call.end
                return None
            call.wakeup.clear()
            await call.wakeup.wait()

    def cancel(self) -> None:
        self._connection._cancel(self._call_id)
        self._call.finish(errors.Cancelled("cancelled by the client"))


class Connection:
    """One connection to a server, after a successful ``Hello``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        max_frame_bytes: int,
        stream_buffer: int,
    ) -> None:
        self.address = address
        self.hello = pb.HelloResponse()
        self._reader = reader
        self._writer = writer
        self._max_frame_bytes = max_frame_bytes
        self._stream_buffer = stream_buffer
        self._next_call_id = 1
        self._unary: dict[int, asyncio.Future[bytes]] = {}
        self._streams: dict[int, _StreamCall] = {}
        self._closed_error: errors.LeaseholdError | None = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(), name=f"leasehold-read-{address}")
        #: Called once when the connection ends, for whatever reason.
        self.on_close: list[Callable[[Connection], None]] = []

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        hello: pb.HelloRequest,
        tls: ssl.SSLContext | None,
        server_hostname: str | None = None,
        connect_timeout: float,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        stream_buffer: int = DEFAULT_STREAM_BUFFER,
    ) -> Connection:
        """Connects (TCP, then TLS if given) and says ``Hello``, all within ``connect_timeout``.

        Raises:
            Unavailable: the server cannot be reached (``leader`` set when a standby answered ``Hello``).
            LeaseholdError: ``Hello`` refused (``UNAUTHENTICATED``, ``UNSUPPORTED_PROTOCOL``).
        """
        address = format_address(host, port)
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=(server_hostname or host) if tls is not None else None
                )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            raise errors.Unavailable(f"cannot connect to {address}: {error or type(error).__name__}") from error
        connection = cls(reader, writer, address, max_frame_bytes, stream_buffer)
        try:
            connection.hello = await connection.unary(HELLO, hello, pb.HelloResponse, timeout=connect_timeout)
        except errors.DeadlineExceeded as error:
            await connection.close()
            raise errors.Unavailable(f"{address} did not answer Hello in time") from error
        except BaseException:
            await connection.close()
            raise
        return connection

    @property
    def closed(self) -> bool:
        return self._closed_error is not None

    # MARK: calls

    async def unary(self, method: str, request: Message, response_type: type[M], *, timeout: float | None) -> M:
        """Makes a unary call.

        ``timeout`` (seconds) is sent as the call's ``timeout_ms`` and also enforced here, so that a server that
        stops answering cannot hold the caller. Cancelling the calling task sends CANCEL to the server.

        Raises:
            LeaseholdError: the server's status; ``DeadlineExceeded(no_answer=True)`` when no answer came in time;
                ``Unavailable`` when the connection ended first.
        """
        if self._closed_error is not None:
            raise self._closed_error
        call_id = self._new_call_id()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._unary[call_id] = future
        frame = pb.Frame(call_id=call_id, method=method.encode(), payload=request.SerializeToString())
        if timeout is not None:
            frame.timeout_ms = max(1, min(int(timeout * 1000), 0xFFFF_FFFF))
        try:
            self._send(frame)
            try:
                async with asyncio.timeout(timeout):
                    await self._drain()
                    payload = await future
            except TimeoutError:
                self._cancel(call_id)
                raise errors.DeadlineExceeded(
                    f"{method}: no answer from {self.address} within {timeout:.3f}s", no_answer=True
                ) from None
        except asyncio.CancelledError:
            self._cancel(call_id)
            raise
        finally:
            self._unary.pop(call_id, None)
        try:
            return response_type.FromString(payload)
        except DecodeError:
            raise errors.LeaseholdError(f"{method}: undecodable answer", code="INTERNAL") from None

    def stream(self, method: str, request: Message, response_type: type[M]) -> Stream[M]:
        """Starts a server-streaming call; read it with ``Stream.next()``, stop it with ``Stream.cancel()``."""
        if self._closed_error is not None:
            raise self._closed_error
        call_id = self._new_call_id()
        call = _StreamCall(self._stream_buffer)
        self._streams[call_id] = call
        self._send(pb.Frame(call_id=call_id, method=method.encode(), payload=request.SerializeToString()))
        return Stream(self, call_id, call, response_type)

    async def close(self) -> None:
        """Closes the connection; open calls fail with ``Unavailable``."""
        self._fail_all(errors.Unavailable(f"connection to {self.address} closed by the client"))
        if not self._reader_task.done():
            self._reader_task.cancel()
            await asyncio.wait({self._reader_task})
        await self._close_writer()

    # MARK: internals

    def _new_call_id(self) -> int:
        call_id = self._next_call_id
        self._next_call_id += 1
        return call_id

    def _send(self, frame: pb.Frame) -> None:
        body = frame.SerializeToString()
        self._writer.write(_LENGTH.pack(len(body)) + body)

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as error:
            self._fail_all(errors.Unavailable(f"connection to {self.address} lost: {error}"))
            raise self._closed_error or errors.Unavailable(str(error)) from error

    def _cancel(self, call_id: int) -> None:
        """Sends CANCEL for a call still open (no await: callable from a cancelled task's cleanup)."""
        open_call = self._unary.pop(call_id, None) is not None or self._streams.pop(call_id, None) is not None
        if open_call and self._closed_error is None:
            with contextlib.suppress(Exception):
                self._send(pb.Frame(call_id=call_id, flags=CANCEL_FLAG))

    def _forget(self, call_id: int) -> None:
        self._streams.pop(call_id, None)

    async def _read_loop(self) -> None:
        error: errors.LeaseholdError
        try:
            while True:
                header = await self._reader.readexactly(4)
                (length,) = _LENGTH.unpack(header)
                plaintext = self._writer.get_extra_info("sslcontext") is None
                if plaintext and header[0] in (0x15, 0x16) and header[1] == 0x03:
                    # A TLS record (an alert or a handshake), not a frame: this plaintext client reached a TLS port.
                    error = errors.Unavailable(f"{self.address} speaks TLS: connect with tls=leasehold.TLS(...)")
                    break
                if length > self._max_frame_bytes:
                    error = errors.LeaseholdError(
                        f"{self.address} sent a frame of {length} bytes (limit {self._max_frame_bytes})",
                        code="FRAME_TOO_LARGE",
                    )
                    break
                body = await self._reader.readexactly(length)
                try:
                    frame = pb.Frame.FromString(body)
                except DecodeError:
                    error = errors.LeaseholdError(f"{self.address} sent an undecodable frame", code="INTERNAL")
                    break
                self._dispatch(frame)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError) as lost:
            error = errors.Unavailable(f"connection to {self.address} lost: {lost or type(lost).__name__}")
        except asyncio.CancelledError:
            error = errors.Unavailable(f"connection to {self.address} closed by the client")
        self._fail_all(error)
        # Not awaiting wait_closed here: close() cancels this task, which would cancel the future it waits on.
        if not self._writer.is_closing():
            self._writer.close()

    def _dispatch(self, frame: pb.Frame) -> None:
        if frame.call_id == 0:
            # Connection level: the server is about to close (FRAME_TOO_LARGE, INVALID_ARGUMENT).
            if frame.HasField("status"):
                self._fail_all(
                    errors.Unavailable(f"{self.address} closed the connection: {error_from_status(frame.status)}")
                )
            return
        future = self._unary.get(frame.call_id)
        if future is not None:
            if not frame.HasField("status"):
                return  # a unary call has one answer, with its status; ignore anything else
            del self._unary[frame.call_id]
            if future.done():
                return
            if frame.status.code == pb.OK:
                future.set_result(frame.payload)
            else:
                future.set_exception(error_from_status(frame.status))
            return
        call = self._streams.get(frame.call_id)
        if call is None:
            return  # a call already given up (cancelled or timed out): its late answer is dropped
        if frame.payload and not call.push(frame.payload):
            self._cancel(frame.call_id)
            call.finish(errors.ResourceExhausted("the stream's reader fell behind its buffer"))
            return
        if frame.HasField("status"):
            self._streams.pop(frame.call_id, None)
            call.finish(None if frame.status.code == pb.OK else error_from_status(frame.status))

    def _fail_all(self, error: errors.LeaseholdError) -> None:
        if self._closed_error is None:
            self._closed_error = error
            callbacks = list(self.on_close)
            self.on_close.clear()
        else:
            callbacks = []
        unary, self._unary = self._unary, {}
        streams, self._streams = self._streams, {}
        for future in unary.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here: a caller that was cancelled meanwhile never will
        for call in streams.values():
            call.finish(error)
        for callback in callbacks:
            callback(self)

    async def _close_writer(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(Exception):
            # Shielded: several closers may wait on the one close future, and a cancelled waiter would cancel it.
            await asyncio.shield(self._writer.wait_closed())
