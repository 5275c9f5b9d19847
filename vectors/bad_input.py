#!/usr/bin/env python3
"""Generate vectors/bad-input/: structurally bad messages (negative vectors).

Base messages are written by the OFFICIAL AWS Encryption SDK for Python with a
raw AES-256 keyring (key "aes-256" of vectors/esdk-python/keys.json, namespace
MyAppKeys), frame length 512 and a 3*512+7 = 1543-byte plaintext:

  v2u  suite 0x0478 (v2 header, committing, unsigned)
  v2s  suite 0x0578 (v2 header, committing, ECDSA P-384 signature)
  v1   suite 0x0178 (v1 header, unsigned)
  edk3 suite 0x0478 with 3 EDKs (multi keyring: AES-256 generator, AES-128 and
       AES-192 children)

Each case edits bytes of one base message. Every case expects an error:
  "result": {"error": {"error-description": "...", "cse-error-kind": "<kind>"}}
The kind is what the cse decryptor must report: it checks structure before
authentication (header fields as they are parsed, frame sequence numbers before
the frame tag, the final-frame length before decrypting), so e.g. a changed
header field is "malformed", not "header-auth". The EDK-limit case carries an
extra field "cse-max-encrypted-data-keys": 2 that the cse runner passes to the
decryptor.

Output (awses-decrypt manifest v2 layout) in vectors/bad-input/:
  manifest.json, keys.json (copy of vectors/esdk-python/keys.json),
  plaintexts/size-1543 (plaintext of every base message; no case expects it),
  ciphertexts/<case id>

Then it checks with the official SDK (tests/python/esdk_manifest.py, the code of
tests/python/interop.py decrypt) that every base message decrypts and every case
fails, and reports any case the official SDK accepts.

Run with the project venv:  .venv/bin/python vectors/bad_input.py
"""

import argparse
import collections
import hashlib
import io
import json
import os
import shutil
import struct
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

import aws_encryption_sdk  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.identifiers import Algorithm  # noqa: E402
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header  # noqa: E402

import esdk_manifest as em  # noqa: E402

OUT_DIR = os.path.join(HERE, "bad-input")
KEYS_SRC = os.path.join(HERE, "esdk-python", "keys.json")
NAMESPACE = "MyAppKeys"
FRAME = 512
SIZE = 3 * FRAME + 7
EC = {"purpose": "cse bad-input"}
MAX_EDKS_FIELD = "cse-max-encrypted-data-keys"


def plaintext():
    return hashlib.shake_256(b"cse bad-input vectors: plaintext v1").digest(SIZE)


# --------------------------------------------------------------------------
# Layout: byte offsets of every field, walked by hand and cross-checked with
# the SDK's own header deserializer.


class Layout:
    def __init__(self, msg):
        header, raw = deserialize_header(io.BytesIO(msg))
        self.msg = msg
        self.version = msg[0]
        u16 = lambda o: struct.unpack_from(">H", msg, o)[0]  # noqa: E731
        u32 = lambda o: struct.unpack_from(">I", msg, o)[0]  # noqa: E731
        if self.version == 1:
            assert msg[1] == 0x80
            self.suite_off = 2
            p = 4 + 16
        else:
            assert self.version == 2
            self.suite_off = 1
            p = 3 + 32
        self.ec_len_off = p
        p += 2 + u16(p)
        self.edk_count_off = p
        count = u16(p)
        p += 2
        self.edks = []  # dict of field offsets per EDK
        for _ in range(count):
            e = {"start": p, "pid_len": p}
            p += 2 + u16(p)
            e["pinfo_len"] = p
            p += 2 + u16(p)
            e["ct_len"] = p
            p += 2 + u16(p)
            e["end"] = p
            self.edks.append(e)
        self.content_type_off = p
        p += 1
        if self.version == 1:
            self.reserved_off = p
            p += 4
            self.iv_len_off = p
            p += 1
        self.frame_len_off = p
        p += 4
        if self.version == 2:
            p += 32  # suite data (commitment key)
        assert p == len(raw), "header walk disagrees with the SDK (%d vs %d)" % (p, len(raw))
        p += 16 if self.version == 2 else 12 + 16  # header auth
        self.header_end = p
        assert msg[self.content_type_off] == 2 and u32(self.frame_len_off) == header.frame_length
        fl = header.frame_length
        self.frames = []  # regular frames: (start, end)
        seq = 1
        while u32(p) != 0xFFFFFFFF:
            assert u32(p) == seq
            self.frames.append((p, p + 4 + 12 + fl + 16))
            p += 4 + 12 + fl + 16
            seq += 1
        assert u32(p + 4) == seq
        self.final_start = p
        self.final_len_off = p + 4 + 4 + 12
        p = self.final_len_off + 4 + u32(self.final_len_off) + 16
        self.body_end = p
        if p < len(msg):
            p += 2 + u16(p)
        assert p == len(msg)


def put(msg, off, data):
    b = bytearray(msg)
    b[off : off + len(data)] = data
    return bytes(b)


# --------------------------------------------------------------------------


def aes(key):
    return em.aes_master_key(key, NAMESPACE)


