#!/usr/bin/env python3
"""Run an awses-decrypt-generate manifest (docs/esdk-format-notes.md §10.4) with the OFFICIAL AWS
Encryption SDK for Python, producing tampered (negative) test vectors.

The official Python "test vector handlers" (awses-full-message-decrypt-generate)
are not published on PyPI, so this script is the project's own implementation
of the same generation step. It reads an input manifest of type
"awses-decrypt-generate" version 2:

  {"manifest": {"type": "awses-decrypt-generate", "version": 2},
   "keys": "file://keys.json",
   "plaintexts": {"small": 10},
   "tests": {"<name>": {"encryption-scenario": {"plaintext": "small", "algorithm": "0478",
                                                "frame-size": 512, "encryption-context": {...},
                                                "master-keys": [<master-key description>, ...]},
                        "tampering": <see below, optional>,
                        "decryption-master-keys": [...],   (optional)
                        "result": {...}}}}                 (optional, untampered scenarios only)

and writes, into the output folder, the official decrypt layout: manifest.json
(awses-decrypt version 2), keys.json, plaintexts/<name>, ciphertexts/<uuid>.

Every message is encrypted by the official SDK with MPL keyrings. Tampering:
  (none)                         one positive case: result.output = the plaintext
  "truncate"                     one case per prefix length 1 .. n-1 of the message
  "mutate"                       one case per bit of the message, that single bit flipped
                                 (bit k = byte k // 8, mask 0x80 >> (k % 8))
  "half-sign"                    an unsigned-suite message whose header encryption context
                                 carries aws-crypto-public-key: the materials are requested
                                 for the signed suite with the same data-key length, then the
                                 suite is switched to the unsigned one and the signing key is
                                 dropped before the SDK writes the message, so the header auth
                                 tag and all frames are valid
  {"change-edk-provider-info": [s, ...]}
                                 one case per string s: every EDK's provider info is replaced
                                 by UTF-8(s) before the SDK writes the header (header auth tag
                                 valid, but no keyring recognizes the EDK any more)
Error descriptions follow the official tool's wording ("Truncated at byte N",
"Bit N flipped", "Unsigned message using a data key with a public key",
"Incorrect encrypted data key provider info: s"). Plaintexts are the byte "a"
repeated, as in the official generator. Case names are UUIDs (uuid5 of the
scenario name and index, so they are stable across runs; the bytes are not,
since the SDK picks a fresh data key and message ID each time).

After writing, every case is decrypted with the official SDK (tests/python/
esdk_manifest.py): positive cases must give the plaintext, tampered ones must
fail. Ends with "N passed, M failed".

Run with the project venv:
  .venv/bin/python vectors/official_tamper.py \
      --input vectors/official-tampered/generate-input.json --output vectors/official-tampered
"""

import argparse
import collections
import json
import os
import shutil
import sys
import time
import uuid

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

import attr  # noqa: E402
import aws_encryption_sdk  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.identifiers import Algorithm  # noqa: E402
from aws_encryption_sdk.materials_managers.mpl.cmm import CryptoMaterialsManagerFromMPL  # noqa: E402
from aws_encryption_sdk.materials_managers.mpl.materials import EncryptionMaterialsFromMPL  # noqa: E402
from aws_encryption_sdk.structures import EncryptedDataKey, MasterKeyInfo  # noqa: E402
from aws_cryptographic_material_providers.mpl.models import (  # noqa: E402
    CreateDefaultCryptographicMaterialsManagerInput,
)

import esdk_manifest as em  # noqa: E402

COMMITTING = {0x0478, 0x0578}

# Unsigned suite -> signed suite with the same data-key length, used to obtain
# materials that carry aws-crypto-public-key for "half-sign". (The official tool
# only implements 0x0478 <- 0x0578; the others are this script's extension.)
HALF_SIGN_SOURCE = {
    0x0478: 0x0578,
    0x0014: 0x0214,
    0x0114: 0x0214,
    0x0046: 0x0346,
    0x0146: 0x0346,
    0x0078: 0x0378,
    0x0178: 0x0378,
}

