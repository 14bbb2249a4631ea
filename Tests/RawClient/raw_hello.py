#!/usr/bin/env python3
"""A Leasehold client written from docs/protocol.md alone: no project code, no protobuf library.

Usage: raw_hello.py PORT. Says Hello, then calls an unknown method, and prints what it decoded as JSON.
Exits 0 only if the server answered Hello with OK, protocol_version 1 and principal "anonymous", and the
unknown method with UNIMPLEMENTED (12).
"""
import json, socket, struct, sys

def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out

def field(number, value):  # int -> varint (wire type 0); bytes/str -> length-delimited (wire type 2)
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data

def parse(data):  # -> {field number: [values]}
    fields, i = {}, 0
    def read_varint():
        nonlocal i
        shift = result = 0
        while True:
            byte = data[i]; i += 1
            result |= (byte & 0x7F) << shift; shift += 7
            if byte < 0x80:
                return result
    while i < len(data):
        key = read_varint()
        if key & 7 == 0:
            value = read_varint()
        elif key & 7 == 2:
            length = read_varint(); value = data[i:i + length]; i += length
        else:
            raise ValueError("unexpected wire type %d" % (key & 7))
        fields.setdefault(key >> 3, []).append(value)
    return fields

def call(sock, call_id, method, payload):
    frame = field(1, call_id) + field(2, method) + field(3, payload)  # Frame: call_id, method, payload
    sock.sendall(struct.pack(">I", len(frame)) + frame)
    header = sock.recv(4, socket.MSG_WAITALL)
    (length,) = struct.unpack(">I", header)
    reply = parse(sock.recv(length, socket.MSG_WAITALL))
    status = parse(reply.get(4, [b""])[0])  # Frame.status: Status{code=1, message=2}
    return reply[1][0], status.get(1, [0])[0], reply.get(3, [b""])[0]

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
call_id, code, payload = call(sock, 1, "leasehold.v1.Leasehold/Hello", field(1, 1) + field(2, "raw-python"))
hello = parse(payload)  # HelloResponse: server_version=1 server_id=2 protocol_version=3 max_frame_bytes=4 principal=5 roles=6
result = {
    "call_id": call_id, "code": code,
    "server_version": hello.get(1, [b""])[0].decode(), "protocol_version": hello.get(3, [0])[0],
    "max_frame_bytes": hello.get(4, [0])[0], "principal": hello.get(5, [b""])[0].decode(),
}
unknown_call_id, result["unknown_method_code"], _ = call(sock, 2, "leasehold.v1.Leasehold/NoSuchMethod", b"")
print(json.dumps(result))
ok = (call_id, code, result["protocol_version"], result["principal"], unknown_call_id, result["unknown_method_code"]) \
    == (1, 0, 1, "anonymous", 2, 12)
sys.exit(0 if ok else 1)
