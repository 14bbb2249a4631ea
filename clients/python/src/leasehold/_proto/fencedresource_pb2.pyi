from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class WriteRequest(_message.Message):
    __slots__ = ("resource", "fencing_token", "data", "lock_key")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LOCK_KEY_FIELD_NUMBER: _ClassVar[int]
    resource: bytes
    fencing_token: int
    data: bytes
    lock_key: bytes
    def __init__(self, resource: _Optional[bytes] = ..., fencing_token: _Optional[int] = ..., data: _Optional[bytes] = ..., lock_key: _Optional[bytes] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("version", "accepted_token")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    version: int
    accepted_token: int
    def __init__(self, version: _Optional[int] = ..., accepted_token: _Optional[int] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: bytes
    def __init__(self, resource: _Optional[bytes] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("data", "version", "highest_token")
    DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    version: int
    highest_token: int
    def __init__(self, data: _Optional[bytes] = ..., version: _Optional[int] = ..., highest_token: _Optional[int] = ...) -> None: ...
