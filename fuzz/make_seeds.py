#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses (fuzz/corpus/*) from hand-encoded golden frames and messages.

Run from the repository root; the output is committed. Encoding is done here by hand, from the protocol
(docs/protocol.md), so the seeds do not depend on the encoder under test.
"""
import os, struct

def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out

def field(number, value):
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data

def frame(call_id, method="", payload=b"", flags=0, timeout_ms=0, status=None):
    body = field(1, call_id)
    if method: body += field(2, method)
    if payload: body += field(3, payload)
    if status is not None: body += field(4, status)
    if flags: body += field(5, flags)
    if timeout_ms: body += field(6, timeout_ms)
    return struct.pack(">I", len(body)) + body

L = "leasehold.v1.Leasehold/"
hello = field(1, 1) + field(2, "seed") + field(3, "token")
acquire = field(1, 7) + field(2, "jobs/1") + field(3, 1000)
messages = {  # index into FuzzMessages.messageTypes -> encoding
    0: hello, 1: field(1, 10000) + field(2, "worker-1"), 2: field(1, 7) + field(2, bytes(16)), 3: field(1, 7),
    4: field(1, 7), 5: acquire, 6: field(1, 7) + field(2, "jobs/1") + field(3, 42),
    7: field(1, "jobs/1") + field(2, "stuck"), 8: field(1, "jobs/1"), 9: field(1, "jobs/1") + field(2, 42),
    10: field(1, "jobs/") + field(2, 10), 11: field(1, "jobs/") + field(2, 5),
    12: field(1, "orders/42") + field(2, 3) + field(3, b"\x00\x01") + field(4, "orders/42"),
    13: field(1, "orders/42"),
    17: field(1, 3),
    20: field(1, field(1, "jobs/1") + field(2, 7) + field(3, 42) + field(4, "ops") + field(5, 1) + field(6, 10000)),
    24: field(1, field(1, 5) + field(2, 1) + field(3, "jobs/1") + field(4, 7) + field(5, 5) + field(6, "ops")) + field(2, 5),
    27: field(1, 101) + field(2, "held") + field(4, 9),
}
streams = {
    "hello-acquire": frame(1, L + "Hello", hello) + frame(2, L + "Acquire", acquire, timeout_ms=500),
    "hello-watch-cancel": frame(1, L + "Hello", hello) + frame(2, L + "Watch", field(1, "jobs/"))
        + frame(2, flags=1),
    "echo": frame(1, L + "Hello", hello) + frame(2, "fuzz.Fuzz/Echo", field(1, "k") + field(2, "r"))
        + frame(3, "fuzz.Fuzz/Later", field(1, "hang"), timeout_ms=100) + frame(4, "fuzz.Fuzz/Later", field(1, "x"))
        + frame(4, flags=1) + frame(3, flags=1),
    "before-hello": frame(5, "fuzz.Fuzz/Echo", field(1, "k")) + frame(0, L + "Hello", hello),
    "half-frame": frame(1, L + "Hello", hello) + struct.pack(">I", 100) + b"\x08\x02",
    "too-large": struct.pack(">I", 1 << 30),
}
def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)

for index, data in messages.items():
    write("fuzz/corpus/messages", "m%02d" % index, bytes([index]) + data)
for name, data in streams.items():
    write("fuzz/corpus/frame", name, data)
    write("fuzz/corpus/connection", name, bytes([0x3F]) + data)        # whole reads
    write("fuzz/corpus/connection", name + "-bytewise", bytes([0x40]) + data)  # tiny reads, time moving
