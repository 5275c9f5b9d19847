"""Checks of the test setup itself, without cse: what the local server supports,
the users' scripts against it, and the fault proxy (signatures must still verify
through it, and each fault mode must do what it says)."""

from __future__ import annotations

import io
import os
import re

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import seed_scripts
from conftest import SEED_SCRIPTS, run_python, unique_bucket
from faultproxy import ANY, PUT_OBJECT, UPLOAD_PART, Rule

MIB = 1024 * 1024


def client_for(server, endpoint, **config):
    import boto3

    return boto3.client(
        "s3",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            **config,
        ),
    )


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def exercise_s3(s3, bucket: str):
    """Every operation cse relies on, checked for the expected answers."""
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="dir/one.bin", Body=body)
    assert s3.head_object(Bucket=bucket, Key="dir/one.bin")["ContentLength"] == len(body)
    ranged = s3.get_object(Bucket=bucket, Key="dir/one.bin", Range="bytes=1000-1999")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["Body"].read() == body[1000:2000]
    assert s3.get_object(Bucket=bucket, Key="dir/one.bin")["Body"].read() == body

    # Multipart: 3 parts (two of 5 MiB, the last smaller), bodies as file objects so
    # that boto3 sends Expect: 100-continue.
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(12345)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dir/multi.bin")["UploadId"]
    parts = []
    for n, data in enumerate(parts_data, start=1):
        etag = s3.upload_part(Bucket=bucket, Key="dir/multi.bin", UploadId=upload_id, PartNumber=n, Body=io.BytesIO(data))["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    listed = s3.list_parts(Bucket=bucket, Key="dir/multi.bin", UploadId=upload_id)
    assert sorted(p["PartNumber"] for p in listed["Parts"]) == [1, 2, 3]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="dir/multi.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert re.fullmatch(r'"[0-9a-f]{32}-3"', done["ETag"])
    head = s3.head_object(Bucket=bucket, Key="dir/multi.bin")
    assert head["ETag"] == done["ETag"]
    assert head["ContentLength"] == sum(map(len, parts_data))
    whole = b"".join(parts_data)
    got = s3.get_object(Bucket=bucket, Key="dir/multi.bin", Range=f"bytes={5 * MIB - 10}-{5 * MIB + 9}")["Body"].read()
    assert got == whole[5 * MIB - 10 : 5 * MIB + 10]

    # Abort removes an unfinished upload.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dir/aborted.bin")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="dir/aborted.bin", UploadId=upload_id, PartNumber=1, Body=b"x" * 1000)
    s3.abort_multipart_upload(Bucket=bucket, Key="dir/aborted.bin", UploadId=upload_id)
    # (s3s-fs answers ListParts for an unknown upload with an empty list, not NoSuchUpload.)
    assert s3.list_parts(Bucket=bucket, Key="dir/aborted.bin", UploadId=upload_id).get("Parts", []) == []

    # List v2 with pagination.
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"page/k{i}", Body=b"%d" % i)
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix="page/", MaxKeys=2, **kw)
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert keys == [f"page/k{i}" for i in range(5)]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert sorted(p["Prefix"] for p in top.get("CommonPrefixes", [])) == ["dir/", "page/"]

    s3.delete_object(Bucket=bucket, Key="page/k0")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"page/k{i}"} for i in range(1, 5)]})
    assert len(out.get("Deleted", [])) == 4
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="page/")


def test_server_supports_what_cse_uses(s3server, s3):
    exercise_s3(s3, unique_bucket("caps"))


def test_server_has_no_list_multipart_uploads(s3, bucket):
    """s3s-fs 0.14.1 answers ListMultipartUploads with 501: tests read its files instead."""
    with pytest.raises(ClientError) as e:
        s3.list_multipart_uploads(Bucket=bucket)
    assert error_code(e.value) == "NotImplemented"


