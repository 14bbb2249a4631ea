from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OK: _ClassVar[Code]
    CANCELLED: _ClassVar[Code]
    UNKNOWN: _ClassVar[Code]
    INVALID_ARGUMENT: _ClassVar[Code]
    DEADLINE_EXCEEDED: _ClassVar[Code]
    NOT_FOUND: _ClassVar[Code]
    PERMISSION_DENIED: _ClassVar[Code]
    RESOURCE_EXHAUSTED: _ClassVar[Code]
    UNIMPLEMENTED: _ClassVar[Code]
    INTERNAL: _ClassVar[Code]
    UNAVAILABLE: _ClassVar[Code]
    UNAUTHENTICATED: _ClassVar[Code]
    SESSION_EXPIRED: _ClassVar[Code]
    LOCK_HELD: _ClassVar[Code]
    NOT_LOCK_HOLDER: _ClassVar[Code]
    STALE_FENCING_TOKEN: _ClassVar[Code]
    COMPACTED: _ClassVar[Code]
    FRAME_TOO_LARGE: _ClassVar[Code]
    UNSUPPORTED_PROTOCOL: _ClassVar[Code]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    ACQUIRED: _ClassVar[EventType]
    RELEASED: _ClassVar[EventType]
    EXPIRED: _ClassVar[EventType]
    FORCE_RELEASED: _ClassVar[EventType]
OK: Code
CANCELLED: Code
UNKNOWN: Code
INVALID_ARGUMENT: Code
DEADLINE_EXCEEDED: Code
NOT_FOUND: Code
PERMISSION_DENIED: Code
RESOURCE_EXHAUSTED: Code
UNIMPLEMENTED: Code
INTERNAL: Code
UNAVAILABLE: Code
UNAUTHENTICATED: Code
SESSION_EXPIRED: Code
LOCK_HELD: Code
NOT_LOCK_HOLDER: Code
STALE_FENCING_TOKEN: Code
COMPACTED: Code
FRAME_TOO_LARGE: Code
UNSUPPORTED_PROTOCOL: Code
EVENT_TYPE_UNSPECIFIED: EventType
ACQUIRED: EventType
RELEASED: EventType
EXPIRED: EventType
FORCE_RELEASED: EventType

