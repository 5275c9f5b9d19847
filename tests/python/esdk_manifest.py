"""Shared helpers for the Python interop tooling of the cse project.

Reads keys manifests (type "keys", versions 1-3) and awses-decrypt manifests
(versions 1-4), turns master-key descriptions into keyrings of the official
Material Providers Library (MPL), and runs decrypt manifests with the official
AWS Encryption SDK for Python.

Used by vectors/generate.py (self-check) and tests/python/interop.py.
"""

import base64
import io
import json
import logging
import os
import sys
import traceback
from urllib.parse import unquote, urlparse

import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import (
    AesWrappingAlg,
    CreateDefaultCryptographicMaterialsManagerInput,
    CreateMultiKeyringInput,
    CreateRawAesKeyringInput,
    CreateRawRsaKeyringInput,
    CreateRequiredEncryptionContextCMMInput,
    PaddingScheme,
)
from cryptography.hazmat.primitives import serialization

# The SDK logs a traceback ("Error on closing") for every failed decrypt; the
# runners report failures themselves.
logging.getLogger("aws_encryption_sdk").setLevel(logging.CRITICAL + 1)

SDK_NAME = "aws-encryption-sdk-python"
SDK_VERSION = aws_encryption_sdk.__version__

# Keys that the RequiredEncryptionContext CMM of the official manifests
# requires (fixed by the official Python test-vector handler).
REQUIRED_EC_KEYS = ["key1", "key2"]

PADDING = {
    ("pkcs1", None): PaddingScheme.PKCS1,
    ("oaep-mgf1", "sha1"): PaddingScheme.OAEP_SHA1_MGF1,
    ("oaep-mgf1", "sha256"): PaddingScheme.OAEP_SHA256_MGF1,
    ("oaep-mgf1", "sha384"): PaddingScheme.OAEP_SHA384_MGF1,
    ("oaep-mgf1", "sha512"): PaddingScheme.OAEP_SHA512_MGF1,
}

AES_ALG = {
    128: AesWrappingAlg.ALG_AES128_GCM_IV12_TAG16,
    192: AesWrappingAlg.ALG_AES192_GCM_IV12_TAG16,
    256: AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
}


class Unsupported(Exception):
    """A manifest entry this offline runner cannot handle (e.g. AWS KMS keys)."""


# --------------------------------------------------------------------------
# Master-key descriptions (docs/esdk-format-notes.md §10.2)


def rsa_master_key(key, provider_id, padding, padding_hash=None):
    """Master-key description of a raw RSA key. padding: 'pkcs1' or 'oaep-mgf1'."""
    desc = {
        "type": "raw",
        "key": key,
        "provider-id": provider_id,
        "encryption-algorithm": "rsa",
        "padding-algorithm": padding,
    }
    if padding != "pkcs1":
        desc["padding-hash"] = padding_hash
    return desc


def aes_master_key(key, provider_id):
    return {"type": "raw", "key": key, "provider-id": provider_id, "encryption-algorithm": "aes"}


# --------------------------------------------------------------------------
# URIs and manifests


def resolve_uri(base_dir, uri):
    """Path of a file:// URI relative to the manifest's folder (absolute ones kept)."""
    if not uri.startswith("file://"):
        raise Unsupported("only file:// URIs are supported: %r" % uri)
    rest = unquote(uri[len("file://"):])
    if os.path.isabs(rest):
        return rest
    return os.path.normpath(os.path.join(base_dir, rest))


def load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


