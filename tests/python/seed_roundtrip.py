"""Encrypt or decrypt a local file exactly as the users' current scripts do
(official AWS Encryption SDK for Python with the MPL raw RSA keyring: namespace
MyAppKeys, key name S3RSAKey, OAEP-SHA256, REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
whole file in memory).

    python seed_roundtrip.py encrypt IN OUT public_key.pem private_key.pem
    python seed_roundtrip.py decrypt IN OUT public_key.pem private_key.pem
"""

import sys

import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateRawRsaKeyringInput, PaddingScheme


def keyring(public_pem: bytes, private_pem: bytes):
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return mpl.create_raw_rsa_keyring(
        input=CreateRawRsaKeyringInput(
            key_namespace="MyAppKeys",
            key_name="S3RSAKey",
            padding_scheme=PaddingScheme.OAEP_SHA256_MGF1,
            public_key=public_pem,
            private_key=private_pem,
        )
    )


def main(argv):
    if len(argv) != 5 or argv[0] not in ("encrypt", "decrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    op, src, dst, pub, priv = argv
    with open(pub, "rb") as f:
        public_pem = f.read()
    with open(priv, "rb") as f:
        private_pem = f.read()
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    with open(src, "rb") as f:
        data = f.read()
    kr = keyring(public_pem, private_pem)
    if op == "encrypt":
        out, _ = client.encrypt(source=data, keyring=kr)
    else:
        out, _ = client.decrypt(source=data, keyring=kr)
    with open(dst, "wb") as f:
        f.write(out)
    print(f"official Python ESDK: {op}ed {src} -> {dst} ({len(out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
