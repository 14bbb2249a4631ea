"""A work-queue worker: several processes share one list of items, and each item is processed exactly once.

Run several at once against the same server and done-folder:

    python work_queue.py --server 127.0.0.1:7420 --done /tmp/done --items a,b,c,d,e,f &
    python work_queue.py --server 127.0.0.1:7420 --done /tmp/done --items a,b,c,d,e,f &

With several nodes (an active and standbys on PostgreSQL), give every address, comma-separated or with ``--server``
repeated: ``--server node1:7420,node2:7420``. A worker follows the active node, and when it changes, resumes its
session there, with its lock and fencing token, and carries on with the item it was processing.

Each worker walks the list and try-locks every item (``wait=0``): an item someone else holds is skipped, and looked
at again on the next pass. Under the lock it first checks the item's durable "done" record, so an item finished by
a worker that then died is not done twice; then it works, writes the record and releases. A worker killed mid-item
(``kill -9``) stops keeping its session alive: after the TTL the server releases its lock, and another worker takes
the item on a later pass. ``lock.lost`` is watched during the work, so a worker that can no longer be sure of its
lock stops before the server could give it to someone else.

Each line printed is ``start ITEM TOKEN PID`` or ``done ITEM TOKEN PID``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import leasehold


class LockLost(Exception):
    """The lock could be lost before the work finished: the work was abandoned, unrecorded."""


async def process(item: str, lock: leasehold.Lock, seconds: float) -> None:
    """The work itself (here: waiting), abandoned as soon as the lock may be lost."""
    try:
        await asyncio.wait_for(lock.lost.wait(), seconds)
    except TimeoutError:
        return  # the work took its time and the lock held throughout
    raise LockLost(item)


def record_done(done: Path, item: str, token: int) -> None:
    # O_EXCL: a second record of the same item is an error, never silently overwritten.
    fd = os.open(done / item, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as file:
        file.write(f"{token} {os.getpid()}\n")


async def work(servers: list[str], items: list[str], done: Path, ttl: float, seconds: float, prefix: str) -> None:
    async with await leasehold.connect(servers) as client:
        session = await client.open_session(ttl=ttl)
        while True:
            remaining = [item for item in items if not (done / item).exists()]
            if not remaining:
                break
            for item in remaining:
                try:
                    async with session.lock(f"{prefix}{item}", wait=0) as lock:
                        if (done / item).exists():
                            continue  # finished by another worker since this pass began
                        print(f"start {item} {lock.fencing_token} {os.getpid()}", flush=True)
                        await process(item, lock, seconds)
                        record_done(done, item, lock.fencing_token)
                        print(f"done {item} {lock.fencing_token} {os.getpid()}", flush=True)
                except leasehold.LockHeld:
                    continue  # someone else is processing it
                except (LockLost, leasehold.NotLockHolder):
                    continue  # not recorded: it will be taken again
            await asyncio.sleep(0.2)  # what is left is held by others: look again shortly
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--server",
        action="append",
        help="HOST:PORT of a node, or several comma-separated; may be repeated (default: $LEASEHOLD_SERVER or "
        "127.0.0.1:7420)",
    )
    parser.add_argument("--items", required=True, help="comma-separated item names")
    parser.add_argument("--done", required=True, type=Path, help="folder of the items' done records")
    parser.add_argument("--ttl", type=float, default=10.0, help="session TTL, seconds")
    parser.add_argument("--work", type=float, default=0.5, help="seconds of work per item")
    parser.add_argument("--prefix", default="jobs/", help="lock key prefix")
    args = parser.parse_args()
    args.done.mkdir(parents=True, exist_ok=True)
    items = [item for item in args.items.split(",") if item]
    texts = args.server or [os.environ.get("LEASEHOLD_SERVER", "127.0.0.1:7420")]
    servers = [address for text in texts for address in text.split(",") if address.strip()]
    asyncio.run(work(servers, items, args.done, args.ttl, args.work, args.prefix))


if __name__ == "__main__":
    main()