class Key:
    """One entry of a keys manifest."""

    def __init__(self, name, spec):
        self.name = name
        self.type = spec["type"]
        self.algorithm = spec.get("algorithm")
        self.bits = spec.get("bits")
        self.encoding = spec.get("encoding")
        self.encrypt = spec.get("encrypt", True)
        self.decrypt = spec.get("decrypt", True)
        # keys manifest v1 has no key-id: the key's own name is written into EDKs
        self.key_id = spec.get("key-id", name)
        material = spec.get("material")
        if isinstance(material, list):  # keys manifest v1
            material = spec.get("line-separator", "").join(material)
        self.material = material

    def raw_bytes(self):
        if self.encoding != "base64":
            raise Unsupported("symmetric key %s: encoding %r" % (self.name, self.encoding))
        return base64.b64decode(self.material)

    def pem(self):
        if self.encoding != "pem":
            raise Unsupported("RSA key %s: encoding %r" % (self.name, self.encoding))
        return self.material.encode("ascii")


def load_keys(path):
    doc = load_json(path)
    man = doc.get("manifest", {})
    if man.get("type") != "keys" or man.get("version") not in (1, 2, 3):
        raise Unsupported("not a keys manifest v1-3: %r" % (man,))
    return {name: Key(name, spec) for name, spec in doc["keys"].items()}


class Case:
    """One test of an awses-decrypt manifest, normalized across versions 1-4."""

    def __init__(self, case_id, spec, base_dir, manifest_version):
        self.id = case_id
        self.spec = spec
        self.ciphertext_path = resolve_uri(base_dir, spec["ciphertext"])
        self.master_keys = spec.get("master-keys", [])
        self.cmm = spec.get("cmm", "Default")
        self.encryption_context = spec.get("encryption-context", {}) or {}
        self.decryption_method = spec.get("decryption-method")
        self.description = spec.get("description", "")
        self.expected_plaintext_path = None
        self.error = None
        self.error_kind = None
        if manifest_version == 1:
            self.expected_plaintext_path = resolve_uri(base_dir, spec["plaintext"])
        else:
            result = spec["result"]
            if "output" in result:
                self.expected_plaintext_path = resolve_uri(base_dir, result["output"]["plaintext"])
            elif "error" in result:
                self.error = result["error"].get("error-description", "")
                self.error_kind = result["error"].get("cse-error-kind")
            else:
                raise Unsupported("case %s: unknown result %r" % (case_id, result))

    @property
    def expects_error(self):
        return self.expected_plaintext_path is None


def load_decrypt_manifest(path):
    """Returns (manifest document, keys dict, list of Case)."""
    doc = load_json(path)
    man = doc.get("manifest", {})
    version = man.get("version")
    if man.get("type") != "awses-decrypt" or version not in (1, 2, 3, 4):
        raise Unsupported("not an awses-decrypt manifest v1-4: %r" % (man,))
    base_dir = os.path.dirname(os.path.abspath(path))
    keys = load_keys(resolve_uri(base_dir, doc["keys"]))
    cases = [Case(cid, spec, base_dir, version) for cid, spec in doc["tests"].items()]
    return doc, keys, cases


# --------------------------------------------------------------------------
# Keyrings


def enable_rsa_key_cache():
    """Memoize PEM private-key parsing inside the MPL's RSA primitive.

    The MPL re-parses (and fully validates) the RSA private key PEM on every
    decrypt, about 0.4 s for RSA-4096 here, which would dominate a run of a few
    thousand cases. This wraps only that parse call with a cache keyed by the
    PEM bytes; the RSA decryption itself and everything around it stay the
    official code path.
    """
    from aws_cryptography_primitives.internaldafny.extern import RSAEncryption as ext

    original = ext.load_pem_private_key
    if getattr(original, "_cse_cached", False):
        return
    cache = {}

    def cached(data, password, *args, **kwargs):
        key = (bytes(data), password)
        if key not in cache:
            cache[key] = original(data, password, *args, **kwargs)
        return cache[key]

    cached._cse_cached = True
    ext.load_pem_private_key = cached


