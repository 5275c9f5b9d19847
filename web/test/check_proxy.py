"""Checks the CORS proxy in front of a local S3 server: signed S3 calls pass through it and
still verify, and browsers get the CORS headers they need.

    python web/test/check_proxy.py --endpoint http://127.0.0.1:PROXY --direct http://127.0.0.1:S3 \
        --origin http://127.0.0.1:8080 --access-key AK --secret-key SK [--bucket NAME]

Needs boto3 (the project's .venv has it). Exits non-zero on the first failed check.
"""

import argparse
import hashlib
import http.client
import os
import sys
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PART = 5 * 1024 * 1024


def client(endpoint, ak, sk, region):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name=region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1},
        ),
    )


def raw(endpoint, method, path, headers):
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True, help="the proxy")
    ap.add_argument("--direct", help="the S3 server itself (to compare)")
    ap.add_argument("--origin", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--bucket", default="cse-proxy-check")
    a = ap.parse_args()

    s3 = client(a.endpoint, a.access_key, a.secret_key, a.region)
    b = a.bucket
    try:
        s3.create_bucket(Bucket=b)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    check(True, f"create bucket {b} through the proxy")

    body = os.urandom(1_000_003)
    r = s3.put_object(Bucket=b, Key="dir/one.bin", Body=body)
    check(r["ETag"].strip('"') == hashlib.md5(body).hexdigest(), "put: ETag is the MD5 of the body")
    g = s3.get_object(Bucket=b, Key="dir/one.bin")["Body"].read()
    check(g == body, "get returns the same bytes")
    g = s3.get_object(Bucket=b, Key="dir/one.bin", Range="bytes=1000-1999")
    check(g["Body"].read() == body[1000:2000] and g["ContentRange"] == f"bytes 1000-1999/{len(body)}",
          "ranged get: 206 with Content-Range")
    h = s3.head_object(Bucket=b, Key="dir/one.bin")
    check(h["ContentLength"] == len(body), "head: Content-Length")

    key = "dir/multi part+key with spaces.bin"
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(123_457)]
    up = s3.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    etags = []
    for i, p in enumerate(parts, 1):
        etags.append(s3.upload_part(Bucket=b, Key=key, UploadId=up, PartNumber=i, Body=p)["ETag"])
    s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=up, MultipartUpload={
        "Parts": [{"ETag": e, "PartNumber": i} for i, e in enumerate(etags, 1)]})
    check(s3.get_object(Bucket=b, Key=key)["Body"].read() == b"".join(parts),
          "multipart (5 MiB + 5 MiB + 120 KiB, key with spaces and '+') completes and reads back")

    up = s3.create_multipart_upload(Bucket=b, Key="dir/aborted.bin")["UploadId"]
    s3.upload_part(Bucket=b, Key="dir/aborted.bin", UploadId=up, PartNumber=1, Body=os.urandom(PART))
    s3.abort_multipart_upload(Bucket=b, Key="dir/aborted.bin", UploadId=up)
    check(True, "multipart abort")

    # boto3 asks for encoding-type=url and decodes keys as form data; s3s-fs 0.14.1 answers
    # <EncodingType>url</EncodingType> with keys left unencoded, so '+' reads back as ' '.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="dir/").get("Contents", [])]
    check(sorted(keys) in (sorted(["dir/one.bin", key]), sorted(["dir/one.bin", key.replace("+", " ")])),
          f"list-v2 under a prefix: {keys}")

    bad = client(a.endpoint, a.access_key, a.secret_key + "x", a.region)
    try:
        bad.head_object(Bucket=b, Key="dir/one.bin")
        check(False, "a wrong secret is refused")
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "a wrong secret is refused (403): signatures are checked")

    # A request signed for the proxy's host and sent to the server directly fails: the
    # proxy must forward the Host header as the client sent it.
    if a.direct:
        req = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "dir/one.bin"}, ExpiresIn=300)
        path = req[len(a.endpoint):]
        st, _, _ = raw(a.direct, "GET", path, {"Host": urllib.parse.urlsplit(a.direct).netloc})
        check(st == 403, f"a URL signed for the proxy's host fails straight at the server ({st})")
        st, _, _ = raw(a.endpoint, "GET", path, {})
        check(st == 200, "... and works through the proxy")

    # CORS: preflight answered by the proxy, headers on real responses, none for other origins.
    pre = {"Origin": a.origin, "Access-Control-Request-Method": "PUT",
           "Access-Control-Request-Headers": "authorization,x-amz-content-sha256,x-amz-date,content-type"}
    st, h, _ = raw(a.endpoint, "OPTIONS", f"/{b}/dir/one.bin?partNumber=1&uploadId=x", pre)
    check(st == 204, f"preflight: 204 ({st})")
    check(h.get("access-control-allow-origin") == a.origin, "preflight: Allow-Origin is the page's origin")
    check(all(m in h.get("access-control-allow-methods", "") for m in ("GET", "PUT", "POST", "DELETE", "HEAD")),
          "preflight: Allow-Methods GET, PUT, POST, DELETE, HEAD")
    check(h.get("access-control-allow-headers") == pre["Access-Control-Request-Headers"],
          "preflight: Allow-Headers reflects the requested headers")
    check("ETag" in h.get("access-control-expose-headers", ""), "preflight: Expose-Headers has ETag")
    check(h.get("access-control-max-age", "").isdigit(), "preflight: Max-Age")

    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "dir/one.bin"}, ExpiresIn=300)
    st, h, _ = raw(a.endpoint, "GET", url[len(a.endpoint):], {"Origin": a.origin})
    check(st == 200 and h.get("access-control-allow-origin") == a.origin, "GET: Allow-Origin on the response")
    check("ETag" in h.get("access-control-expose-headers", ""), "GET: Expose-Headers has ETag")
    st, h, _ = raw(a.endpoint, "GET", f"/{b}/dir/none", {"Origin": a.origin})
    check(st >= 400 and h.get("access-control-allow-origin") == a.origin,
          f"an error response ({st}) carries Allow-Origin too, so the page can read it")
    st, h, _ = raw(a.endpoint, "OPTIONS", f"/{b}/dir/one.bin", dict(pre, Origin="http://elsewhere.test"))
    check("access-control-allow-origin" not in h, "another origin gets no Allow-Origin")

    for k in ["dir/one.bin", key]:
        s3.delete_object(Bucket=b, Key=k)
    check(s3.list_objects_v2(Bucket=b, Prefix="dir/").get("KeyCount", 0) == 0, "delete")
    print("proxy checks: all passed")


if __name__ == "__main__":
    main()
