"""Fenced writes against the ``fenced-resource`` sample: a holder that lost its lock is refused.

    leasehold serve &                                             # 127.0.0.1:7420
    fenced-resource serve --lock-server 127.0.0.1:7420 &          # 127.0.0.1:7430
    python fenced_write.py

Holder A takes the lock and writes with its fencing token; A's lock ends (here: a release; in real life, a pause
past the TTL); B takes the lock, with a higher token, and writes; A writes again with its old token and the
resource refuses it with ``StaleFencingToken``. Exits 0 when that refusal happened.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import leasehold


async def demo(server: str, resources: str, key: str, resource: str) -> bool:
    async with await leasehold.connect(server) as client, await leasehold.FencedResource.connect(resources) as store:
        a = await client.open_session(ttl=10.0, name="holder-a")
        b = await client.open_session(ttl=10.0, name="holder-b")

        lock_a = await a.acquire(key, wait=10.0)
        written = await store.write(resource, b"from A", fencing_token=lock_a.fencing_token, lock_key=key)
        print(f"A wrote with token {lock_a.fencing_token}: version {written.version}")
        await lock_a.release()  # A's lock ends

        async with b.lock(key, wait=10.0) as lock_b:
            written = await store.write(resource, b"from B", fencing_token=lock_b.fencing_token, lock_key=key)
            print(f"B wrote with token {lock_b.fencing_token}: version {written.version}")

        try:
            await store.write(resource, b"late write from A", fencing_token=lock_a.fencing_token, lock_key=key)
        except leasehold.StaleFencingToken as error:
            print(f"A's late write refused: {error.code}, highest token {error.highest_token}")
            refused = True
        else:
            print("A's late write was accepted: the resource is not fenced")
            refused = False
        current = await store.read(resource)
        print(f"{resource} holds {current.data!r} (version {current.version}, highest token {current.highest_token})")
        return refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("LEASEHOLD_SERVER", "127.0.0.1:7420"))
    parser.add_argument("--resource-server", default="127.0.0.1:7430")
    parser.add_argument("--key", default="resources/report")
    parser.add_argument("--resource", default="report")
    args = parser.parse_args()
    refused = asyncio.run(demo(args.server, args.resource_server, args.key, args.resource))
    sys.exit(0 if refused else 1)


if __name__ == "__main__":
    main()