class KeyringFactory:
    """Builds MPL keyrings / CMMs from master-key descriptions and a keys manifest."""

    def __init__(self, keys):
        self.keys = keys
        self.mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
        self._cache = {}

    def _key(self, desc):
        name = desc.get("key")
        if name not in self.keys:
            raise Unsupported("key %r is not in the keys manifest" % (name,))
        return self.keys[name]

    def single(self, desc, purpose):
        """Keyring for one description; purpose 'encrypt' or 'decrypt'.

        Returns None when the key cannot serve that purpose (a public RSA key on
        decrypt, or a key the keys manifest marks as not usable for it).
        """
        cache_key = (json.dumps(desc, sort_keys=True), purpose)
        if cache_key in self._cache:
            return self._cache[cache_key]
        kr = self._build_single(desc, purpose)
        self._cache[cache_key] = kr
        return kr

    def _build_single(self, desc, purpose):
        if desc.get("type") != "raw":
            raise Unsupported("master key type %r (only raw keys work offline)" % (desc.get("type"),))
        key = self._key(desc)
        if purpose == "decrypt" and not key.decrypt:
            return None
        if purpose == "encrypt" and not key.encrypt:
            return None
        namespace = desc["provider-id"]
        alg = desc.get("encryption-algorithm")
        if alg == "aes":
            if key.type != "symmetric":
                raise Unsupported("aes master key %s is not symmetric" % key.name)
            raw = key.raw_bytes()
            wrapping = AES_ALG.get(len(raw) * 8)
            if wrapping is None:
                raise Unsupported("AES key %s has %d bytes" % (key.name, len(raw)))
            return self.mpl.create_raw_aes_keyring(
                input=CreateRawAesKeyringInput(
                    key_namespace=namespace, key_name=key.key_id, wrapping_key=raw, wrapping_alg=wrapping
                )
            )
        if alg == "rsa":
            padding = desc.get("padding-algorithm")
            phash = desc.get("padding-hash") if padding != "pkcs1" else None
            scheme = PADDING.get((padding, phash))
            if scheme is None:
                raise Unsupported("RSA padding %r/%r" % (padding, phash))
            public_pem = private_pem = None
            if key.type == "private":
                private_pem = key.pem()
                if purpose == "encrypt":
                    # Like the users' scripts: hand the keyring the public half too.
                    priv = serialization.load_pem_private_key(private_pem, None)
                    public_pem = priv.public_key().public_bytes(
                        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
            elif key.type == "public":
                if purpose == "decrypt":
                    return None
                public_pem = key.pem()
            else:
                raise Unsupported("rsa master key %s has type %r" % (key.name, key.type))
            return self.mpl.create_raw_rsa_keyring(
                input=CreateRawRsaKeyringInput(
                    key_namespace=namespace,
                    key_name=key.key_id,
                    padding_scheme=scheme,
                    public_key=public_pem,
                    private_key=private_pem,
                )
            )
        raise Unsupported("encryption-algorithm %r" % (alg,))

    def keyring(self, master_keys, purpose):
        """Keyring for a list of descriptions: one keyring, or a multi keyring
        whose generator is the first usable entry. None if nothing is usable."""
        rings = [self.single(d, purpose) for d in master_keys]
        rings = [r for r in rings if r is not None]
        if not rings:
            return None
        if len(rings) == 1:
            return rings[0]
        return self.mpl.create_multi_keyring(
            input=CreateMultiKeyringInput(generator=rings[0], child_keyrings=rings[1:])
        )

    def required_ec_cmm(self, keyring, required_keys=REQUIRED_EC_KEYS):
        default = self.mpl.create_default_cryptographic_materials_manager(
            input=CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring)
        )
        return self.mpl.create_required_encryption_context_cmm(
            input=CreateRequiredEncryptionContextCMMInput(
                underlying_cmm=default, required_encryption_context_keys=list(required_keys)
            )
        )


# --------------------------------------------------------------------------
# Running a decrypt manifest


def decrypt_client():
    """Client that can read every suite (committing and non-committing)."""
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)


class TrailingData(Exception):
    """Raised by the runner (not the SDK): bytes left after a complete message."""