# Fixed namespace for the uuid5 case names of this generator.
CASE_NAMESPACE = uuid.UUID("6f0e3c52-4d3b-5b7e-9a55-0c5e1f2a7d10")


# --------------------------------------------------------------------------
# Tampering materials


class _TamperedMaterials(EncryptionMaterialsFromMPL):
    """MPL encryption materials with some properties overridden."""

    def __init__(self, inner, algorithm=None, drop_signing_key=False, provider_info=None):
        super().__init__(inner.mpl_materials)
        self._algorithm = algorithm
        self._drop_signing_key = drop_signing_key
        self._provider_info = provider_info

    @property
    def algorithm(self):
        return self._algorithm if self._algorithm is not None else super().algorithm

    @property
    def signing_key(self):
        return None if self._drop_signing_key else super().signing_key

    @property
    def encrypted_data_keys(self):
        edks = super().encrypted_data_keys
        if self._provider_info is None:
            return edks
        return {
            EncryptedDataKey(
                key_provider=MasterKeyInfo(provider_id=e.key_provider.provider_id, key_info=self._provider_info),
                encrypted_data_key=e.encrypted_data_key,
            )
            for e in edks
        }


class _TamperingCMM(CryptoMaterialsManagerFromMPL):
    """Wraps the MPL default CMM; only encryption materials are altered.

    Subclassing CryptoMaterialsManagerFromMPL keeps the SDK's handling of MPL
    signing keys (PEM) for signed suites.
    """

    def __init__(self, mpl_cmm, half_sign_from=None, provider_info=None):
        super().__init__(mpl_cmm)
        self.half_sign_from = half_sign_from
        self.provider_info = provider_info

    def get_encryption_materials(self, request):
        if self.half_sign_from is not None:
            wanted = request.algorithm
            signed_request = attr.evolve(request, algorithm=Algorithm.get_by_id(self.half_sign_from))
            inner = super().get_encryption_materials(signed_request)
            if "aws-crypto-public-key" not in inner.encryption_context:
                raise RuntimeError("signed-suite materials lack aws-crypto-public-key")
            return _TamperedMaterials(inner, algorithm=wanted, drop_signing_key=True)
        inner = super().get_encryption_materials(request)
        if self.provider_info is not None:
            return _TamperedMaterials(inner, provider_info=self.provider_info)
        return inner


# --------------------------------------------------------------------------
# Generation


def parse_suite(value):
    if isinstance(value, int):
        return value
    s = value.lower()
    if s.startswith("0x"):
        s = s[2:]
    return int(s, 16)


def flip_bit(message, bit):
    byte_index, bit_index = divmod(bit, 8)
    out = bytearray(message)
    out[byte_index] ^= 0x80 >> bit_index
    return bytes(out)


def tampering_label(spec):
    if spec is None:
        return "none"
    if isinstance(spec, str):
        return spec
    ((tag, _values),) = spec.items()
    return tag


