#!/usr/bin/env python3
"""Throughput of the official AWS Encryption SDK for Python, for bench/run.sh.

Does what the users' script does (the HPC center's data-encryption guide,
"CSE with the AWS Encryption SDK"): raw RSA-4096 keyring of the Material
Providers Library (namespace MyAppKeys, name S3RSAKey, OAEP-SHA256-MGF1),
commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT, whole message in memory
(client.encrypt(source=bytes) / client.decrypt(source=bytes)); in addition the
algorithm suite is chosen explicitly and the frame length is 4096.

One operation per process, so that the peak RSS measured from outside
(/usr/bin/time -f %M) belongs to that operation only:

  python_esdk.py --op encrypt --suite 0578 --public-key PUB.pem --private-key PRIV.pem \
      --input PLAINTEXT --output CIPHERTEXT
  python_esdk.py --op decrypt --suite 0578 --public-key PUB.pem --private-key PRIV.pem \
      --input CIPHERTEXT [--expect PLAINTEXT]

Only the client.encrypt / client.decrypt call is timed (not reading the keys,
building the keyring, reading the input or writing the output). Prints one JSON
line in the format of cse-bench:
  {"op": .., "suite": .., "bytes": .., "seconds": .., "mb_per_s": ..}
where bytes is the plaintext length for both operations and MB = 10^6 bytes.
With --expect, the decrypted plaintext is checked (SHA-256, streaming over the
expected file, so the check adds no memory) after the timed section.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import Algorithm
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateRawRsaKeyringInput, PaddingScheme

SUITES = {
    "0578": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    "0478": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
}

FRAME_LENGTH = 4096


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def create_keyring(public_key, private_key):
    mat_prov = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    keyring_input = CreateRawRsaKeyringInput(
        key_namespace="MyAppKeys",
        key_name="S3RSAKey",
        padding_scheme=PaddingScheme.OAEP_SHA256_MGF1,
        public_key=public_key,
        private_key=private_key,
    )
    return mat_prov.create_raw_rsa_keyring(input=keyring_input)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.digest()
            h.update(chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--op", required=True, choices=["encrypt", "decrypt"])
    ap.add_argument("--suite", required=True, choices=sorted(SUITES))
    ap.add_argument("--public-key", required=True)
    ap.add_argument("--private-key", required=True)
    ap.add_argument("--input", required=True, help="plaintext (encrypt) or ciphertext (decrypt)")
    ap.add_argument("--output", help="where encrypt writes the ciphertext (not timed)")
    ap.add_argument("--expect", help="decrypt: plaintext file the result must equal (checked after timing)")
    ap.add_argument("--stream", action="store_true",
                    help="encrypt with the streaming API (client.stream), file to file, instead of in memory")
    args = ap.parse_args()

    algorithm = SUITES[args.suite]
    keyring = create_keyring(read_file(args.public_key), read_file(args.private_key))
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    if args.stream:
        if args.op != "encrypt":
            sys.exit("python_esdk.py: --stream is for encrypt")
        t0 = time.perf_counter()
        with open(args.input, "rb") as src, open(args.output or "/dev/null", "wb") as dst:
            with client.stream(mode="e", source=src, keyring=keyring, algorithm=algorithm,
                               frame_length=FRAME_LENGTH) as enc:
                for chunk in enc:
                    dst.write(chunk)
        seconds = time.perf_counter() - t0
        nbytes = os.path.getsize(args.input)
        print(json.dumps({"op": "encrypt-stream", "suite": args.suite, "bytes": nbytes,
                          "seconds": round(seconds, 6), "mb_per_s": round(nbytes / seconds / 1e6, 3),
                          "impl": "aws-encryption-sdk-python " + aws_encryption_sdk.__version__}), flush=True)
        return
    data = read_file(args.input)

    if args.op == "encrypt":
        t0 = time.perf_counter()
        ciphertext, header = client.encrypt(
            source=data, keyring=keyring, algorithm=algorithm, frame_length=FRAME_LENGTH
        )
        seconds = time.perf_counter() - t0
        if header.algorithm != algorithm:
            sys.exit("python_esdk.py: message written with suite %r, wanted %r" % (header.algorithm, algorithm))
        nbytes = len(data)
        if args.output:
            with open(args.output, "wb") as f:
                f.write(ciphertext)
    else:
        t0 = time.perf_counter()
        plaintext, header = client.decrypt(source=data, keyring=keyring)
        seconds = time.perf_counter() - t0
        if header.algorithm != algorithm:
            sys.exit("python_esdk.py: message has suite %r, expected %r" % (header.algorithm, algorithm))
        nbytes = len(plaintext)
        if args.expect and hashlib.sha256(plaintext).digest() != sha256_file(args.expect):
            sys.exit("python_esdk.py: decrypted plaintext differs from %s" % args.expect)

    print(json.dumps({
        "op": args.op,
        "suite": args.suite,
        "bytes": nbytes,
        "seconds": round(seconds, 6),
        "mb_per_s": round(nbytes / seconds / 1e6, 3),
        "impl": "aws-encryption-sdk-python " + aws_encryption_sdk.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
