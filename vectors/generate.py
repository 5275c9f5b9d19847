#!/usr/bin/env python3
"""Generate the esdk-python test-vector set with the OFFICIAL AWS Encryption SDK
for Python and its Material Providers Library (MPL) keyrings.

Output (official awses-decrypt layout) in vectors/esdk-python/:
  keys.json        keys manifest v3 (reused if present, so key material stays stable)
  manifest.json    awses-decrypt manifest v4
  plaintexts/      size-<n>: deterministic pseudo-random plaintexts
  ciphertexts/     <test id>: official-SDK messages (and tampered copies for the
                   negative cases)

Then it decrypts every case back with the official SDK (self-check) and prints
"N passed, M failed".

Run with the project venv:  .venv/bin/python vectors/generate.py
"""

import argparse
import base64
import collections
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

import aws_encryption_sdk  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.identifiers import Algorithm, ContentType, SerializationVersion  # noqa: E402
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

import esdk_manifest as em  # noqa: E402

OUT_DIR = os.path.join(HERE, "esdk-python")
NAMESPACE = "MyAppKeys"
RSA_KEY_NAME = "S3RSAKey"

SUITES = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578]
COMMITTING = {0x0478, 0x0578}
SIGNED = {0x0214, 0x0346, 0x0378, 0x0578}

FRAME_LENGTHS = [0, 512, 4096]
NON_FRAMED_SIZE_BASE = 4096

NON_EMPTY_EC = {"größe": "ünïcödé 雪", "purpose": "cse vectors", "🔑": "値"}
EC_VARIANTS = [("noec", {}), ("ec", NON_EMPTY_EC)]

PLAINTEXT_SEED = b"cse esdk-python test vectors: plaintext stream v1"


def keyrings():
    """(label, human description, master-keys list) for the 9 keyrings."""
    rsa_pk = lambda pad, h=None: em.rsa_master_key("rsa-4096-private", NAMESPACE, pad, h)  # noqa: E731
    out = [("rsa-pkcs1", "raw RSA-4096 PKCS#1 v1.5", [rsa_pk("pkcs1")])]
    for h in ("sha1", "sha256", "sha384", "sha512"):
        out.append(("rsa-oaep-" + h, "raw RSA-4096 OAEP-%s/MGF1-%s" % (h.upper(), h.upper()), [rsa_pk("oaep-mgf1", h)]))
    for bits in (128, 192, 256):
        name = "aes-%d" % bits
        out.append((name, "raw AES-%d-GCM" % bits, [em.aes_master_key(name, NAMESPACE)]))
    out.append(
        (
            "multi",
            "multi keyring (generator raw RSA-4096 OAEP-SHA256, child raw AES-256-GCM; two EDKs)",
            [rsa_pk("oaep-mgf1", "sha256"), em.aes_master_key("aes-256", NAMESPACE)],
        )
    )
    return out


def sizes_for(frame_length):
    f = frame_length or NON_FRAMED_SIZE_BASE
    return [0, 1, f - 1, f, f + 1, 3 * f + 7]


def plaintext_bytes(n):
    # Every plaintext is a prefix of one SHAKE-256 stream: reproducible anywhere.
    return hashlib.shake_256(PLAINTEXT_SEED).digest(n) if n else b""


def frame_label(fl):
    return "nonframed" if fl == 0 else "f%d" % fl


def case_id(suite, kr_label, fl, size, ec_label):
    return "%04x-%s-%s-s%d-%s" % (suite, kr_label, frame_label(fl), size, ec_label)


# --------------------------------------------------------------------------
# keys


def _rsa_pems(key):
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return priv, pub