class Generator:
    def __init__(self, input_path, out_dir):
        self.input_path = os.path.abspath(input_path)
        self.in_dir = os.path.dirname(self.input_path)
        self.out_dir = os.path.abspath(out_dir)
        self.doc = em.load_json(self.input_path)
        man = self.doc.get("manifest", {})
        if man.get("type") != "awses-decrypt-generate" or man.get("version") != 2:
            sys.exit("%s: not an awses-decrypt-generate manifest version 2: %r" % (input_path, man))
        self.keys_path = em.resolve_uri(self.in_dir, self.doc["keys"])
        self.keys = em.load_keys(self.keys_path)
        self.factory = em.KeyringFactory(self.keys)
        self.clients = {
            True: aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
            ),
            False: aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
            ),
        }
        self.plaintexts = {name: b"a" * size for name, size in self.doc["plaintexts"].items()}
        self.tests = collections.OrderedDict()
        self.kind_of = {}  # case id -> tampering label
        self.scenario_of = {}  # case id -> input test name

    def _mpl_cmm(self, keyring):
        return self.factory.mpl.create_default_cryptographic_materials_manager(
            input=CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring)
        )

    def encrypt(self, scenario, half_sign=False, provider_info=None):
        suite = parse_suite(scenario["algorithm"])
        keyring = self.factory.keyring(scenario["master-keys"], "encrypt")
        if keyring is None:
            raise RuntimeError("no master key can encrypt")
        client = self.clients[suite in COMMITTING]
        kwargs = {}
        if half_sign or provider_info is not None:
            source = HALF_SIGN_SOURCE.get(suite) if half_sign else None
            if half_sign and source is None:
                raise RuntimeError("half-sign needs an unsigned suite, got 0x%04x" % suite)
            kwargs["materials_manager"] = _TamperingCMM(
                self._mpl_cmm(keyring),
                half_sign_from=source,
                provider_info=provider_info.encode("utf-8") if provider_info is not None else None,
            )
        else:
            kwargs["keyring"] = keyring
        msg, _header = client.encrypt(
            source=self.plaintexts[scenario["plaintext"]],
            algorithm=Algorithm.get_by_id(suite),
            frame_length=scenario["frame-size"],
            encryption_context=dict(scenario.get("encryption-context", {})),
            **kwargs
        )
        return msg

    def add(self, name, index, kind, test, message, result, detail):
        cid = str(uuid.uuid5(CASE_NAMESPACE, "%s/%d" % (name, index)))
        with open(os.path.join(self.out_dir, "ciphertexts", cid), "wb") as f:
            f.write(message)
        scenario = test["encryption-scenario"]
        self.tests[cid] = {
            "description": "%s: %s (suite 0x%04x, frame size %d, %d-byte plaintext %r; %d-byte message)"
            % (name, detail, parse_suite(scenario["algorithm"]), scenario["frame-size"],
               len(self.plaintexts[scenario["plaintext"]]), scenario["plaintext"], len(message)),
            "ciphertext": "file://ciphertexts/" + cid,
            "master-keys": test.get("decryption-master-keys", scenario["master-keys"]),
            "result": result,
            "cmm": "Default",
            "encryption-context": {},
        }
        if "decryption-method" in test:
            self.tests[cid]["decryption-method"] = test["decryption-method"]
        if "error" in result:
            # Extra field read by the cse runner: bytes released before the error must be a
            # prefix of the untampered plaintext. Other runners ignore it.
            self.tests[cid]["cse-plaintext"] = "file://plaintexts/" + scenario["plaintext"]
        self.kind_of[cid] = kind
        self.scenario_of[cid] = name

    def run(self):
        for sub in ("plaintexts", "ciphertexts"):
            shutil.rmtree(os.path.join(self.out_dir, sub), ignore_errors=True)
            os.makedirs(os.path.join(self.out_dir, sub))
        for pname, data in self.plaintexts.items():
            with open(os.path.join(self.out_dir, "plaintexts", pname), "wb") as f:
                f.write(data)
        keys_dst = os.path.join(self.out_dir, "keys.json")
        if os.path.abspath(self.keys_path) != keys_dst:
            shutil.copyfile(self.keys_path, keys_dst)

        err = lambda text: {"error": {"error-description": text}}  # noqa: E731
        for name in sorted(self.doc["tests"]):
            test = self.doc["tests"][name]
            scenario = test["encryption-scenario"]
            tampering = test.get("tampering")
            kind = tampering_label(tampering)
            if tampering is None:
                msg = self.encrypt(scenario)
                result = test.get("result") or {
                    "output": {"plaintext": "file://plaintexts/" + scenario["plaintext"]}
                }
                self.add(name, 0, kind, test, msg, result, "untampered message")
            elif tampering == "truncate":
                msg = self.encrypt(scenario)
                for n in range(1, len(msg)):
                    self.add(name, n, kind, test, msg[:n], err("Truncated at byte %d" % n),
                             "truncated to its first %d of %d bytes" % (n, len(msg)))
            elif tampering == "mutate":
                msg = self.encrypt(scenario)
                for bit in range(len(msg) * 8):
                    self.add(name, bit, kind, test, flip_bit(msg, bit), err("Bit %d flipped" % bit),
                             "bit %d flipped (byte %d, mask 0x%02x)" % (bit, bit // 8, 0x80 >> (bit % 8)))
            elif tampering == "half-sign":
                msg = self.encrypt(scenario, half_sign=True)
                self.add(name, 0, kind, test, msg, err("Unsigned message using a data key with a public key"),
                         "unsigned suite, but the header encryption context carries aws-crypto-public-key "
                         "(materials made for suite 0x%04x)" % HALF_SIGN_SOURCE[parse_suite(scenario["algorithm"])])
            elif isinstance(tampering, dict) and list(tampering) == ["change-edk-provider-info"]:
                for i, info in enumerate(tampering["change-edk-provider-info"]):
                    msg = self.encrypt(scenario, provider_info=info)
                    self.add(name, i, kind, test, msg, err("Incorrect encrypted data key provider info: " + info),
                             "every EDK's provider info replaced by %r" % info)
            else:
                sys.exit("%s: unknown tampering %r" % (name, tampering))

        manifest = {
            "manifest": {"type": "awses-decrypt", "version": 2},
            "client": {"name": em.SDK_NAME, "version": em.SDK_VERSION},
            "keys": "file://keys.json",
            "tests": self.tests,
        }
        with open(os.path.join(self.out_dir, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=os.path.join(HERE, "official-tampered", "generate-input.json"))
    ap.add_argument("--output", default=os.path.join(HERE, "official-tampered"))
    ap.add_argument("--no-check", action="store_true", help="skip decrypting the result with the official SDK")
    args = ap.parse_args()
    t0 = time.time()
    em.enable_rsa_key_cache()
    os.makedirs(args.output, exist_ok=True)
    gen = Generator(args.input, args.output)
    gen.run()
    print("official SDK: %s %s" % (em.SDK_NAME, em.SDK_VERSION))
    print("wrote %d cases to %s (%.1f s)" % (len(gen.tests), os.path.join(args.output, "manifest.json"),
                                            time.time() - t0))
    per = collections.Counter((gen.scenario_of[c], gen.kind_of[c]) for c in gen.tests)
    for (scen, kind), n in sorted(per.items()):
        print("  %-40s %-26s %d" % (scen, kind, n))
    by_kind = collections.Counter(gen.kind_of.values())
    print("  totals: " + ", ".join("%s=%d" % kv for kv in sorted(by_kind.items())))
    if args.no_check:
        return 0

    t1 = time.time()
    print("check: decrypting every case with the official SDK ...")
    passed, failed, skipped, results = em.run_decrypt_manifest(os.path.join(args.output, "manifest.json"))
    verdicts = collections.defaultdict(collections.Counter)
    trailing = 0
    for r in results:
        kind = gen.kind_of[r.case.id]
        if r.status == "pass" and r.case.expects_error:
            if r.detail.startswith("TrailingData"):
                trailing += 1
            verdicts[kind]["rejected: " + r.detail.split(":", 1)[0]] += 1
        elif r.status == "pass":
            verdicts[kind]["decrypted as expected"] += 1
        else:
            verdicts[kind][r.status + ": " + r.detail[:80]] += 1
    for kind in sorted(verdicts):
        print("  %s:" % kind)
        for v, n in sorted(verdicts[kind].items(), key=lambda kv: -kv[1]):
            print("    %6d  %s" % (n, v))
    if trailing:
        print("  note: %d case(s) were decrypted by the SDK with bytes left over (rejected only by the runner)"
              % trailing)
    print("check time: %.1f s" % (time.time() - t1))
    print(em.closing_line(passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
