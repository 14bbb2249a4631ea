"""What the server answers, as plain Python values (keys and names as ``str``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._codec import text_from_wire
from ._proto import leasehold_pb2 as pb

__all__ = [
    "LockInfo",
    "Waiter",
    "EventType",
    "Event",
    "Description",
    "Validation",
    "Listing",
    "ForceReleased",
    "ServerInfo",
]


@dataclass(frozen=True, slots=True)
class LockInfo:
    """One grant of a key, as the server recorded it."""

    key: str
    session_id: int
    #: The grant's fencing token: the server-wide revision of the grant, strictly increasing, never repeated.
    fencing_token: int
    #: The principal of the holding session.
    owner: str
    #: When the lock was granted, Unix milliseconds.
    acquired_at_ms: int
    session_ttl_ms: int

    @classmethod
    def _from_wire(cls, message: pb.LockInfo) -> LockInfo:
        return cls(
            key=text_from_wire(message.key),
            session_id=message.session_id,
            fencing_token=message.fencing_token,
            owner=text_from_wire(message.owner),
            acquired_at_ms=message.acquired_at_ms,
            session_ttl_ms=message.session_ttl_ms,
        )


@dataclass(frozen=True, slots=True)
class Waiter:
    """A session queued for a key."""

    session_id: int
    owner: str
    #: When it joined the queue, Unix milliseconds.
    waiting_since_ms: int


class EventType(enum.Enum):
    """What happened to a key."""

    ACQUIRED = "ACQUIRED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    FORCE_RELEASED = "FORCE_RELEASED"
    #: A type this client does not know (a newer server).
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Event:
    """One change of a key, at its revision."""

    revision: int
    type: EventType
    key: str
    session_id: int
    fencing_token: int
    owner: str
    #: When it happened, Unix milliseconds.
    at_ms: int

    @classmethod
    def _from_wire(cls, message: pb.Event) -> Event:
        try:
            kind = EventType(pb.EventType.Name(message.type))
        except ValueError:
            kind = EventType.UNKNOWN
        return cls(
            revision=message.revision,
            type=kind,
            key=text_from_wire(message.key),
            session_id=message.session_id,
            fencing_token=message.fencing_token,
            owner=text_from_wire(message.owner),
            at_ms=message.at_ms,
        )


@dataclass(frozen=True, slots=True)
class Description:
    """A key's holder and FIFO queue (``describe``)."""

    held: bool
    lock: LockInfo | None
    #: How many sessions wait for the key.
    waiters: int
    #: The waiting sessions, in grant order.
    queue: tuple[Waiter, ...]
    #: The server's revision when it answered.
    revision: int


@dataclass(frozen=True, slots=True)
class Validation:
    """Whether a fencing token is a key's current grant (``validate``)."""

    valid: bool
    #: The current holder, if any.
    lock: LockInfo | None
    revision: int


@dataclass(frozen=True, slots=True)
class Listing:
    """Held locks under a prefix, sorted by key (``list``)."""

    locks: tuple[LockInfo, ...]
    revision: int


@dataclass(frozen=True, slots=True)
class ForceReleased:
    """What ``force_release`` ended."""

    released: LockInfo | None
    revision: int


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The server's answer to ``Hello`` on the current connection."""

    server_version: str
    server_id: str
    protocol_version: int
    max_frame_bytes: int
    principal: str
    roles: tuple[str, ...]
    #: The ``HOST:PORT`` this connection reached.
    address: str
