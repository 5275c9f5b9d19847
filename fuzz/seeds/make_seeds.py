#!/usr/bin/env python3
"""Writes the large-header seeds of the `decrypt` fuzz target into fuzz/seeds/decrypt/.

Headers of suite 0x0478 (v2, committing, unsigned) with hundreds of encrypted data keys,
key names holding terminal control bytes, and a valid vector's header with its frame length
raised to 2^30; none authenticates, so the fuzzer starts from the parser's long paths.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decrypt")
VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "vectors", "esdk-python")


def u16_field(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def header(edks, frame_length=4096, context=b"") -> bytes:
    out = bytes([2]) + struct.pack(">H", 0x0478) + bytes(range(32))
    out += u16_field(context)
    out += struct.pack(">H", len(edks))
    for pid, info, ct in edks:
        out += u16_field(pid) + u16_field(info) + u16_field(ct)
    out += bytes([2]) + struct.pack(">I", frame_length) + bytes(32)  # framed, commitment
    return out + bytes(16)  # header tag


def aes_info(name: bytes, iv: bytes) -> bytes:
    return name + struct.pack(">II", 128, 12) + iv


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "keys-300-aes": header(
            [(b"MyAppKeys", aes_info(b"aes-256", bytes([i % 256]) * 12), bytes(48)) for i in range(300)]
        ),
        "keys-1000-nobody": header([(b"nobody", b"none", bytes(range(40))) for _ in range(1000)]),
        "keys-200-control-bytes": header(
            [(b"\x1b]52;c;ZXZpbA==\x07", b"\x1b[2J\x1b[1;1Hok\r", bytes(16)) for _ in range(200)]
        ),
    }
    # A real message's header with the frame length raised to 2^30, then the start of a frame.
    with open(os.path.join(VECTORS, "ciphertexts", "0478-aes-256-f4096-s1-noec"), "rb") as f:
        msg = bytearray(f.read())
    ec_len = struct.unpack(">H", msg[35:37])[0]
    at = 37 + ec_len
    count = struct.unpack(">H", msg[at : at + 2])[0]
    at += 2
    for _ in range(count * 3):
        at += 2 + struct.unpack(">H", msg[at : at + 2])[0]
    at += 1  # content type
    msg[at : at + 4] = struct.pack(">I", 1 << 30)
    seeds["frame-2pow30"] = bytes(msg[: at + 4 + 32 + 16]) + struct.pack(">I", 1) + bytes(64)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
