"""Conversions at the edge of the wire: keys and names, statuses to errors, durations, addresses."""

from __future__ import annotations

import math

from . import errors
from ._proto import leasehold_pb2 as pb

DEFAULT_PORT = 7420


def key_to_wire(key: str, what: str = "key", *, allow_empty: bool = False) -> bytes:
    """Checks a key (or prefix) given as ``str`` and returns its UTF-8 bytes for the request's field.

    The protocol declares keys ``bytes`` (so that no layer can cut a key at a NUL) and carries UTF-8 there; the public
    API takes and returns ``str``, and this is the one place requests are filled with keys.

    Raises:
        InvalidArgument: not a ``str``, not encodable as UTF-8 (a lone surrogate), empty, or containing NUL.
    """
    if not isinstance(key, str):
        raise errors.InvalidArgument(f"{what} must be str, not {type(key).__name__}")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as error:
        raise errors.InvalidArgument(f"invalid {what}: not valid UTF-8 ({error.reason})") from None
    if not encoded and not allow_empty:
        raise errors.InvalidArgument(f"invalid {what}: empty")
    if b"\x00" in encoded:
        raise errors.InvalidArgument(f"invalid {what}: must not contain NUL")
    return encoded


def text_to_wire(value: str, what: str = "text") -> bytes:
    """A name, token or reason as the UTF-8 bytes of its request field.

    Raises:
        InvalidArgument: not encodable as UTF-8, or containing NUL (the server refuses both).
    """
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise errors.InvalidArgument(f"invalid {what}: not valid UTF-8 ({error.reason})") from None
    if b"\x00" in encoded:
        raise errors.InvalidArgument(f"invalid {what}: must not contain NUL")
    return encoded


def text_from_wire(value: str | bytes) -> str:
    """A key or name from a response field, as ``str`` whether the field is ``string`` or ``bytes``."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


def milliseconds(seconds: float, what: str) -> int:
    """Seconds as a ``uint32`` count of milliseconds, rounded up so that a positive wait never becomes 0."""
    if math.isnan(seconds) or seconds < 0:
        raise errors.InvalidArgument(f"{what} must be >= 0, got {seconds}")
    return min(math.ceil(seconds * 1000), 0xFFFF_FFFF)


def error_from_status(status: pb.Status, context: str = "") -> errors.LeaseholdError:
    """The exception for a non-OK status."""
    try:
        code = pb.Code.Name(status.code)
    except ValueError:
        code = f"CODE_{status.code}"
    message = text_from_wire(status.message)
    if context:
        message = f"{context}: {message}" if message else context
    if code == "LOCK_HELD":
        from .types import LockInfo

        holder = LockInfo._from_wire(status.holder) if status.HasField("holder") else None
        return errors.LockHeld(message, holder=holder)
    if code == "STALE_FENCING_TOKEN":
        return errors.StaleFencingToken(message, highest_token=status.highest_token)
    if code == "COMPACTED":
        return errors.Compacted(message, compact_revision=status.compact_revision)
    if code == "UNAVAILABLE":
        return errors.Unavailable(message, leader=text_from_wire(status.leader))
    cls = errors.ERROR_CLASSES.get(code, errors.LeaseholdError)
    return cls(message, code=code)


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT``, or a bare host (port 7420).

    Raises:
        InvalidArgument: not an address.
    """
    text = address.strip()
    if not text:
        raise errors.InvalidArgument("empty server address")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise errors.InvalidArgument(f"{address!r} is not HOST:PORT")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise errors.InvalidArgument(f"{address!r} is not HOST:PORT")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        host, port_text = text, ""  # a bare IPv6 address
    else:
        host, port_text = text, ""
    if not host:
        raise errors.InvalidArgument(f"{address!r} has no host")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise errors.InvalidArgument(f"{address!r} has no valid port")
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """The inverse of ``parse_address``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
