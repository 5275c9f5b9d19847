"""The users' current upload and download scripts, as one small command.

It does what Upload_By_CSE.py and Download_By_CSE.py do today: the official AWS
Encryption SDK for Python with the Material Providers Library's raw RSA keyring
(namespace MyAppKeys, key name S3RSAKey, OAEP with SHA-256 and MGF1-SHA-256),
the commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT, the whole file in memory,
and one boto3 put_object / get_object with SigV4 and checksums only when required.
What the scripts hard-code comes from arguments or the environment here.

    python seed_scripts.py upload   --bucket B --key K --file F [options]
    python seed_scripts.py download --bucket B --key K --file F [options]

Options: --endpoint-url (default $AWS_ENDPOINT_URL), --public-key (default
public_key.pem), --private-key (default private_key.pem), --access-key and
--secret-key (default $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY),
--region (default $AWS_REGION or us-east-1).
"""

from __future__ import annotations

import argparse
import os
import sys

import aws_encryption_sdk
import boto3
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateRawRsaKeyringInput, PaddingScheme
from aws_encryption_sdk import CommitmentPolicy
from botocore.config import Config

KEY_NAMESPACE = "MyAppKeys"
KEY_NAME = "S3RSAKey"


def read_key_pair(public_path: str, private_path: str) -> tuple[bytes, bytes]:
    """Both PEM files, as the scripts read them for either direction."""
    with open(public_path, "rb") as f:
        public_pem = f.read()
    with open(private_path, "rb") as f:
        private_pem = f.read()
    return public_pem, private_pem


def rsa_keyring(public_pem: bytes, private_pem: bytes):
    providers = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return providers.create_raw_rsa_keyring(
        input=CreateRawRsaKeyringInput(
            key_namespace=KEY_NAMESPACE,
            key_name=KEY_NAME,
            padding_scheme=PaddingScheme.OAEP_SHA256_MGF1,
            public_key=public_pem,
            private_key=private_pem,
        )
    )


def esdk_client():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def s3_client(endpoint_url: str, access_key: str, secret_key: str, region: str = "us-east-1"):
    """A boto3 S3 client set up the way the scripts set theirs up."""
    return boto3.client(
        "s3",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def upload(s3, bucket: str, key: str, path: str, keyring) -> int:
    """Encrypt the whole file in memory and put it as one object; return the object's size."""
    with open(path, "rb") as f:
        plaintext = f.read()
    ciphertext, _header = esdk_client().encrypt(source=plaintext, keyring=keyring)
    s3.put_object(Bucket=bucket, Key=key, Body=ciphertext)
    return len(ciphertext)


def download(s3, bucket: str, key: str, path: str, keyring) -> int:
    """Get the whole object, decrypt it in memory and write the file; return the plaintext size."""
    ciphertext = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    plaintext, _header = esdk_client().decrypt(source=ciphertext, keyring=keyring)
    with open(path, "wb") as f:
        f.write(plaintext)
    return len(plaintext)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("op", choices=("upload", "download"))
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--public-key", default="public_key.pem")
    parser.add_argument("--private-key", default="private_key.pem")
    parser.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID"))
    parser.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = parser.parse_args(argv)
    if not args.endpoint_url:
        parser.error("no endpoint: give --endpoint-url or set AWS_ENDPOINT_URL")

    keyring = rsa_keyring(*read_key_pair(args.public_key, args.private_key))
    s3 = s3_client(args.endpoint_url, args.access_key, args.secret_key, args.region)
    if args.op == "upload":
        size = upload(s3, args.bucket, args.key, args.file, keyring)
        print(f"{args.file} encrypted and uploaded to s3://{args.bucket}/{args.key} ({size} bytes)")
    else:
        size = download(s3, args.bucket, args.key, args.file, keyring)
        print(f"s3://{args.bucket}/{args.key} decrypted and saved to {args.file} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