def test_server_checks_signatures(s3server, bucket):
    import boto3

    bad = boto3.client(
        "s3",
        aws_access_key_id=s3server.access_key,
        aws_secret_access_key="not-the-secret",
        endpoint_url=s3server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert error_code(e.value) == "SignatureDoesNotMatch"


def test_server_files_show_unfinished_uploads(s3server, s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="a/b c")["UploadId"]
    found = s3server.unfinished_uploads(bucket)
    assert [(u["key"], u["upload_id"]) for u in found] == [("a/b c", upload_id)]
    s3.abort_multipart_upload(Bucket=bucket, Key="a/b c", UploadId=upload_id)
    assert s3server.unfinished_uploads(bucket) == []


def test_seed_scripts_round_trip(s3server, bucket, keypair, tmp_path):
    plain = tmp_path / "example.txt"
    plain.write_bytes(b"This is example for CSE!\n" + os.urandom(300_000))
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3server.access_key, AWS_SECRET_ACCESS_KEY=s3server.secret_key)
    keys = ["--public-key", keypair.public, "--private-key", keypair.private, "--endpoint-url", s3server.endpoint]
    run_python(SEED_SCRIPTS, "upload", "--bucket", bucket, "--key", "example_encrypted.txt", "--file", plain, *keys, env=env)
    out = tmp_path / "example_decrypted.txt"
    run_python(SEED_SCRIPTS, "download", "--bucket", bucket, "--key", "example_encrypted.txt", "--file", out, *keys, env=env)
    assert out.read_bytes() == plain.read_bytes()


def test_proxy_forwards_everything_with_valid_signatures(s3server, make_proxy):
    proxy = make_proxy()
    s3 = client_for(s3server, proxy.endpoint)
    exercise_s3(s3, unique_bucket("proxied"))
    assert proxy.count(UPLOAD_PART) == 4
    assert all(e["action"] == "forward" for e in proxy.log)


def test_proxy_seed_scripts_through_proxy(s3server, make_proxy, bucket, seed_keyring, tmp_path):
    proxy = make_proxy()
    s3 = client_for(s3server, proxy.endpoint)
    plain = tmp_path / "p"
    plain.write_bytes(os.urandom(2 * MIB + 3))
    seed_scripts.upload(s3, bucket, "k", str(plain), seed_keyring)
    out = tmp_path / "o"
    seed_scripts.download(s3, bucket, "k", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()


def test_proxy_fault_modes(s3server, make_proxy, bucket):
    proxy = make_proxy(
        [
            Rule(PUT_OBJECT, "503", first=1, path_contains="/slow"),
            Rule(PUT_OBJECT, "reset", first=1, path_contains="/reset"),
            Rule(PUT_OBJECT, "500", after=1, path_contains="/dies"),
        ]
    )
    s3 = client_for(s3server, proxy.endpoint, retries={"total_max_attempts": 1, "mode": "standard"})
    direct = client_for(s3server, s3server.endpoint)

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="slow", Body=b"1")
    assert error_code(e.value) == "SlowDown"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.put_object(Bucket=bucket, Key="slow", Body=b"1")

    with pytest.raises(Exception) as e:
        s3.put_object(Bucket=bucket, Key="reset", Body=b"2")
    assert not isinstance(e.value, ClientError)  # no HTTP answer at all
    s3.put_object(Bucket=bucket, Key="reset", Body=b"2")

    s3.put_object(Bucket=bucket, Key="dies", Body=b"3")
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="dies", Body=b"3")
        assert error_code(e.value) == "InternalError"
    # Other requests still pass while PUT /dies keeps failing.
    assert s3.get_object(Bucket=bucket, Key="dies")["Body"].read() == b"3"
    assert direct.get_object(Bucket=bucket, Key="slow")["Body"].read() == b"1"
    assert proxy.count(PUT_OBJECT, "503") == 1
    assert proxy.count(PUT_OBJECT, "reset") == 1
    assert proxy.count(PUT_OBJECT, "500") == 3
    assert proxy.count(ANY, "forward") == 4


def test_proxy_emulates_list_multipart_uploads(s3server, make_proxy, s3, bucket):
    proxy = make_proxy()
    via = client_for(s3server, proxy.endpoint)
    first = s3.create_multipart_upload(Bucket=bucket, Key="x/one")["UploadId"]
    second = s3.create_multipart_upload(Bucket=bucket, Key="y/two")["UploadId"]
    listed = via.list_multipart_uploads(Bucket=bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in listed["Uploads"]) == [("x/one", first), ("y/two", second)]
    assert [u["Key"] for u in via.list_multipart_uploads(Bucket=bucket, Prefix="y/")["Uploads"]] == ["y/two"]
    for key, upload_id in (("x/one", first), ("y/two", second)):
        via.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert "Uploads" not in via.list_multipart_uploads(Bucket=bucket)
    # The server still checks the signature of the emulated request.
    bad = client_for(s3server, proxy.endpoint)
    bad._request_signer._credentials.secret_key = "wrong"
    with pytest.raises(ClientError) as e:
        bad.list_multipart_uploads(Bucket=bucket)
    assert error_code(e.value) == "SignatureDoesNotMatch"
