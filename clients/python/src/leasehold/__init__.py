"""An asyncio client for the Leasehold lock and lease server.

```python
import leasehold

async with await leasehold.connect("127.0.0.1:7420") as client:
    session = await client.open_session(ttl=10.0)
    async with session.lock("jobs/42", wait=30.0) as lock:
        await write(row, fencing_token=lock.fencing_token)
```
"""

from .client import TLS, Client, Watch, connect
from .errors import (
    Cancelled,
    Compacted,
    DeadlineExceeded,
    InvalidArgument,
    LeaseholdError,
    LockHeld,
    NotFound,
    NotLockHolder,
    PermissionDenied,
    ResourceExhausted,
    SessionExpired,
    StaleFencingToken,
    Unauthenticated,
    Unavailable,
)
from .fencedresource import FencedResource, ReadResult, WriteResult
from .session import Lock, LockContext, Session, SessionState
from .types import Description, Event, EventType, ForceReleased, Listing, LockInfo, ServerInfo, Validation, Waiter

__version__ = "0.1.0"

__all__ = [
    "TLS",
    "Cancelled",
    "Client",
    "Compacted",
    "DeadlineExceeded",
    "Description",
    "Event",
    "EventType",
    "FencedResource",
    "ForceReleased",
    "InvalidArgument",
    "LeaseholdError",
    "Listing",
    "Lock",
    "LockContext",
    "LockHeld",
    "LockInfo",
    "NotFound",
    "NotLockHolder",
    "PermissionDenied",
    "ReadResult",
    "ResourceExhausted",
    "ServerInfo",
    "Session",
    "SessionExpired",
    "SessionState",
    "StaleFencingToken",
    "Unauthenticated",
    "Unavailable",
    "Validation",
    "Waiter",
    "Watch",
    "WriteResult",
    "connect",
]