def make_keys():
    main = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    other = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    priv, pub = _rsa_pems(main)
    other_priv, _ = _rsa_pems(other)

    def rsa_entry(kind, pem, decrypt):
        return {
            "type": kind,
            "key-id": RSA_KEY_NAME,
            "algorithm": "rsa",
            "bits": 4096,
            "encoding": "pem",
            "material": pem,
            "encrypt": True,
            "decrypt": decrypt,
        }

    keys = {
        "rsa-4096-private": rsa_entry("private", priv, True),
        "rsa-4096-public": rsa_entry("public", pub, False),
    }
    for bits in (128, 192, 256):
        name = "aes-%d" % bits
        keys[name] = {
            "type": "symmetric",
            "key-id": name,
            "algorithm": "aes",
            "bits": bits,
            "encoding": "base64",
            "material": base64.b64encode(os.urandom(bits // 8)).decode("ascii"),
            "encrypt": True,
            "decrypt": True,
        }
    keys["rsa-4096-other"] = rsa_entry("private", other_priv, True)
    return {"manifest": {"type": "keys", "version": 3}, "keys": keys}


REQUIRED_KEYS = {"rsa-4096-private", "rsa-4096-public", "aes-128", "aes-192", "aes-256", "rsa-4096-other"}


def load_or_make_keys(path):
    if os.path.exists(path):
        doc = em.load_json(path)
        missing = REQUIRED_KEYS - set(doc.get("keys", {}))
        if missing:
            sys.exit("%s exists but lacks %s; remove it to regenerate all keys" % (path, sorted(missing)))
        return doc, False
    return make_keys(), True


# --------------------------------------------------------------------------
# message layout (offsets for the negative cases)


class Layout:
    """Byte offsets of the parts of a message. The header length comes from the
    official SDK's own header deserializer; the rest is walked by hand."""

    def __init__(self, message):
        header, raw = deserialize_header(io.BytesIO(message))
        self.header = header
        self.version = 1 if header.version == SerializationVersion.V1 else 2
        self.header_body_len = len(raw)
        raw_h = raw
        if self.version == 1:
            self.suite_off = 2
            ec_len_off = 4 + 16
            self.auth_iv = (len(raw), 12)
            self.auth_tag = (len(raw) + 12, 16)
            self.header_len = len(raw) + 28
            self.content_type_off = len(raw) - 4 - 1 - 4 - 1
        else:
            self.suite_off = 1
            ec_len_off = 3 + 32
            self.auth_tag = (len(raw), 16)
            self.header_len = len(raw) + 16
            self.content_type_off = len(raw) - 32 - 4 - 1
            self.suite_data = (len(raw) - 32, 32)
            assert header.commitment_key == raw[-32:], "suite data is not where expected"
        assert raw_h[self.content_type_off] == (1 if header.content_type == ContentType.NO_FRAMING else 2)
        # encryption context entries: name -> (value offset, value length)
        (ec_len,) = struct.unpack_from(">H", raw, ec_len_off)
        self.ec_values = {}
        if ec_len:
            p = ec_len_off + 2
            (count,) = struct.unpack_from(">H", raw, p)
            p += 2
            for _ in range(count):
                (kl,) = struct.unpack_from(">H", raw, p)
                k = raw[p + 2 : p + 2 + kl].decode("utf-8")
                p += 2 + kl
                (vl,) = struct.unpack_from(">H", raw, p)
                self.ec_values[k] = (p + 2, vl)
                p += 2 + vl
            assert p == ec_len_off + 2 + ec_len
        parsed = {k: raw[o : o + n].decode("utf-8") for k, (o, n) in self.ec_values.items()}
        assert parsed == header.encryption_context, "EC parse disagrees with the SDK"

        # body
        p = self.header_len
        self.body_start = p
        self.frames = []  # (start, ciphertext offset, ciphertext length, tag offset)
        self.framed = header.content_type == ContentType.FRAMED_DATA
        if self.framed:
            fl = header.frame_length
            seq = 1
            while True:
                (marker,) = struct.unpack_from(">I", message, p)
                if marker == 0xFFFFFFFF:
                    (fseq,) = struct.unpack_from(">I", message, p + 4)
                    (clen,) = struct.unpack_from(">I", message, p + 20)
                    assert fseq == seq
                    self.final = (p, p + 24, clen, p + 24 + clen)
                    p += 24 + clen + 16
                    break
                assert marker == seq
                self.frames.append((p, p + 16, fl, p + 16 + fl))
                p += 16 + fl + 16
                seq += 1
        else:
            (clen,) = struct.unpack_from(">Q", message, p + 12)
            self.content = (p + 20, clen, p + 20 + clen)
            p += 20 + clen + 16
        self.body_end = p
        self.signature = None
        if p < len(message):
            (slen,) = struct.unpack_from(">H", message, p)
            self.signature = (p + 2, slen)
            p += 2 + slen
        assert p == len(message), "unexpected bytes after the message"


def flip(message, offset, bit=0x01):
    b = bytearray(message)
    b[offset] ^= bit
    return bytes(b)


def set_bytes(message, offset, new):
    b = bytearray(message)
    b[offset : offset + len(new)] = new
    return bytes(b)


# --------------------------------------------------------------------------
# generation


def algorithm(suite):
    return Algorithm.get_by_id(suite)


class Generator:
    def __init__(self, out_dir, keys_doc):
        self.out_dir = out_dir
        self.keys_doc = keys_doc
        self.keys = {n: em.Key(n, s) for n, s in keys_doc["keys"].items()}
        self.factory = em.KeyringFactory(self.keys)
        self.clients = {
            "forbid": aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
            ),
            "require": aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
            ),
        }
        self.tests = collections.OrderedDict()
        self.messages = {}  # positive id -> bytes
        self.refused = []  # (id, error) combinations the SDK refused
        self.observations = collections.defaultdict(collections.Counter)
        self.plaintexts = {}

    def plaintext(self, n):
        if n not in self.plaintexts:
            self.plaintexts[n] = plaintext_bytes(n)
            with open(os.path.join(self.out_dir, "plaintexts", "size-%d" % n), "wb") as f:
                f.write(self.plaintexts[n])
        return self.plaintexts[n]

    def write_ciphertext(self, tid, data):
        with open(os.path.join(self.out_dir, "ciphertexts", tid), "wb") as f:
            f.write(data)
        return "file://ciphertexts/" + tid

    def observe(self, suite, fl, size, msg):
        lay = Layout(msg)
        obs = self.observations
        ver = lay.version
        obs["header version by suite"]["%04x:v%d" % (suite, ver)] += 1
        ctype = msg[lay.content_type_off]
        obs["content-type byte"]["%s/v%d -> %d" % (frame_label(fl), ver, ctype)] += 1
        if fl and size and size % fl == 0:
            obs["exact multiple: final frame length"]["%d" % lay.final[2]] += 1
        if fl:
            obs["frames (regular+final) for size"]["f%d s%d -> %d+1" % (fl, size, len(lay.frames))] += 1
        if lay.signature:
            obs["signature length"]["%04x: %d" % (suite, lay.signature[1])] += 1
        keys = list(lay.header.encryption_context.keys())
        obs["header EC key order"][" ".join(repr(k) for k in keys) or "(empty)"] += 1
        return lay

    def positive(self):
        for suite in SUITES:
            alg = algorithm(suite)
            client = self.clients["require" if suite in COMMITTING else "forbid"]
            for kr_label, kr_desc, master_keys in keyrings():
                keyring = self.factory.keyring(master_keys, "encrypt")
                for fl in FRAME_LENGTHS:
                    for size in sizes_for(fl):
                        pt = self.plaintext(size)
                        for ec_label, ec in EC_VARIANTS:
                            tid = case_id(suite, kr_label, fl, size, ec_label)
                            try:
                                msg, _hdr = client.encrypt(
                                    source=pt,
                                    keyring=keyring,
                                    algorithm=alg,
                                    frame_length=fl,
                                    encryption_context=dict(ec),
                                )
                            except Exception as e:  # noqa: BLE001
                                self.refused.append((tid, "%s: %s" % (type(e).__name__, e)))
                                continue
                            self.observe(suite, fl, size, msg)
                            self.messages[tid] = msg
                            self.tests[tid] = {
                                "description": "Suite 0x%04x, %s, %s, %d-byte plaintext, %s encryption context; "
                                "encrypted by %s %s"
                                % (
                                    suite,
                                    kr_desc,
                                    "non-framed" if fl == 0 else "frame length %d" % fl,
                                    size,
                                    "non-empty" if ec else "empty",
                                    em.SDK_NAME,
                                    em.SDK_VERSION,
                                ),
                                "ciphertext": self.write_ciphertext(tid, msg),
                                "master-keys": master_keys,
                                "cmm": "Default",
                                "encryption-context": dict(ec),
                                "result": {"output": {"plaintext": "file://plaintexts/size-%d" % size}},
                            }

    def negative(self):
        rsa256 = "rsa-oaep-sha256"
        bases = [
            case_id(0x0578, rsa256, 4096, 3 * 4096 + 7, "ec"),
            case_id(0x0478, rsa256, 4096, 3 * 4096 + 7, "ec"),
            case_id(0x0578, rsa256, 0, 3 * 4096 + 7, "ec"),
            case_id(0x0378, rsa256, 512, 3 * 512 + 7, "ec"),
            case_id(0x0178, rsa256, 0, 3 * 4096 + 7, "ec"),
            case_id(0x0014, "aes-256", 512, 3 * 512 + 7, "ec"),
        ]
        for base in bases:
            if base not in self.messages:
                sys.exit("base message %s was not generated" % base)
            self._negatives_for(base, self.messages[base], self.tests[base])

    def _add_negative(self, base, suffix, kind, sentence, message=None, master_keys=None, reproduced_ec=None):
        tid = "neg-%s-%s" % (base, suffix)
        base_spec = self.tests[base]
        spec = {
            "description": "%s (tampered copy of %s)" % (sentence, base)
            if message is not None
            else "%s (message %s)" % (sentence, base),
            "ciphertext": self.write_ciphertext(tid, message) if message is not None else base_spec["ciphertext"],
            "master-keys": master_keys if master_keys is not None else base_spec["master-keys"],
            "cmm": "Default",
            "encryption-context": base_spec["encryption-context"] if reproduced_ec is None else reproduced_ec,
            "result": {"error": {"error-description": sentence, "cse-error-kind": kind}},
        }
        self.tests[tid] = spec

    def _negatives_for(self, base, msg, base_spec):
        lay = Layout(msg)
        suite = lay.header.algorithm.algorithm_id
        add = lambda *a, **k: self._add_negative(base, *a, **k)  # noqa: E731
        aes_only = all(mk["encryption-algorithm"] == "aes" for mk in base_spec["master-keys"])

        # header-auth
        tag_off, _ = lay.auth_tag
        add("header-auth-tag", "header-auth", "One bit of the header authentication tag is flipped, so the header "
            "tag does not verify.", flip(msg, tag_off + 7, 0x10))
        voff, vlen = lay.ec_values["purpose"]
        ec_msg = flip(msg, voff, 0x01)  # 'c' -> 'b': still valid UTF-8
        # No reproduced EC here: with one, the CMM's reproduced-EC comparison
        # would reject the message before the check this case is about.
        if aes_only:
            add("header-ec-value", "no-decryptable-key", "One bit inside an encryption-context value in the header "
                "is flipped; the raw AES keyring binds the encryption context as AES-GCM AAD, so the data key "
                "cannot be unwrapped.", ec_msg, reproduced_ec={})
        else:
            add("header-ec-value", "header-auth", "One bit inside an encryption-context value in the header is "
                "flipped, so the header authentication tag does not verify.", ec_msg, reproduced_ec={})

        # commitment
        if lay.version == 2:
            soff, _ = lay.suite_data
            add("commit-key", "commitment", "One bit of the 32-byte key commitment (suite data) in the v2 header "
                "is flipped, so the commitment check fails.", flip(msg, soff + 11, 0x04))

        # frame-auth
        if lay.framed:
            f2 = lay.frames[1]
            add("frame2-ciphertext", "frame-auth", "One bit of the ciphertext of frame 2 is flipped, so that "
                "frame's AES-GCM tag does not verify.", flip(msg, f2[1] + f2[2] // 2, 0x80))
            add("final-frame-tag", "frame-auth", "One bit of the final frame's AES-GCM tag is flipped.",
                flip(msg, lay.final[3] + 15, 0x01))
        else:
            coff, clen, _ = lay.content
            add("content", "frame-auth", "One bit of the non-framed encrypted content is flipped, so its AES-GCM "
                "tag does not verify.", flip(msg, coff + clen // 2, 0x80))

        # signature
        if suite in SIGNED:
            sig_off, sig_len = lay.signature
            assert sig_off + sig_len == len(msg)
            add("signature", "signature", "One bit of the last byte of the footer's ECDSA signature is flipped, so "
                "the signature does not verify.", flip(msg, len(msg) - 1, 0x01))

        # truncated
        add("truncated-in-header", "truncated", "The message is cut in the middle of the header.",
            msg[: lay.header_body_len // 2])
        add("truncated-after-header", "truncated", "The message is cut right after the header (header "
            "authentication included); the body is missing.", msg[: lay.header_len])
        add("truncated-mid-body", "truncated", "The message is cut in the middle of the body.",
            msg[: (lay.body_start + lay.body_end) // 2])
        if lay.signature:
            add("truncated-before-footer", "truncated", "The message is cut right before the footer; the "
                "signature of this signed suite is missing.", msg[: lay.body_end])
        add("truncated-last-byte", "truncated", "The message is one byte short of its end.", msg[:-1])

        # trailing data
        add("trailing-byte", "trailing-data", "A single 0x00 byte follows a complete message; input after the "
            "end of a message must be rejected.", msg + b"\x00")

        # wrong key
        other = [dict(mk, key="rsa-4096-other") if mk["encryption-algorithm"] == "rsa" else None
                 for mk in base_spec["master-keys"]]
        other = [mk for mk in other if mk is not None] or [
            em.rsa_master_key("rsa-4096-other", NAMESPACE, "oaep-mgf1", "sha256")]
        add("wrong-key", "no-decryptable-key", "Decrypting with a different RSA-4096 private key (same namespace "
            "and key name) cannot unwrap any encrypted data key.", master_keys=other)

        # malformed
        add("version-03", "malformed", "The message format version byte is set to 0x03, which does not exist.",
            set_bytes(msg, 0, b"\x03"))
        add("suite-0000", "malformed", "The algorithm suite ID is set to 0x0000, which is reserved/invalid.",
            set_bytes(msg, lay.suite_off, b"\x00\x00"))
        add("suite-0070", "malformed", "The algorithm suite ID is set to 0x0070 (an S3 Encryption Client suite), "
            "which is not an ESDK suite.", set_bytes(msg, lay.suite_off, b"\x00\x70"))


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT_DIR, help="output folder (default: vectors/esdk-python)")
    ap.add_argument("--no-check", action="store_true", help="skip the decrypt self-check")
    args = ap.parse_args()
    t0 = time.time()
    em.enable_rsa_key_cache()

    os.makedirs(args.out, exist_ok=True)
    keys_path = os.path.join(args.out, "keys.json")
    keys_doc, new_keys = load_or_make_keys(keys_path)
    for sub in ("plaintexts", "ciphertexts"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        os.makedirs(os.path.join(args.out, sub))
    if new_keys:
        write_json(keys_path, keys_doc)

    gen = Generator(args.out, keys_doc)
    gen.positive()
    n_pos = len(gen.tests)
    gen.negative()
    n_neg = len(gen.tests) - n_pos
    manifest = {
        "manifest": {"type": "awses-decrypt", "version": 4},
        "client": {"name": em.SDK_NAME, "version": em.SDK_VERSION},
        "keys": "file://keys.json",
        "tests": gen.tests,
    }
    write_json(os.path.join(args.out, "manifest.json"), manifest)
    t_gen = time.time() - t0

    print("keys: %s (%s)" % (keys_path, "generated" if new_keys else "reused"))
    print("official SDK: %s %s" % (em.SDK_NAME, em.SDK_VERSION))
    print("positive cases: %d" % n_pos)
    by = collections.Counter()
    for tid in gen.messages:
        suite, rest = tid.split("-", 1)
        by["suite " + suite] += 1
    for k in sorted(by):
        print("  %-14s %d" % (k, by[k]))
    kr = collections.Counter()
    fr = collections.Counter()
    for tid in gen.messages:
        for label, _d, _m in keyrings():
            if tid[5:].startswith(label + "-"):
                kr[label] += 1
        for fl in FRAME_LENGTHS:
            if "-%s-" % frame_label(fl) in tid:
                fr[frame_label(fl)] += 1
    print("  keyrings:", ", ".join("%s=%d" % kv for kv in kr.items()))
    print("  framing: ", ", ".join("%s=%d" % kv for kv in fr.items()))
    print("negative cases: %d" % n_neg)
    kinds = collections.Counter(
        t["result"]["error"]["cse-error-kind"] for t in gen.tests.values() if "error" in t["result"]
    )
    for k in sorted(kinds):
        print("  %-20s %d" % (k, kinds[k]))
    if gen.refused:
        print("REFUSED by the SDK (%d combinations):" % len(gen.refused))
        for tid, err in gen.refused:
            print("  %s: %s" % (tid, err))
    else:
        print("refused by the SDK: none")
    print("observations:")
    for group, counter in gen.observations.items():
        print("  %s:" % group)
        for k, v in sorted(counter.items()):
            print("    %s  (x%d)" % (k, v))
    print("generation time: %.1f s" % t_gen)

    if args.no_check:
        return 0
    t1 = time.time()
    print("self-check: decrypting every case with the official SDK ...")
    passed, failed, skipped, results = em.run_decrypt_manifest(os.path.join(args.out, "manifest.json"))
    notes = collections.Counter()
    for r in results:
        if r.status == "pass" and r.case.expects_error and r.detail.startswith("TrailingData"):
            notes["trailing-data rejected by the runner (the SDK itself ignores trailing bytes)"] += 1
    for k, v in notes.items():
        print("  note: %d x %s" % (v, k))
    print("self-check time: %.1f s" % (time.time() - t1))
    print(em.closing_line(passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
