"""A client of the ``fencedresource.v1.FencedResource`` sample: writes that carry a lock's fencing token."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from types import TracebackType

from . import errors
from ._codec import key_to_wire, parse_address, text_to_wire
from ._proto import fencedresource_pb2 as fpb
from ._proto import leasehold_pb2 as pb
from ._wire import PROTOCOL_VERSION, Connection

__all__ = ["FencedResource", "WriteResult", "ReadResult"]

SERVICE = "fencedresource.v1.FencedResource/"


@dataclass(frozen=True, slots=True)
class WriteResult:
    version: int
    accepted_token: int


@dataclass(frozen=True, slots=True)
class ReadResult:
    data: bytes
    version: int
    #: The highest fencing token the resource has accepted.
    highest_token: int


class FencedResource:
    """One connection to a ``fenced-resource serve`` process.

    ``async with await FencedResource.connect("127.0.0.1:7430") as store: await store.write(...)``
    """

    def __init__(self, connection: Connection, call_timeout: float) -> None:
        self._connection = connection
        self._call_timeout = call_timeout

    @classmethod
    async def connect(
        cls,
        address: str = "127.0.0.1:7430",
        *,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        call_timeout: float = 10.0,
    ) -> FencedResource:
        """Connects and says ``Hello``.

        Raises:
            Unavailable: the server cannot be reached.
        """
        host, port = parse_address(address)
        hello = pb.HelloRequest(
            protocol_version=PROTOCOL_VERSION, client_name=b"leasehold-python", token=text_to_wire(token or "", "token")
        )
        connection = await Connection.open(host, port, hello=hello, tls=tls, connect_timeout=connect_timeout)
        return cls(connection, call_timeout)

    async def write(self, resource: str, data: bytes, *, fencing_token: int, lock_key: str) -> WriteResult:
        """Writes ``data`` to ``resource`` under ``fencing_token`` (granted on ``lock_key``).

        Raises:
            StaleFencingToken: a higher token was accepted already (``highest_token``), or the lock server says the
                token's lock has ended.
        """
        request = fpb.WriteRequest(
            resource=text_to_wire(resource), fencing_token=fencing_token, data=data, lock_key=key_to_wire(lock_key)
        )
        response = await self._connection.unary(
            SERVICE + "Write", request, fpb.WriteResponse, timeout=self._call_timeout
        )
        return WriteResult(version=response.version, accepted_token=response.accepted_token)

    async def read(self, resource: str) -> ReadResult:
        """The resource's data.

        Raises:
            NotFound: nothing was written to it yet.
        """
        request = fpb.ReadRequest(resource=text_to_wire(resource))
        response = await self._connection.unary(SERVICE + "Read", request, fpb.ReadResponse, timeout=self._call_timeout)
        return ReadResult(data=response.data, version=response.version, highest_token=response.highest_token)

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> FencedResource:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()


# Re-exported for callers that branch on it after a write.
StaleFencingToken = errors.StaleFencingToken
