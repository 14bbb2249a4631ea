"""Errors raised by the client: one class per status code that callers branch on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import LockInfo

__all__ = [
    "LeaseholdError",
    "Cancelled",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unavailable",
    "Unauthenticated",
    "SessionExpired",
    "LockHeld",
    "NotLockHolder",
    "StaleFencingToken",
    "Compacted",
]


class LeaseholdError(Exception):
    """A call failed: ``code`` is the protocol's status code name (``"LOCK_HELD"``, ``"UNAVAILABLE"``, ...)."""

    #: The status code name this class stands for (subclasses); the base class takes any code.
    default_code: str = "UNKNOWN"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.code: str = code if code is not None else self.default_code
        self.message: str = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class Cancelled(LeaseholdError):
    """The server cancelled the call."""

    default_code = "CANCELLED"


class InvalidArgument(LeaseholdError):
    """The request was refused as malformed: a bad key, a TTL out of range."""

    default_code = "INVALID_ARGUMENT"


class DeadlineExceeded(LeaseholdError):
    """The call's deadline passed: a lock wait ran out, or the server did not answer in time.

    ``no_answer`` is true when the client gave up on a server that did not answer at all (which says nothing about
    the request); false when the server itself answered ``DEADLINE_EXCEEDED``.
    """

    default_code = "DEADLINE_EXCEEDED"

    def __init__(self, message: str = "", *, code: str | None = None, no_answer: bool = False) -> None:
        super().__init__(message, code=code)
        self.no_answer = no_answer


class NotFound(LeaseholdError):
    """No such session, lock or resource."""

    default_code = "NOT_FOUND"


class PermissionDenied(LeaseholdError):
    """The principal lacks a role (``admin`` for force-release), or a session call came from the wrong connection."""

    default_code = "PERMISSION_DENIED"


class ResourceExhausted(LeaseholdError):
    """A server limit (sessions, waiters per key), or a watcher that fell too far behind."""

    default_code = "RESOURCE_EXHAUSTED"


class Unavailable(LeaseholdError):
    """No server could be reached, or the connection was lost before the answer.

    ``leader`` is the ``HOST:PORT`` of the active node when a standby answered, else empty.
    """

    default_code = "UNAVAILABLE"

    def __init__(self, message: str = "", *, code: str | None = None, leader: str = "") -> None:
        super().__init__(message, code=code)
        self.leader = leader


class Unauthenticated(LeaseholdError):
    """The server needs a valid bearer token."""

    default_code = "UNAUTHENTICATED"


class SessionExpired(LeaseholdError):
    """The session is gone, and every lock it held with it."""

    default_code = "SESSION_EXPIRED"


class LockHeld(LeaseholdError):
    """A try-lock found the key held; ``holder`` is the current holder (``None`` during a lock delay)."""

    default_code = "LOCK_HELD"

    def __init__(self, message: str = "", *, code: str | None = None, holder: LockInfo | None = None) -> None:
        super().__init__(message, code=code)
        self.holder = holder


class NotLockHolder(LeaseholdError):
    """The release named a lock this session does not hold (it was lost, or already released)."""

    default_code = "NOT_LOCK_HOLDER"


class StaleFencingToken(LeaseholdError):
    """A fenced resource refused a token lower than one it accepted; ``highest_token`` is that one."""

    default_code = "STALE_FENCING_TOKEN"

    def __init__(self, message: str = "", *, code: str | None = None, highest_token: int = 0) -> None:
        super().__init__(message, code=code)
        self.highest_token = highest_token


class Compacted(LeaseholdError):
    """A watch asked for events older than the server keeps; ``compact_revision`` is the oldest still kept."""

    default_code = "COMPACTED"

    def __init__(self, message: str = "", *, code: str | None = None, compact_revision: int = 0) -> None:
        super().__init__(message, code=code)
        self.compact_revision = compact_revision


#: The class raised for each code; codes not listed raise ``LeaseholdError`` itself.
ERROR_CLASSES: dict[str, type[LeaseholdError]] = {
    cls.default_code: cls
    for cls in (
        Cancelled,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        PermissionDenied,
        ResourceExhausted,
        Unavailable,
        Unauthenticated,
        SessionExpired,
        LockHeld,
        NotLockHolder,
        StaleFencingToken,
        Compacted,
    )
}
