"""Hostile ESDK messages: what an attacker who can write an object (or a file) hands to cse.

Each generator returns bytes (or writes a file) that cse must refuse quickly, in bounded
memory, with a short and inert error (exit status 4). Headers built from scratch use format
version 2 and suite 0x0478 (committing, unsigned); where a *valid* header is needed (the
body rows), the official Python SDK writes it with the raw RSA keyring MyAppKeys/S3RSAKey,
OAEP-SHA256, from the public key alone, as anyone holding the public key could.

    python hostile.py ROW OUT [--public-key public_key.pem]     (ROW: see ROWS)

Layout of a v2 header (ESDK message format):
    version 0x02 | suite u16 | message id 32 | AAD length u16 | AAD (count u16, pairs)
    | EDK count u16 | EDKs (id len u16, id, info len u16, info, key len u16, key)
    | content type u8 (1 non-framed, 2 framed) | frame length u32 | suite data 32 | tag 16
"""

from __future__ import annotations

import os
import struct
import sys

SUITE_0478 = 0x0478
FRAMED, NON_FRAMED = 2, 1

# Terminal attacks: OSC (set the window title, then BEL), CSI (clear screen, move, colours),
# a bare CR (overwrite the line), DEL, C1 CSI (U+009B), a right-to-left override.
ESC_TEXT = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\x1b[31mRED\r\x7f\u009b31m\u202eevil"
ESC_BYTES = b"\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\\x9b2J\x07\r\x00"


def edk(provider_id: bytes, provider_info: bytes, key: bytes) -> bytes:
    return b"".join(struct.pack(">H", len(x)) + x for x in (provider_id, provider_info, key))


def v2_header(edks: list[bytes] | bytes, count: int | None = None, content_type: int = FRAMED,
              frame_length: int = 4096, context: bytes = b"") -> bytes:
    """A v2 header (tag included, random) holding `edks` (already serialized)."""
    body = edks if isinstance(edks, bytes) else b"".join(edks)
    n = count if count is not None else len(edks)
    return b"".join([
        b"\x02",
        struct.pack(">H", SUITE_0478),
        os.urandom(32),
        struct.pack(">H", len(context)),
        context,
        struct.pack(">H", n),
        body,
        struct.pack(">BI", content_type, frame_length),
        os.urandom(32),  # commitment key
        os.urandom(16),  # header tag
    ])


def with_tail(header: bytes, tail: int = 4096) -> bytes:
    """The header and some body bytes (a frame start and noise), so nothing ends early."""
    return header + struct.pack(">I", 1) + os.urandom(12 + tail)


# -- rows a-c: headers that must be refused before any work ---------------------------------


def many_edks_for_nobody(count: int = 65535) -> bytes:
    """a. ~3 MiB of header: `count` data keys for a provider nobody has."""
    one = edk(b"nobody", os.urandom(18), os.urandom(20))
    return with_tail(v2_header(one * count, count=count))


def many_rsa_edks(count: int = 6000) -> bytes:
    """b. `count` data keys naming MyAppKeys/S3RSAKey, each 512 bytes of random ciphertext
    (every one would cost an RSA-4096 private-key operation)."""
    edks = [edk(b"MyAppKeys", b"S3RSAKey", os.urandom(512)) for _ in range(count)]
    return with_tail(v2_header(edks))


def escape_edks(count: int) -> bytes:
    """c. `count` data keys whose provider ids and infos hold terminal escape sequences."""
    edks = []
    for i in range(count):
        pid = f"{ESC_TEXT}{i}".encode()
        info = ESC_BYTES + str(i).encode()
        edks.append(edk(pid, info, os.urandom(32)))
    return with_tail(v2_header(edks))


# -- rows d-e: a valid header, then a body that would make a naive reader buffer forever ----


def public_keyring(public_pem: bytes):
    from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import CreateRawRsaKeyringInput, PaddingScheme

    providers = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return providers.create_raw_rsa_keyring(
        input=CreateRawRsaKeyringInput(
            key_namespace="MyAppKeys",
            key_name="S3RSAKey",
            padding_scheme=PaddingScheme.OAEP_SHA256_MGF1,
            public_key=public_pem,
        )
    )


def official_message(public_pem: bytes, frame_length: int, plaintext: bytes = b"hostile body") -> bytes:
    """A message written by the official Python SDK with the public key alone."""
    import aws_encryption_sdk
    from aws_encryption_sdk import CommitmentPolicy

    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    message, _ = client.encrypt(source=plaintext, keyring=public_keyring(public_pem), frame_length=frame_length)
    return message


def header_length(message: bytes) -> int:
    """Length of a v1 or v2 header, its authentication (IV and tag for v1, tag for v2) included."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(message):
            raise ValueError("message shorter than its header")
        piece = message[pos:pos + n]
        pos += n
        return piece

    def u16() -> int:
        return struct.unpack(">H", take(2))[0]

    version = take(1)[0]
    if version == 1:
        take(1)  # type
    suite = u16()
    take(16 if version == 1 else 32)
    take(u16())  # encryption context
    for _ in range(u16()):
        take(u16())
        take(u16())
        take(u16())
    take(1)  # content type
    if version == 1:
        take(4)  # reserved
        iv_len = take(1)[0]
    take(4)  # frame length
    if version == 2:
        take(32 if suite in (0x0478, 0x0578) else 0)
        take(16)
    else:
        take(iv_len + 16)
    return pos


def valid_header(public_pem: bytes, frame_length: int) -> bytes:
    message = official_message(public_pem, frame_length)
    return message[:header_length(message)]


def huge_frame_header(public_pem: bytes) -> bytes:
    """d. A valid header declaring frames of 2^30 bytes, and the start of the first frame
    (sequence number 1, IV); an endless stream of ciphertext is to follow."""
    return valid_header(public_pem, 1 << 30) + struct.pack(">I", 1) + os.urandom(12)


NON_FRAMED_MAX = (1 << 36) - 32


def huge_non_framed_header(public_pem: bytes, declared: int = NON_FRAMED_MAX) -> bytes:
    """e. A valid non-framed header, then the body's IV and a declared length of 2^36 - 32
    bytes (the format's maximum); the ciphertext is to follow."""
    message = official_message(public_pem, 0)
    head = message[:header_length(message)]
    iv = message[len(head):len(head) + 12]
    return head + iv + struct.pack(">Q", declared)


def write_with_noise(path, head: bytes, total: int) -> None:
    """`head` then random bytes up to `total` bytes (random data is not compressible by a
    filesystem or a transport)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(head)
        left = total - len(head)
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def endless(head: bytes, out) -> None:
    """Writes `head`, then random blocks until the reader goes away."""
    block = os.urandom(1 << 16)
    try:
        out.write(head)
        while True:
            out.write(block)
    except (BrokenPipeError, ValueError, OSError):
        return


ROWS = {
    "many-edks": lambda pem: many_edks_for_nobody(),
    "rsa-edks": lambda pem: many_rsa_edks(),
    "escape-edks": lambda pem: escape_edks(5000),
    "escape-edks-few": lambda pem: escape_edks(12),
    "huge-frame": lambda pem: huge_frame_header(pem) + os.urandom(1 << 20),
    "huge-non-framed": lambda pem: huge_non_framed_header(pem) + os.urandom(1 << 20),
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ROWS:
        print(f"usage: hostile.py {{{','.join(ROWS)}}} OUT [--public-key PEM]", file=sys.stderr)
        return 2
    pem = b""
    if "--public-key" in argv:
        with open(argv[argv.index("--public-key") + 1], "rb") as f:
            pem = f.read()
    with open(argv[1], "wb") as f:
        f.write(ROWS[argv[0]](pem))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