class Frame(_message.Message):
    __slots__ = ("call_id", "method", "payload", "status", "flags", "timeout_ms")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    method: bytes
    payload: bytes
    status: Status
    flags: int
    timeout_ms: int
    def __init__(self, call_id: _Optional[int] = ..., method: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., flags: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message", "holder", "highest_token", "compact_revision", "leader")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COMPACT_REVISION_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    code: Code
    message: str
    holder: LockInfo
    highest_token: int
    compact_revision: int
    leader: str
    def __init__(self, code: _Optional[_Union[Code, str]] = ..., message: _Optional[str] = ..., holder: _Optional[_Union[LockInfo, _Mapping]] = ..., highest_token: _Optional[int] = ..., compact_revision: _Optional[int] = ..., leader: _Optional[str] = ...) -> None: ...

class LockInfo(_message.Message):
    __slots__ = ("key", "session_id", "fencing_token", "owner", "acquired_at_ms", "session_ttl_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SESSION_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    session_id: int
    fencing_token: int
    owner: bytes
    acquired_at_ms: int
    session_ttl_ms: int
    def __init__(self, key: _Optional[bytes] = ..., session_id: _Optional[int] = ..., fencing_token: _Optional[int] = ..., owner: _Optional[bytes] = ..., acquired_at_ms: _Optional[int] = ..., session_ttl_ms: _Optional[int] = ...) -> None: ...

class Waiter(_message.Message):
    __slots__ = ("session_id", "owner", "waiting_since_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    owner: bytes
    waiting_since_ms: int
    def __init__(self, session_id: _Optional[int] = ..., owner: _Optional[bytes] = ..., waiting_since_ms: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("revision", "type", "key", "session_id", "fencing_token", "owner", "at_ms")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    revision: int
    type: EventType
    key: bytes
    session_id: int
    fencing_token: int
    owner: bytes
    at_ms: int
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[_Union[EventType, str]] = ..., key: _Optional[bytes] = ..., session_id: _Optional[int] = ..., fencing_token: _Optional[int] = ..., owner: _Optional[bytes] = ..., at_ms: _Optional[int] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("session_id", "secret", "ttl_ms", "expires_in_ms", "owner", "locks")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    secret: bytes
    ttl_ms: int
    expires_in_ms: int
    owner: bytes
    locks: _containers.RepeatedCompositeFieldContainer[LockInfo]
    def __init__(self, session_id: _Optional[int] = ..., secret: _Optional[bytes] = ..., ttl_ms: _Optional[int] = ..., expires_in_ms: _Optional[int] = ..., owner: _Optional[bytes] = ..., locks: _Optional[_Iterable[_Union[LockInfo, _Mapping]]] = ...) -> None: ...

class HelloRequest(_message.Message):
    __slots__ = ("protocol_version", "client_name", "token")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    client_name: bytes
    token: bytes
    def __init__(self, protocol_version: _Optional[int] = ..., client_name: _Optional[bytes] = ..., token: _Optional[bytes] = ...) -> None: ...

class HelloResponse(_message.Message):
    __slots__ = ("server_version", "server_id", "protocol_version", "max_frame_bytes", "principal", "roles")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    server_id: str
    protocol_version: int
    max_frame_bytes: int
    principal: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_version: _Optional[str] = ..., server_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., max_frame_bytes: _Optional[int] = ..., principal: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class OpenSessionRequest(_message.Message):
    __slots__ = ("ttl_ms", "name")
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ttl_ms: int
    name: bytes
    def __init__(self, ttl_ms: _Optional[int] = ..., name: _Optional[bytes] = ...) -> None: ...

class ResumeSessionRequest(_message.Message):
    __slots__ = ("session_id", "secret")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    secret: bytes
    def __init__(self, session_id: _Optional[int] = ..., secret: _Optional[bytes] = ...) -> None: ...

class KeepAliveRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    def __init__(self, session_id: _Optional[int] = ...) -> None: ...

class KeepAliveResponse(_message.Message):
    __slots__ = ("ttl_ms", "expires_in_ms")
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    ttl_ms: int
    expires_in_ms: int
    def __init__(self, ttl_ms: _Optional[int] = ..., expires_in_ms: _Optional[int] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    def __init__(self, session_id: _Optional[int] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: int
    def __init__(self, released: _Optional[int] = ...) -> None: ...

class AcquireRequest(_message.Message):
    __slots__ = ("session_id", "key", "wait_timeout_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    key: bytes
    wait_timeout_ms: int
    def __init__(self, session_id: _Optional[int] = ..., key: _Optional[bytes] = ..., wait_timeout_ms: _Optional[int] = ...) -> None: ...

class AcquireResponse(_message.Message):
    __slots__ = ("lock",)
    LOCK_FIELD_NUMBER: _ClassVar[int]
    lock: LockInfo
    def __init__(self, lock: _Optional[_Union[LockInfo, _Mapping]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("session_id", "key", "fencing_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    key: bytes
    fencing_token: int
    def __init__(self, session_id: _Optional[int] = ..., key: _Optional[bytes] = ..., fencing_token: _Optional[int] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class ForceReleaseRequest(_message.Message):
    __slots__ = ("key", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    reason: bytes
    def __init__(self, key: _Optional[bytes] = ..., reason: _Optional[bytes] = ...) -> None: ...

class ForceReleaseResponse(_message.Message):
    __slots__ = ("released", "revision")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    released: LockInfo
    revision: int
    def __init__(self, released: _Optional[_Union[LockInfo, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    def __init__(self, key: _Optional[bytes] = ...) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("held", "lock", "waiters", "queue", "revision")
    HELD_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    WAITERS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    held: bool
    lock: LockInfo
    waiters: int
    queue: _containers.RepeatedCompositeFieldContainer[Waiter]
    revision: int
    def __init__(self, held: bool = ..., lock: _Optional[_Union[LockInfo, _Mapping]] = ..., waiters: _Optional[int] = ..., queue: _Optional[_Iterable[_Union[Waiter, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class ValidateRequest(_message.Message):
    __slots__ = ("key", "fencing_token")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    fencing_token: int
    def __init__(self, key: _Optional[bytes] = ..., fencing_token: _Optional[int] = ...) -> None: ...

class ValidateResponse(_message.Message):
    __slots__ = ("valid", "lock", "revision")
    VALID_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    lock: LockInfo
    revision: int
    def __init__(self, valid: bool = ..., lock: _Optional[_Union[LockInfo, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("prefix", "limit")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    prefix: bytes
    limit: int
    def __init__(self, prefix: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("locks", "revision")
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    locks: _containers.RepeatedCompositeFieldContainer[LockInfo]
    revision: int
    def __init__(self, locks: _Optional[_Iterable[_Union[LockInfo, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("prefix", "start_revision")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    START_REVISION_FIELD_NUMBER: _ClassVar[int]
    prefix: bytes
    start_revision: int
    def __init__(self, prefix: _Optional[bytes] = ..., start_revision: _Optional[int] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("events", "revision")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    revision: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...