BASES = {
    # label: (suite, master keys, what)
    "v2u": (0x0478, [aes("aes-256")], "suite 0x0478 (v2 header, unsigned)"),
    "v2s": (0x0578, [aes("aes-256")], "suite 0x0578 (v2 header, signed)"),
    "v1": (0x0178, [aes("aes-256")], "suite 0x0178 (v1 header, unsigned)"),
    "edk3": (0x0478, [aes("aes-256"), aes("aes-128"), aes("aes-192")],
             "suite 0x0478 with 3 EDKs (multi keyring: AES-256 generator, AES-128 and AES-192 children)"),
}


def make_bases(factory, pt):
    clients = {
        True: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT),
        False: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
    }
    out = {}
    for label, (suite, mks, _what) in BASES.items():
        keyring = factory.keyring(mks, "encrypt")
        msg, _ = clients[suite in (0x0478, 0x0578)].encrypt(
            source=pt, keyring=keyring, algorithm=Algorithm.get_by_id(suite), frame_length=FRAME,
            encryption_context=dict(EC),
        )
        out[label] = msg
    return out


def cases(bases):
    """Yields (id, base label, kind, sentence, message, extra fields)."""
    L = {k: Layout(v) for k, v in bases.items()}
    u, s, v1 = bases["v2u"], bases["v2s"], bases["v1"]
    lu, l1 = L["v2u"], L["v1"]
    assert len(lu.frames) == 3 and len(L["edk3"].edks) == 3

    yield ("version-03", "v2u", "malformed",
           "The first byte (message format version) is 0x03, which does not exist.", put(u, 0, b"\x03"), {})
    yield ("suite-0999", "v2u", "malformed",
           "The algorithm suite ID is 0x0999, which is not a known suite.", put(u, lu.suite_off, b"\x09\x99"), {})
    yield ("v1-suite-0578", "v1", "malformed",
           "A v1 header (version byte 0x01) names suite 0x0578, a suite that only exists with v2 headers.",
           put(v1, l1.suite_off, b"\x05\x78"), {})
    yield ("v1-suite-0478", "v1", "malformed",
           "A v1 header (version byte 0x01) names suite 0x0478, a committing suite that only exists with v2 "
           "headers (unsigned, so no signature-key check can reject it first).",
           put(v1, l1.suite_off, b"\x04\x78"), {})
    assert len(u) < 0xFFFF
    yield ("ec-length-past-end", "v2u", "truncated",
           "The encryption-context length field says 65535 bytes, more than the whole %d-byte message." % len(u),
           put(u, lu.ec_len_off, b"\xff\xff"), {})
    yield ("edk-length-past-end", "v2u", "truncated",
           "The EDK's ciphertext length field says 65535 bytes, running past the end of the %d-byte message."
           % len(u), put(u, lu.edks[0]["ct_len"], b"\xff\xff"), {})
    yield ("frame-length-0", "v2u", "malformed",
           "The header's frame length is 0 while the content type is 0x02 (framed).",
           put(u, lu.frame_len_off, b"\x00\x00\x00\x00"), {})
    yield ("nonframed-with-frame-length", "v2u", "malformed",
           "The content type is 0x01 (non-framed) but the frame length field is 512, not 0.",
           put(u, lu.content_type_off, b"\x01"), {})
    (a0, a1), (b0, b1) = lu.frames[1], lu.frames[2]
    yield ("frames-2-3-swapped", "v2u", "malformed",
           "Regular frames 2 and 3 are swapped, so the frame after frame 1 has sequence number 3 (expected 2).",
           u[:a0] + u[b0:b1] + u[a0:a1] + u[b1:], {})
    f1 = lu.frames[0][0]
    yield ("frame1-seq-2", "v2u", "malformed",
           "The sequence number of the first frame is 2 (expected 1).", put(u, f1, struct.pack(">I", 2)), {})
    yield ("final-frame-length-513", "v2u", "malformed",
           "The final frame's content length is 513, more than the frame length 512.",
           put(u, lu.final_len_off, struct.pack(">I", FRAME + 1)), {})
    yield ("truncated-mid-frame-2", "v2u", "truncated",
           "The body ends in the middle of frame 2 (inside its encrypted content).",
           u[: a0 + 4 + 12 + FRAME // 2], {})
    yield ("trailing-byte", "v2u", "trailing-data",
           "One extra 0x00 byte follows the complete (unsigned) message.", u + b"\x00", {})
    yield ("second-copy", "v2s", "trailing-data",
           "A complete second copy of the (signed) message follows the first one.", s + s, {})
    yield ("edk-count-0", "v2u", "malformed",
           "The header's EDK count is 0; a message must have at least one encrypted data key.",
           put(u, lu.edk_count_off, b"\x00\x00"), {})
    yield ("v1-reserved-nonzero", "v1", "malformed",
           "The 4 reserved bytes of the v1 header are 00 00 00 01 instead of all zero.",
           put(v1, l1.reserved_off, b"\x00\x00\x00\x01"), {})
    yield ("v1-iv-length-16", "v1", "malformed",
           "The v1 header's IV length byte is 0x10 (16); the suite uses 12-byte IVs.",
           put(v1, l1.iv_len_off, b"\x10"), {})
    yield ("too-many-edks", "edk3", "too-many-edks",
           "An otherwise valid message with 3 encrypted data keys, decrypted with a limit of 2 encrypted data "
           "keys (%s)." % MAX_EDKS_FIELD, bases["edk3"], {MAX_EDKS_FIELD: 2})


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


def check(out_dir, bases, factory, pt, tests):
    """Checks with the official SDK; returns the number of problems."""
    problems = 0
    client = em.decrypt_client()
    for label, msg in bases.items():
        keyring = factory.keyring(BASES[label][1], "decrypt")
        got, _ = client.decrypt(source=msg, keyring=keyring)
        ok = got == pt
        problems += not ok
        print("  base %-5s %s, %d bytes: %s" % (label, BASES[label][2], len(msg),
                                              "decrypts to the plaintext" if ok else "PLAINTEXT MISMATCH"))
    passed, failed, skipped, results = em.run_decrypt_manifest(os.path.join(out_dir, "manifest.json"), out=sys.stdout)
    accepted = []
    for r in results:
        spec = tests[r.case.id]
        kind = spec["result"]["error"]["cse-error-kind"]
        if r.status == "pass" and r.detail.startswith("TrailingData"):
            verdict = "SDK decrypts the first message and ignores the rest; rejected only by the runner"
            accepted.append(r.case.id)
        elif r.status == "pass":
            verdict = "rejected: " + r.detail[:110]
        else:
            verdict = "%s: %s" % (r.status.upper(), r.detail[:110])
            accepted.append(r.case.id)
            if MAX_EDKS_FIELD not in spec:  # that one is checked below, with the limit
                problems += 1
        print("  %-28s %-14s %s" % (r.case.id, kind, verdict))
    # the EDK-limit case: the official SDK only fails it when given the same limit
    for cid, spec in tests.items():
        if MAX_EDKS_FIELD in spec:
            limited = aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
                max_encrypted_data_keys=spec[MAX_EDKS_FIELD],
            )
            keyring = factory.keyring(spec["master-keys"], "decrypt")
            with open(os.path.join(out_dir, "ciphertexts", cid), "rb") as f:
                data = f.read()
            try:
                limited.decrypt(source=data, keyring=keyring)
                print("  %-28s with max_encrypted_data_keys=%d: ACCEPTED" % (cid, spec[MAX_EDKS_FIELD]))
                problems += 1
            except Exception as e:  # noqa: BLE001
                print("  %-28s with max_encrypted_data_keys=%d: rejected: %s: %s"
                      % (cid, spec[MAX_EDKS_FIELD], type(e).__name__, str(e)[:80]))
    if accepted:
        print("accepted by the official SDK without the cse runner's extra rules: " + ", ".join(accepted))
    print(em.closing_line(passed, failed, skipped))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()

    keys_doc = em.load_json(KEYS_SRC)
    keys = {n: em.Key(n, spec) for n, spec in keys_doc["keys"].items()}
    factory = em.KeyringFactory(keys)
    pt = plaintext()
    bases = make_bases(factory, pt)

    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(KEYS_SRC, os.path.join(args.out, "keys.json"))
    for sub in ("plaintexts", "ciphertexts"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        os.makedirs(os.path.join(args.out, sub))
    with open(os.path.join(args.out, "plaintexts", "size-%d" % SIZE), "wb") as f:
        f.write(pt)

    tests = collections.OrderedDict()
    for cid, base, kind, sentence, msg, extra in cases(bases):
        with open(os.path.join(args.out, "ciphertexts", cid), "wb") as f:
            f.write(msg)
        spec = {
            "description": "%s (%s a %s message by %s %s: raw AES keyring, frame length %d, "
            "%d-byte plaintext plaintexts/size-%d)" % (sentence, "unchanged:" if msg == bases[base] else
                                                       "edited copy of", BASES[base][2], em.SDK_NAME,
                                                       em.SDK_VERSION, FRAME, SIZE, SIZE),
            "ciphertext": "file://ciphertexts/" + cid,
            "master-keys": BASES[base][1],
            "result": {"error": {"error-description": sentence, "cse-error-kind": kind}},
        }
        spec.update(extra)
        tests[cid] = spec
    write_json(os.path.join(args.out, "manifest.json"), {
        "manifest": {"type": "awses-decrypt", "version": 2},
        "client": {"name": em.SDK_NAME, "version": em.SDK_VERSION},
        "keys": "file://keys.json",
        "tests": tests,
    })
    kinds = collections.Counter(t["result"]["error"]["cse-error-kind"] for t in tests.values())
    print("wrote %d cases to %s: %s" % (len(tests), os.path.join(args.out, "manifest.json"),
                                        ", ".join("%s=%d" % kv for kv in sorted(kinds.items()))))
    if args.no_check:
        return 0
    print("check with the official SDK %s %s:" % (em.SDK_NAME, em.SDK_VERSION))
    return 1 if check(args.out, bases, factory, pt, tests) else 0


if __name__ == "__main__":
    sys.exit(main())