def decrypt_message(client, factory, case, ciphertext):
    """Decrypts one message with the official SDK (streaming API, read to the end).

    Returns the plaintext. Raises the SDK's exception on failure, Unsupported if
    the case cannot run offline, TrailingData if the SDK finished the message
    before the end of the input (the SDK itself ignores such bytes).
    """
    keyring = factory.keyring(case.master_keys, "decrypt")
    if keyring is None:
        raise _NoUsableKey("no master key in the case can decrypt")
    kwargs = {}
    if case.cmm == "Default":
        kwargs["keyring"] = keyring
    elif case.cmm == "RequiredEncryptionContext":
        kwargs["materials_manager"] = factory.required_ec_cmm(keyring)
    else:
        raise Unsupported("cmm %r" % (case.cmm,))
    if case.encryption_context:
        kwargs["encryption_context"] = dict(case.encryption_context)
    if case.decryption_method in (None, "oneshot", "streaming"):
        mode = "d"
    elif case.decryption_method == "streaming-unsigned-only":
        mode = "decrypt-unsigned"
    else:
        raise Unsupported("decryption-method %r" % (case.decryption_method,))
    source = io.BytesIO(ciphertext)
    with client.stream(mode=mode, source=source, **kwargs) as decryptor:
        plaintext = decryptor.read()
    left = len(ciphertext) - source.tell()
    if left:
        raise TrailingData(
            "the SDK decrypted the message and ignored %d trailing byte(s); rejected by the runner" % left
        )
    return plaintext


class _NoUsableKey(Exception):
    pass


class Result:
    def __init__(self, case, status, detail=""):
        self.case = case
        self.status = status  # "pass", "fail", "skip"
        self.detail = detail


def run_case(client, factory, case):
    try:
        with open(case.ciphertext_path, "rb") as f:
            ciphertext = f.read()
        expected = None
        if not case.expects_error:
            with open(case.expected_plaintext_path, "rb") as f:
                expected = f.read()
    except OSError as e:
        return Result(case, "fail", "cannot read vector files: %s" % e)
    try:
        plaintext = decrypt_message(client, factory, case, ciphertext)
    except Unsupported as e:
        return Result(case, "skip", str(e))
    except Exception as e:  # noqa: BLE001 - any SDK failure counts
        detail = "%s: %s" % (type(e).__name__, e)
        if case.expects_error:
            return Result(case, "pass", detail)
        return Result(case, "fail", "expected plaintext, decrypt failed: " + detail)
    if case.expects_error:
        return Result(case, "fail", "expected an error (%s), but decrypt succeeded" % (case.error_kind or case.error))
    if plaintext != expected:
        return Result(
            case, "fail", "plaintext mismatch (%d bytes, expected %d)" % (len(plaintext), len(expected))
        )
    return Result(case, "pass")


def run_decrypt_manifest(path, out=sys.stdout, verbose=False, key_cache=True):
    """Runs every case; prints failures and the closing line. Returns (passed, failed, skipped, results)."""
    if key_cache:
        enable_rsa_key_cache()
    _doc, keys, cases = load_decrypt_manifest(path)
    factory = KeyringFactory(keys)
    client = decrypt_client()
    results = []
    for case in cases:
        try:
            r = run_case(client, factory, case)
        except Exception:  # noqa: BLE001 - a runner bug must not stop the run
            r = Result(case, "fail", "runner error: " + traceback.format_exc(limit=3))
        results.append(r)
        if r.status == "fail":
            print("FAIL %s: %s" % (case.id, r.detail), file=out)
        elif verbose:
            print("%s %s %s" % (r.status.upper(), case.id, r.detail), file=out)
    passed = sum(r.status == "pass" for r in results)
    failed = sum(r.status == "fail" for r in results)
    skipped = sum(r.status == "skip" for r in results)
    return passed, failed, skipped, results


def closing_line(passed, failed, skipped):
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    return line
