#!/usr/bin/env python3
"""Live interop driver built on the OFFICIAL AWS Encryption SDK for Python.

  interop.py decrypt MANIFEST [-v]
      Runs every case of an awses-decrypt manifest (v1-v4; keys manifest v1-v3)
      with the official SDK (commitment policy REQUIRE_ENCRYPT_ALLOW_DECRYPT,
      so every suite is readable). Positive cases must decrypt to exactly the
      expected plaintext, error cases must fail. Ends with "N passed, M failed"
      and exits 1 if M > 0.

  interop.py encrypt --keys KEYS_JSON --out DIR [--verify]
      Writes DIR/manifest.json (awses-decrypt v4), DIR/keys.json (copy of
      KEYS_JSON), DIR/plaintexts/, DIR/ciphertexts/ with fresh official-SDK
      messages: 11 suites x 9 keyrings x EC {empty, non-ASCII} x
      {small: 100 bytes, multiframe: 3*4096+7 bytes}, frame length 4096.
      Plaintexts are random on every run.

Run with the project venv: .venv/bin/python tests/python/interop.py ...
"""

import argparse
import json
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aws_encryption_sdk  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.identifiers import Algorithm  # noqa: E402

import esdk_manifest as em  # noqa: E402

SUITES = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578]
COMMITTING = {0x0478, 0x0578}
NON_EMPTY_EC = {"größe": "ünïcödé 雪", "purpose": "cse vectors", "🔑": "値"}
FRAME_LENGTH = 4096
SIZES = [("small", 100), ("multiframe", 3 * FRAME_LENGTH + 7)]


def keyrings(namespace):
    rsa = lambda pad, h=None: em.rsa_master_key("rsa-4096-private", namespace, pad, h)  # noqa: E731
    out = [("rsa-pkcs1", [rsa("pkcs1")])]
    for h in ("sha1", "sha256", "sha384", "sha512"):
        out.append(("rsa-oaep-" + h, [rsa("oaep-mgf1", h)]))
    for bits in (128, 192, 256):
        out.append(("aes-%d" % bits, [em.aes_master_key("aes-%d" % bits, namespace)]))
    out.append(("multi", [rsa("oaep-mgf1", "sha256"), em.aes_master_key("aes-256", namespace)]))
    return out


def cmd_decrypt(args):
    t0 = time.time()
    try:
        passed, failed, skipped, results = em.run_decrypt_manifest(
            args.manifest, verbose=args.verbose, key_cache=not args.no_key_cache
        )
    except em.Unsupported as e:
        print("cannot run %s: %s" % (args.manifest, e), file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    for r in results:
        if r.status == "skip" and not args.verbose:
            print("SKIP %s: %s" % (r.case.id, r.detail))
    lenient = [r for r in results if r.status == "pass" and r.detail.startswith("TrailingData")]
    if lenient:
        print(
            "note: %d error case(s) decrypted by the SDK with bytes left over; counted as rejected "
            "because the runner checks that the whole input was consumed" % len(lenient)
        )
    print("official SDK %s %s, %.1f s" % (em.SDK_NAME, em.SDK_VERSION, time.time() - t0))
    print(em.closing_line(passed, failed, skipped))
    return 1 if failed else 0


def cmd_encrypt(args):
    t0 = time.time()
    keys = em.load_keys(args.keys)
    factory = em.KeyringFactory(keys)
    os.makedirs(args.out, exist_ok=True)
    keys_dst = os.path.join(args.out, "keys.json")
    if os.path.abspath(args.keys) != os.path.abspath(keys_dst):
        shutil.copyfile(args.keys, keys_dst)
    for sub in ("plaintexts", "ciphertexts"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        os.makedirs(os.path.join(args.out, sub))

    plaintexts = {}
    for name, size in SIZES:
        plaintexts[name] = os.urandom(size)
        with open(os.path.join(args.out, "plaintexts", name), "wb") as f:
            f.write(plaintexts[name])

    clients = {
        True: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT),
        False: aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
    }
    tests = {}
    errors = []
    skipped_keyrings = []
    for kr_label, master_keys in keyrings(args.provider_id):
        missing = [mk["key"] for mk in master_keys if mk["key"] not in keys]
        if missing:
            skipped_keyrings.append("%s (keys file lacks %s)" % (kr_label, ", ".join(missing)))
            continue
        keyring = factory.keyring(master_keys, "encrypt")
        for suite in SUITES:
            client = clients[suite in COMMITTING]
            for ec_label, ec in (("noec", {}), ("ec", NON_EMPTY_EC)):
                for size_label, _size in SIZES:
                    tid = "%04x-%s-%s-%s" % (suite, kr_label, size_label, ec_label)
                    try:
                        msg, _ = client.encrypt(
                            source=plaintexts[size_label],
                            keyring=keyring,
                            algorithm=Algorithm.get_by_id(suite),
                            frame_length=FRAME_LENGTH,
                            encryption_context=dict(ec),
                        )
                    except Exception as e:  # noqa: BLE001
                        errors.append("%s: %s: %s" % (tid, type(e).__name__, e))
                        continue
                    with open(os.path.join(args.out, "ciphertexts", tid), "wb") as f:
                        f.write(msg)
                    tests[tid] = {
                        "description": "Suite 0x%04x, keyring %s, %s plaintext, frame length %d, %s encryption "
                        "context; fresh message from %s %s"
                        % (suite, kr_label, size_label, FRAME_LENGTH, "non-empty" if ec else "empty",
                           em.SDK_NAME, em.SDK_VERSION),
                        "ciphertext": "file://ciphertexts/" + tid,
                        "master-keys": master_keys,
                        "cmm": "Default",
                        "encryption-context": dict(ec),
                        "result": {"output": {"plaintext": "file://plaintexts/" + size_label}},
                    }
    manifest = {
        "manifest": {"type": "awses-decrypt", "version": 4},
        "client": {"name": em.SDK_NAME, "version": em.SDK_VERSION},
        "keys": "file://keys.json",
        "tests": tests,
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    for s in skipped_keyrings:
        print("skipped keyring %s" % s)
    for e in errors:
        print("ENCRYPT FAILED %s" % e)
    print("wrote %d cases to %s (%.1f s)" % (len(tests), os.path.join(args.out, "manifest.json"), time.time() - t0))
    rc = 1 if errors else 0
    if args.verify:
        passed, failed, skipped, _ = em.run_decrypt_manifest(os.path.join(args.out, "manifest.json"))
        print("verify with the official SDK: " + em.closing_line(passed, failed, skipped))
        rc = rc or (1 if failed else 0)
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decrypt", help="run an awses-decrypt manifest with the official SDK")
    d.add_argument("manifest")
    d.add_argument("-v", "--verbose", action="store_true", help="print every case, not only failures")
    d.add_argument(
        "--no-key-cache",
        action="store_true",
        help="let the MPL re-parse the RSA private key on every decrypt (slow: ~0.4 s per RSA case)",
    )
    e = sub.add_parser("encrypt", help="write a fresh manifest of official-SDK ciphertexts")
    e.add_argument("--keys", required=True, help="keys manifest (v3) with rsa-4096-private, aes-128/192/256")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--provider-id", default="MyAppKeys", help="key namespace written into the EDKs")
    e.add_argument("--verify", action="store_true", help="decrypt the result back with the official SDK")
    args = ap.parse_args(argv)
    if args.cmd == "decrypt":
        return cmd_decrypt(args)
    return cmd_encrypt(args)


if __name__ == "__main__":
    sys.exit(main())
