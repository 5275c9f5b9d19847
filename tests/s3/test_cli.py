"""The cse binary against a real local S3 server (s3s-fs), the users' scripts and
the official Python SDK.

Exit codes under test: 0 ok, 1 other error, 2 usage, 3 S3 request failed,
4 message rejected, 5 key or config problem, 130 interrupted.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import seed_scripts
from conftest import LARGE_SIZE, SEED_ROUNDTRIP, Result, free_port, run_python, sha256_file
from faultproxy import (
    ABORT_MULTIPART,
    COMPLETE_MULTIPART,
    CREATE_MULTIPART,
    GET_OBJECT,
    UPLOAD_PART,
    Rule,
)

MIB = 1024 * 1024
EXAMPLE = b"This is example for CSE!\n"
LS_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\s+(\d+) (.+)$")


# -- helpers ---------------------------------------------------------------------


def expect(result, code: int):
    assert result.returncode == code, f"expected exit {code}\n{result.describe()}"
    if code != 0:
        assert result.stderr.startswith("cse: "), f"error output must start with 'cse: '\n{result.describe()}"
        assert 1 <= len(result.stderr.strip().splitlines()) <= 3, f"error output should be short\n{result.describe()}"


def random_file(path: Path, size: int, head: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(head[:size])
        left = size - min(size, len(head))
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            f.write(chunk)
            left -= len(chunk)
    return path


def object_missing(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def keys_in(s3, bucket, prefix="") -> list[str]:
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **kw)
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(keys)
        token = page["NextContinuationToken"]


def ls_entries(stdout: bytes) -> dict[str, int]:
    """KEY -> SIZE from `cse ls` object lines (PRE lines are skipped)."""
    out = {}
    for line in stdout.decode().splitlines():
        m = LS_LINE.match(line)
        if m:
            out[m.group(4)] = int(m.group(3))
    return out


def peak_rss_kib(cse, time_out: Path, *args, env=None, timeout=300):
    """Run cse under /usr/bin/time and return (result, peak RSS in KiB)."""
    if not Path("/usr/bin/time").exists():
        pytest.fail("/usr/bin/time is missing: apt-get install -y time")
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(time_out), *cse.command(*args)],
        env=cse.env if env is None else env,
        cwd=cse.cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    result = Result(list(args), proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))
    rss = int(time_out.read_text().strip().splitlines()[-1]) if proc.returncode == 0 else -1
    return result, rss


def seed_s3(s3server, endpoint=None):
    return seed_scripts.s3_client(endpoint or s3server.endpoint, s3server.access_key, s3server.secret_key)


# -- interoperability with the users' scripts -----------------------------------

SIZES = {"example": len(EXAMPLE), "empty": 0, "3MB": 3_000_007}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_seed_upload_then_cse_download(cse, s3, bucket, keypair, seed_keyring, tmp_path, size):
    plain = random_file(tmp_path / "example.txt", size, EXAMPLE)
    seed_scripts.upload(s3, bucket, "example_encrypted.txt", str(plain), seed_keyring)
    out = tmp_path / "out" / "example_decrypted.txt"
    out.parent.mkdir()
    r = cse("cp", f"s3://{bucket}/example_encrypted.txt", out, "--private-key", keypair.private)
    expect(r, 0)
    assert out.read_bytes() == plain.read_bytes()
    assert sorted(os.listdir(out.parent)) == ["example_decrypted.txt"]


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_cse_upload_then_seed_download(cse, s3, bucket, keypair, seed_keyring, tmp_path, size):
    plain = random_file(tmp_path / "example.txt", size, EXAMPLE)
    r = cse("cp", plain, f"s3://{bucket}/example_encrypted.txt", "--public-key", keypair.public)
    expect(r, 0)
    out = tmp_path / "example_decrypted.txt"
    seed_scripts.download(s3, bucket, "example_encrypted.txt", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()
    # The stored object is an ESDK v2 message with the default suite and the users' key names.
    ct = s3.get_object(Bucket=bucket, Key="example_encrypted.txt")["Body"].read()
    assert ct[0] == 0x02 and ct[1:3] == b"\x05\x78"
    assert b"MyAppKeys" in ct[:4096] and b"S3RSAKey" in ct[:4096]


def test_cse_upload_to_key_prefix_with_trailing_slash(cse, s3, bucket, keypair, seed_keyring, tmp_path):
    plain = random_file(tmp_path / "report.csv", 1000)
    expect(cse("cp", plain, f"s3://{bucket}/dir/", "--public-key", keypair.public), 0)
    assert keys_in(s3, bucket) == ["dir/report.csv"]


def test_cse_encrypt_official_decrypt(cse, keypair, tmp_path):
    plain = random_file(tmp_path / "p.bin", 1_234_567, EXAMPLE)
    ct = tmp_path / "p.bin.enc"
    expect(cse("encrypt", plain, "-o", ct, "--public-key", keypair.public), 0)
    raw = ct.read_bytes()
    assert raw[0] == 0x02 and raw[1:3] == b"\x05\x78"
    back = tmp_path / "back.bin"
    run_python(SEED_ROUNDTRIP, "decrypt", ct, back, keypair.public, keypair.private)
    assert back.read_bytes() == plain.read_bytes()


def test_official_encrypt_cse_decrypt(cse, keypair, tmp_path):
    plain = random_file(tmp_path / "p.bin", 1_234_567, EXAMPLE)
    ct = tmp_path / "p.bin.enc"
    run_python(SEED_ROUNDTRIP, "encrypt", plain, ct, keypair.public, keypair.private)
    back = tmp_path / "back.bin"
    expect(cse("decrypt", ct, "-o", back, "--private-key", keypair.private), 0)
    assert back.read_bytes() == plain.read_bytes()


def test_encrypt_decrypt_through_pipes(cse, keypair, tmp_path):
    plain = os.urandom(500_001)
    enc = cse("encrypt", "-", "-o", "-", "--public-key", keypair.public, input=plain)
    expect(enc, 0)
    dec = cse("decrypt", "-", "-o", "-", "--private-key", keypair.private, input=enc.stdout)
    expect(dec, 0)
    assert dec.stdout == plain


# -- multipart, large ------------------------------------------------------------


@pytest.mark.large
def test_multipart_round_trip_200mib(cse, s3server, s3, bucket, keypair, large_file, tmp_path, make_proxy):
    """~200 MiB up in 8 MiB parts and down with ranged GETs; memory stays bounded.

    Bound: 32 MiB for the program itself (code, HTTP and TLS state, allocator slack)
    plus, for each of the `concurrency` requests in flight, two part-sized buffers
    (the part being sent and the next one being encrypted or received). A program
    that held the whole file would need more than 200 MiB.
    """
    path, digest = large_file
    part, concurrency = 8 * MIB, 4
    bound_kib = (32 * MIB + concurrency * part * 2) // 1024

    up, up_rss = peak_rss_kib(
        cse, tmp_path / "up.time", "--no-progress", "cp", path, f"s3://{bucket}/big/large.bin",
        "--public-key", keypair.public, "--part-size", "8MiB", "--concurrency", concurrency,
    )
    expect(up, 0)
    head = s3.head_object(Bucket=bucket, Key="big/large.bin")
    m = re.fullmatch(r'"[0-9a-f]{32}-(\d+)"', head["ETag"])
    assert m, f"not a multipart ETag: {head['ETag']}"
    parts = int(m.group(1))
    assert parts > 1
    assert parts == math.ceil(head["ContentLength"] / part), (parts, head["ContentLength"])
    assert LARGE_SIZE < head["ContentLength"] < LARGE_SIZE * 1.01
    assert s3server.unfinished_uploads(bucket) == []

    # Download through a plain proxy to see the requests.
    proxy = make_proxy()
    out = tmp_path / "dl" / "large.bin"
    out.parent.mkdir()
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    down, down_rss = peak_rss_kib(
        cse, tmp_path / "down.time", "--no-progress", "cp", f"s3://{bucket}/big/large.bin", out,
        "--private-key", keypair.private, "--part-size", "8MiB", "--concurrency", concurrency, env=env,
    )
    expect(down, 0)
    assert sha256_file(out) == digest
    assert sorted(os.listdir(out.parent)) == ["large.bin"]
    ranged = [e for e in proxy.entries(GET_OBJECT) if e["range"]]
    assert len(ranged) > 1, f"expected ranged GETs, saw {proxy.entries(GET_OBJECT)}"

    print(f"peak RSS: upload {up_rss} KiB, download {down_rss} KiB, bound {bound_kib} KiB, {parts} parts")
    assert up_rss < bound_kib, f"upload peak RSS {up_rss} KiB >= {bound_kib} KiB"
    assert down_rss < bound_kib, f"download peak RSS {down_rss} KiB >= {bound_kib} KiB"


def test_multipart_object_official_sdk_reads(s3, bucket, cse, keypair, seed_keyring, tmp_path):
    """A 24 MiB multipart upload by cse is one ESDK message the users' script can read."""
    plain = random_file(tmp_path / "p.bin", 24 * MIB + 1)
    expect(cse("cp", plain, f"s3://{bucket}/p.bin", "--public-key", keypair.public, "--part-size", "5MiB",
               "--multipart-threshold", "5MiB"), 0)
    assert re.fullmatch(r'"[0-9a-f]{32}-[2-9]\d*"', s3.head_object(Bucket=bucket, Key="p.bin")["ETag"])
    out = tmp_path / "out.bin"
    seed_scripts.download(s3, bucket, "p.bin", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()


# -- stdin / stdout ----------------------------------------------------------------


@pytest.mark.parametrize("size", [100_003, 21 * MIB + 3], ids=["small", "multipart"])
def test_stdin_upload_stdout_download(cse, s3, bucket, keypair, seed_keyring, tmp_path, size):
    plain = random_file(tmp_path / "f", size)
    extra = ["--part-size", "5MiB", "--multipart-threshold", "5MiB"] if size > 5 * MIB else []
    with open(plain, "rb") as f:  # cat f | cse cp - s3://b/k
        cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
        proc = subprocess.run(
            cse.command("cp", "-", f"s3://{bucket}/from-stdin", "--public-key", keypair.public, *extra),
            stdin=cat.stdout, capture_output=True, env=cse.env, cwd=cse.cwd, timeout=300,
        )
        cat.stdout.close()
        cat.wait()
    assert proc.returncode == 0, proc.stderr.decode()
    if size > 5 * MIB:
        assert re.search(r'-\d+"$', s3.head_object(Bucket=bucket, Key="from-stdin")["ETag"])

    out = tmp_path / "out"
    with open(out, "wb") as f:  # cse cp s3://b/k - > out
        r = cse("cp", f"s3://{bucket}/from-stdin", "-", "--private-key", keypair.private, stdout=f)
    expect(r, 0)
    assert sha256_file(out) == sha256_file(plain)

    seed_out = tmp_path / "seed-out"
    seed_scripts.download(s3, bucket, "from-stdin", str(seed_out), seed_keyring)
    assert sha256_file(seed_out) == sha256_file(plain)


# -- recursive, ls, rm ---------------------------------------------------------------


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": os.urandom(70_000),
        "sub/deep/c.txt": b"gamma\n" * 1000,
        "skip.log": b"not me\n",
        "sub/skip2.log": b"nor me\n",
        "sub/deep/empty.dat": b"",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def test_recursive_upload_ls_download_rm(cse, s3, bucket, keypair, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    kept = {k: v for k, v in files.items() if not k.endswith(".log")}

    r = cse("cp", src, f"s3://{bucket}/pre/", "--recursive", "--exclude", "*.log", "--public-key", keypair.public)
    expect(r, 0)
    assert keys_in(s3, bucket) == sorted(f"pre/{k}" for k in kept)

    # ls --recursive: one "DATE TIME SIZE KEY" line per object, sizes as stored.
    r = cse("ls", f"s3://{bucket}/pre/", "--recursive")
    expect(r, 0)
    listed = ls_entries(r.stdout)
    assert sorted(listed) == sorted(f"pre/{k}" for k in kept), r.stdout.decode()
    for key, size in listed.items():
        assert size == s3.head_object(Bucket=bucket, Key=key)["ContentLength"]

    # ls without --recursive: the objects at this level and the sub-prefix.
    r = cse("ls", f"s3://{bucket}/pre/")
    expect(r, 0)
    text = r.stdout.decode()
    assert any(line.endswith("a.txt") for line in text.splitlines()), text
    assert "sub/" in text and "deep" not in text and "b.bin" not in text, text

    # Recursive download: the same tree, nothing else.
    dst = tmp_path / "dst"
    r = cse("cp", f"s3://{bucket}/pre/", str(dst) + "/", "--recursive", "--private-key", keypair.private)
    expect(r, 0)
    got = {str(p.relative_to(dst)): p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    assert got == kept

    # rm with a filter, then everything.
    expect(cse("rm", f"s3://{bucket}/pre/", "--recursive", "--exclude", "sub/*"), 0)
    assert keys_in(s3, bucket) == sorted(f"pre/{k}" for k in kept if k.startswith("sub/"))
    expect(cse("rm", f"s3://{bucket}/pre/sub/b.bin"), 0)
    assert "pre/sub/b.bin" not in keys_in(s3, bucket)
    expect(cse("rm", f"s3://{bucket}/pre", "--recursive"), 0)
    assert keys_in(s3, bucket) == []


def test_recursive_include_after_exclude(cse, s3, bucket, keypair, tmp_path):
    """aws s3 filter order: later filters win, so --exclude '*' --include '*.txt' keeps only .txt."""
    src = tmp_path / "src"
    files = make_tree(src)
    r = cse("cp", src, f"s3://{bucket}/t/", "--recursive", "--exclude", "*", "--include", "*.txt",
            "--public-key", keypair.public)
    expect(r, 0)
    assert keys_in(s3, bucket) == sorted(f"t/{k}" for k in files if k.endswith(".txt"))


def test_ls_paginates_past_1000_keys(cse, s3, bucket):
    keys = [f"many/k{i:05d}" for i in range(1100)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"y")

    r = cse("ls", f"s3://{bucket}", "--recursive")
    expect(r, 0)
    listed = ls_entries(r.stdout)
    assert sorted(listed) == sorted(keys + ["top.txt"])
    assert all(listed[k] == 1 for k in keys)

    r = cse("ls", f"s3://{bucket}/many/")
    expect(r, 0)
    assert len(ls_entries(r.stdout)) == 1100

    expect(cse("rm", f"s3://{bucket}/many/", "--recursive"), 0)
    assert keys_in(s3, bucket) == ["top.txt"]


def test_mb_creates_a_bucket(cse, s3):
    name = f"mb-{os.urandom(4).hex()}"
    expect(cse("mb", f"s3://{name}"), 0)
    s3.head_bucket(Bucket=name)


# -- faults: credentials, buckets, keys, tampering ---------------------------------------


def test_wrong_secret_key(cse, bucket, keypair, tmp_path):
    wrong = "WrongSecret" + os.urandom(8).hex()
    env = dict(cse.env, AWS_SECRET_ACCESS_KEY=wrong)
    plain = random_file(tmp_path / "f", 1000)
    for args in (("ls", f"s3://{bucket}"), ("cp", plain, f"s3://{bucket}/k", "--public-key", keypair.public)):
        r = cse(*args, env=env)
        expect(r, 3)
        assert "SignatureDoesNotMatch" in r.stderr, r.describe()
        assert "secret" in r.stderr.lower(), r.describe()
        assert wrong not in r.stderr, "the secret itself must never be printed"


def test_missing_bucket(cse, tmp_path, keypair):
    # s3s-fs creates a missing bucket's folder on PutObject instead of answering
    # NoSuchBucket, so the missing bucket is tested with reads.
    name = f"no-such-{os.urandom(4).hex()}"
    r = cse("ls", f"s3://{name}")
    expect(r, 3)
    assert name in r.stderr, r.describe()
    r = cse("ls", f"s3://{name}/some/prefix/", "--recursive")
    expect(r, 3)
    assert name in r.stderr, r.describe()
    out = tmp_path / "out"
    r = cse("cp", f"s3://{name}/k", out, "--private-key", keypair.private)
    expect(r, 3)
    assert name in r.stderr, r.describe()
    assert not out.exists()


def test_missing_key(cse, bucket, keypair, tmp_path):
    out = tmp_path / "dl" / "out"
    out.parent.mkdir()
    r = cse("cp", f"s3://{bucket}/nothing-here", out, "--private-key", keypair.private)
    expect(r, 3)
    assert "nothing-here" in r.stderr, r.describe()
    assert os.listdir(out.parent) == []


def test_public_key_given_to_decrypt(cse, s3, bucket, keypair, tmp_path):
    plain = random_file(tmp_path / "f", 1000)
    ct = tmp_path / "f.enc"
    expect(cse("encrypt", plain, "-o", ct, "--public-key", keypair.public), 0)
    out = tmp_path / "out"
    expect(cse("decrypt", ct, "-o", out, "--private-key", keypair.public), 5)
    assert not out.exists()
    expect(cse("cp", plain, f"s3://{bucket}/k", "--public-key", keypair.public), 0)
    expect(cse("cp", f"s3://{bucket}/k", out, "--private-key", keypair.public), 5)
    assert not out.exists()


def test_missing_key_file(cse, tmp_path):
    plain = random_file(tmp_path / "f", 10)
    expect(cse("encrypt", plain, "-o", tmp_path / "o", "--public-key", tmp_path / "absent.pem"), 5)


def test_message_for_another_key(cse, s3, bucket, keypair, other_keypair, tmp_path):
    plain = random_file(tmp_path / "f", 5000)
    ct = tmp_path / "f.enc"
    expect(cse("encrypt", plain, "-o", ct, "--public-key", other_keypair.public), 0)
    out = tmp_path / "dl" / "out"
    out.parent.mkdir()
    r = cse("decrypt", ct, "-o", out, "--private-key", keypair.private)
    expect(r, 4)
    assert "MyAppKeys/S3RSAKey" in r.stderr, r.describe()
    assert os.listdir(out.parent) == []

    s3.put_object(Bucket=bucket, Key="other", Body=ct.read_bytes())
    r = cse("cp", f"s3://{bucket}/other", out, "--private-key", keypair.private)
    expect(r, 4)
    assert "MyAppKeys/S3RSAKey" in r.stderr, r.describe()
    assert os.listdir(out.parent) == []


def test_tampered_object(cse, s3, bucket, keypair, tmp_path):
    plain = random_file(tmp_path / "f", 3 * MIB + 17)
    expect(cse("cp", plain, f"s3://{bucket}/t", "--public-key", keypair.public), 0)
    data = bytearray(s3.get_object(Bucket=bucket, Key="t")["Body"].read())
    data[len(data) // 2] ^= 0x01
    s3.put_object(Bucket=bucket, Key="t", Body=bytes(data))

    dl = tmp_path / "dl"
    dl.mkdir()
    r = cse("cp", f"s3://{bucket}/t", dl / "out", "--private-key", keypair.private)
    expect(r, 4)
    assert os.listdir(dl) == [], "no output and no temporary file may be left"

    (tmp_path / "t.enc").write_bytes(bytes(data))
    r = cse("decrypt", tmp_path / "t.enc", "-o", dl / "out2", "--private-key", keypair.private)
    expect(r, 4)
    assert os.listdir(dl) == []


def test_truncated_object(cse, s3, bucket, keypair, tmp_path):
    plain = random_file(tmp_path / "f", 200_000)
    expect(cse("cp", plain, f"s3://{bucket}/t", "--public-key", keypair.public), 0)
    data = s3.get_object(Bucket=bucket, Key="t")["Body"].read()
    s3.put_object(Bucket=bucket, Key="t", Body=data[:-50])
    dl = tmp_path / "dl"
    dl.mkdir()
    expect(cse("cp", f"s3://{bucket}/t", dl / "out", "--private-key", keypair.private), 4)
    assert os.listdir(dl) == []


def test_usage_error(cse):
    r = cse("cp", "--no-such-flag")
    assert r.returncode == 2, r.describe()


# -- faults injected by a proxy ------------------------------------------------------------


def no_trace_of(s3server, upload_ids):
    """Neither the upload's record nor any of its part files is left on the server."""
    names = os.listdir(s3server.root)
    return [n for n in names for u in upload_ids if u in n]


def test_transient_errors_are_retried(cse, s3server, s3, bucket, keypair, seed_keyring, tmp_path, make_proxy):
    proxy = make_proxy(
        [
            Rule(CREATE_MULTIPART, "503", first=1),
            Rule(UPLOAD_PART, "503", every=3),
            Rule(UPLOAD_PART, "reset", every=4),
            Rule(COMPLETE_MULTIPART, "500", first=1),
        ]
    )
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    plain = random_file(tmp_path / "f", 40 * MIB + 5)
    r = cse("--no-progress", "cp", plain, f"s3://{bucket}/flaky", "--public-key", keypair.public,
            "--part-size", "5MiB", "--multipart-threshold", "5MiB", "--concurrency", 3, env=env, timeout=180)
    expect(r, 0)
    assert proxy.count(UPLOAD_PART, "503") >= 2 and proxy.count(UPLOAD_PART, "reset") >= 1
    assert proxy.count(CREATE_MULTIPART, "503") == 1 and proxy.count(COMPLETE_MULTIPART, "500") == 1
    assert re.fullmatch(r'"[0-9a-f]{32}-9"', s3.head_object(Bucket=bucket, Key="flaky")["ETag"])
    assert s3server.unfinished_uploads(bucket) == []

    # Download through faults too, then the users' script reads the same object.
    down_proxy = make_proxy([Rule(GET_OBJECT, "reset", first=1), Rule(GET_OBJECT, "503", every=3)])
    env = dict(cse.env, AWS_ENDPOINT_URL=down_proxy.endpoint)
    out = tmp_path / "out"
    r = cse("--no-progress", "cp", f"s3://{bucket}/flaky", out, "--private-key", keypair.private,
            "--part-size", "5MiB", env=env, timeout=180)
    expect(r, 0)
    assert sha256_file(out) == sha256_file(plain)
    assert down_proxy.count(GET_OBJECT, "reset") == 1
    seed_out = tmp_path / "seed-out"
    seed_scripts.download(s3, bucket, "flaky", str(seed_out), seed_keyring)
    assert sha256_file(seed_out) == sha256_file(plain)


def test_permanent_part_failure_aborts_the_upload(cse, s3server, s3, bucket, keypair, tmp_path, make_proxy):
    """UploadPart fails for good after two parts; Abort still reaches the server."""
    proxy = make_proxy([Rule(UPLOAD_PART, "503", after=2)])
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    plain = random_file(tmp_path / "f", 30 * MIB)
    started = time.monotonic()
    r = cse("--no-progress", "cp", plain, f"s3://{bucket}/doomed", "--public-key", keypair.public,
            "--part-size", "5MiB", "--multipart-threshold", "5MiB", "--concurrency", 2, env=env, timeout=240)
    elapsed = time.monotonic() - started
    expect(r, 3)
    assert "SlowDown" in r.stderr or "503" in r.stderr, r.describe()
    assert object_missing(s3, bucket, "doomed")
    assert proxy.count(ABORT_MULTIPART) >= 1, "cse did not send AbortMultipartUpload"
    ids = proxy.upload_ids()
    assert ids and s3server.unfinished_uploads(bucket) == []
    assert no_trace_of(s3server, ids) == []
    print(f"gave up after {elapsed:.1f} s and {proxy.count(UPLOAD_PART)} UploadPart attempts")


def test_dead_server_leaves_upload_that_mpu_abort_cleans(cse, s3server, s3, bucket, keypair, tmp_path, make_proxy):
    """Everything fails after the 3rd request: the abort cannot get through, so the
    upload stays open; `cse mpu ls` then shows it and `cse mpu abort --all` removes it."""
    dead = make_proxy([Rule(action="500", after=3)])
    env = dict(cse.env, AWS_ENDPOINT_URL=dead.endpoint)
    plain = random_file(tmp_path / "f", 20 * MIB)
    r = cse("--no-progress", "cp", plain, f"s3://{bucket}/orphan", "--public-key", keypair.public,
            "--part-size", "5MiB", "--multipart-threshold", "5MiB", "--concurrency", 1, env=env, timeout=240)
    assert r.returncode == 3, r.describe()
    assert object_missing(s3, bucket, "orphan")
    left = s3server.unfinished_uploads(bucket)
    assert [u["key"] for u in left] == ["orphan"]

    lister = make_proxy()  # emulates ListMultipartUploads, which s3s-fs lacks
    r = cse("--endpoint-url", lister.endpoint, "mpu", "ls", f"s3://{bucket}")
    expect(r, 0)
    assert "orphan" in r.stdout.decode() and left[0]["upload_id"] in r.stdout.decode()
    expect(cse("--endpoint-url", lister.endpoint, "mpu", "abort", f"s3://{bucket}", "--all"), 0)
    assert s3server.unfinished_uploads(bucket) == []


def test_ctrl_c_during_upload(cse, s3server, s3, bucket, keypair, tmp_path, make_proxy):
    proxy = make_proxy([Rule(UPLOAD_PART, "delay", delay=1.5)])
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    plain = random_file(tmp_path / "f", 40 * MIB)
    proc = cse.popen("--no-progress", "cp", plain, f"s3://{bucket}/interrupted", "--public-key", keypair.public,
                     "--part-size", "5MiB", "--multipart-threshold", "5MiB", "--concurrency", 2, env=env)
    try:
        deadline = time.monotonic() + 30
        while proxy.count(UPLOAD_PART) < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, f"cse ended before the interrupt: {proc.communicate()}"
        assert proxy.count(UPLOAD_PART) >= 1, "no UploadPart seen within 30 s"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert object_missing(s3, bucket, "interrupted")
    assert proxy.count(ABORT_MULTIPART) >= 1, "cse did not abort the upload"
    time.sleep(2)  # let parts that were waiting in the proxy reach the server
    assert s3server.unfinished_uploads(bucket) == []
    assert no_trace_of(s3server, proxy.upload_ids()) == []


# -- mpu ls / abort ---------------------------------------------------------------------------


def test_mpu_ls_and_abort(cse, s3server, s3, bucket, make_proxy):
    proxy = make_proxy()  # emulates ListMultipartUploads, which s3s-fs lacks
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    one = s3.create_multipart_upload(Bucket=bucket, Key="unfinished/one")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="unfinished/one", UploadId=one, PartNumber=1, Body=b"x" * 1000)
    two = s3.create_multipart_upload(Bucket=bucket, Key="other/two")["UploadId"]

    r = cse("mpu", "ls", f"s3://{bucket}", env=env)
    expect(r, 0)
    lines = r.stdout.decode().splitlines()
    assert any(line.split()[:2] == ["unfinished/one", one] for line in lines), lines
    assert any(line.split()[:2] == ["other/two", two] for line in lines), lines

    r = cse("mpu", "ls", f"s3://{bucket}/unfinished/", env=env)
    expect(r, 0)
    assert [line.split()[0] for line in r.stdout.decode().splitlines()] == ["unfinished/one"]

    expect(cse("mpu", "abort", f"s3://{bucket}/unfinished/one", "--upload-id", one, env=env), 0)
    assert [u["upload_id"] for u in s3server.unfinished_uploads(bucket)] == [two]
    expect(cse("mpu", "abort", f"s3://{bucket}", "--all", env=env), 0)
    assert s3server.unfinished_uploads(bucket) == []
    r = cse("mpu", "ls", f"s3://{bucket}", env=env)
    expect(r, 0)
    assert r.stdout.strip() == b""


# -- credentials and configuration -------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_profile_from_credentials_file(cse, s3server, bucket, bare_env, home):
    write(home / ".aws/credentials",
          f"[default]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = wrong-secret\n\n"
          f"[work]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = {s3server.secret_key}\n")
    env = dict(bare_env, AWS_REGION="us-east-1")
    ep = ("--endpoint-url", s3server.endpoint)
    expect(cse(*ep, "ls", f"s3://{bucket}", env=env), 3)
    expect(cse(*ep, "--profile", "work", "ls", f"s3://{bucket}", env=env), 0)
    expect(cse(*ep, "ls", f"s3://{bucket}", env=dict(env, AWS_PROFILE="work")), 0)
    # The flag wins over AWS_PROFILE.
    expect(cse(*ep, "--profile", "default", "ls", f"s3://{bucket}", env=dict(env, AWS_PROFILE="work")), 3)


def test_environment_overrides_credentials_file(cse, s3server, bucket, bare_env, home):
    write(home / ".aws/credentials",
          f"[default]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = wrong-secret\n")
    env = dict(bare_env, AWS_REGION="us-east-1", AWS_ENDPOINT_URL=s3server.endpoint)
    expect(cse("ls", f"s3://{bucket}", env=env), 3)
    good = dict(env, AWS_ACCESS_KEY_ID=s3server.access_key, AWS_SECRET_ACCESS_KEY=s3server.secret_key)
    expect(cse("ls", f"s3://{bucket}", env=good), 0)


def test_credentials_and_config_file_locations_from_env(cse, s3server, bucket, bare_env, tmp_path):
    creds = write(tmp_path / "elsewhere/creds",
                  f"[default]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = {s3server.secret_key}\n")
    config = write(tmp_path / "elsewhere/config", f"[default]\nregion = us-east-1\nendpoint_url = {s3server.endpoint}\n")
    env = dict(bare_env, AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_CONFIG_FILE=str(config))
    expect(cse("ls", f"s3://{bucket}", env=env), 0)


def test_config_file_profile_endpoint(cse, s3server, bucket, bare_env, home):
    dead = f"http://127.0.0.1:{free_port()}"
    write(home / ".aws/credentials",
          f"[work]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = {s3server.secret_key}\n")
    write(home / ".aws/config",
          "[default]\nregion = us-east-1\n\n"
          f"[profile work]\nregion = us-east-1\nendpoint_url = {s3server.endpoint}\n")
    expect(cse("--profile", "work", "ls", f"s3://{bucket}", env=bare_env), 0)
    # Environment endpoints win over the file; the S3-specific one over the global one.
    expect(cse("--profile", "work", "ls", f"s3://{bucket}", env=dict(bare_env, AWS_ENDPOINT_URL=dead)), 3)
    r = cse("--profile", "work", "ls", f"s3://{bucket}",
            env=dict(bare_env, AWS_ENDPOINT_URL=dead, AWS_ENDPOINT_URL_S3=s3server.endpoint))
    expect(r, 0)


def test_config_file_s3_section_endpoint(cse, s3server, bucket, bare_env, home):
    write(home / ".aws/credentials",
          f"[s3only]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = {s3server.secret_key}\n")
    write(home / ".aws/config",
          f"[profile s3only]\nregion = us-east-1\ns3 =\n"
          f"    endpoint_url = {s3server.endpoint}\n    addressing_style = path\n")
    expect(cse("--profile", "s3only", "ls", f"s3://{bucket}", env=bare_env), 0)


def test_config_file_s3_section_wins_over_global_endpoint(cse, s3server, bucket, bare_env, home):
    """The S3-specific endpoint is more specific than the profile's global one, as
    AWS's service-specific endpoint settings are."""
    dead = f"http://127.0.0.1:{free_port()}"
    write(home / ".aws/credentials",
          f"[split]\naws_access_key_id = {s3server.access_key}\naws_secret_access_key = {s3server.secret_key}\n")
    write(home / ".aws/config",
          f"[profile split]\nregion = us-east-1\nendpoint_url = {dead}\ns3 =\n"
          f"    endpoint_url = {s3server.endpoint}\n")
    expect(cse("--profile", "split", "ls", f"s3://{bucket}", env=bare_env), 0)


def test_explicit_path_addressing(cse, bucket):
    expect(cse("--addressing-style", "path", "ls", f"s3://{bucket}"), 0)


def test_cse_config_supplies_keys(cse, s3, bucket, keypair, seed_keyring, home, tmp_path):
    write(home / ".config/cse/config.toml",
          f'public_key = "{keypair.public}"\nprivate_key = "{keypair.private}"\n')
    plain = random_file(tmp_path / "f", 10_000)
    expect(cse("cp", plain, f"s3://{bucket}/k"), 0)
    out = tmp_path / "out"
    expect(cse("cp", f"s3://{bucket}/k", out), 0)
    assert out.read_bytes() == plain.read_bytes()
    seed_out = tmp_path / "seed-out"
    seed_scripts.download(s3, bucket, "k", str(seed_out), seed_keyring)
    assert seed_out.read_bytes() == plain.read_bytes()


def test_cse_config_from_env_and_xdg(cse, s3server, bucket, keypair, bare_env, tmp_path):
    cfg = write(tmp_path / "cfg/any-name.toml",
                f'public_key = "{keypair.public}"\nprivate_key = "{keypair.private}"\n'
                f'endpoint_url = "{s3server.endpoint}"\nregion = "us-east-1"\n')
    env = dict(bare_env, AWS_ACCESS_KEY_ID=s3server.access_key, AWS_SECRET_ACCESS_KEY=s3server.secret_key,
               CSE_CONFIG=str(cfg))
    plain = random_file(tmp_path / "f", 999)
    expect(cse("cp", plain, f"s3://{bucket}/k", env=env), 0)

    xdg = tmp_path / "xdg"
    write(xdg / "cse/config.toml", cfg.read_text())
    env = dict(env, XDG_CONFIG_HOME=str(xdg))
    del env["CSE_CONFIG"]
    out = tmp_path / "out"
    expect(cse("cp", f"s3://{bucket}/k", out, env=env), 0)
    assert out.read_bytes() == plain.read_bytes()


def test_key_paths_from_env(cse, bucket, keypair, tmp_path):
    env = dict(cse.env, CSE_PUBLIC_KEY=str(keypair.public), CSE_PRIVATE_KEY=str(keypair.private))
    plain = random_file(tmp_path / "f", 999)
    expect(cse("cp", plain, f"s3://{bucket}/k", env=env), 0)
    out = tmp_path / "out"
    expect(cse("cp", f"s3://{bucket}/k", out, env=env), 0)
    assert out.read_bytes() == plain.read_bytes()


def test_no_public_key_anywhere(cse, bucket, tmp_path):
    plain = random_file(tmp_path / "f", 10)
    expect(cse("cp", plain, f"s3://{bucket}/k"), 5)


# -- keygen ---------------------------------------------------------------------------------------


def test_keygen(cse, tmp_path):
    work = tmp_path / "kg"
    work.mkdir()
    # Unencrypted, as the users' Python scripts read it (test_passphrase.py: the default).
    r = cse("keygen", "--no-passphrase", cwd=work, timeout=300)
    expect(r, 0)
    private, public = work / "private_key.pem", work / "public_key.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    text = subprocess.run(["openssl", "pkey", "-in", private, "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "4096 bit" in text
    derived = subprocess.run(["openssl", "pkey", "-in", private, "-pubout"], capture_output=True, check=True).stdout
    assert derived == public.read_bytes()

    before = (private.read_bytes(), public.read_bytes())
    r = cse("keygen", cwd=work)
    assert r.returncode != 0 and r.stderr.startswith("cse: "), r.describe()
    r = cse("keygen", "--private-key", private, "--public-key", work / "new_public.pem", cwd=work)
    assert r.returncode != 0, r.describe()
    assert (private.read_bytes(), public.read_bytes()) == before

    # The official SDK uses the pair, both ways round with cse.
    plain = random_file(tmp_path / "p", 100_000, EXAMPLE)
    run_python(SEED_ROUNDTRIP, "encrypt", plain, tmp_path / "py.enc", public, private)
    expect(cse("decrypt", tmp_path / "py.enc", "-o", tmp_path / "a", "--private-key", private), 0)
    assert (tmp_path / "a").read_bytes() == plain.read_bytes()
    expect(cse("encrypt", plain, "-o", tmp_path / "cse.enc", "--public-key", public), 0)
    run_python(SEED_ROUNDTRIP, "decrypt", tmp_path / "cse.enc", tmp_path / "b", public, private)
    assert (tmp_path / "b").read_bytes() == plain.read_bytes()


def test_keygen_explicit_paths(cse, tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    expect(cse("keygen", "--no-passphrase", "--private-key", d / "me.key", "--public-key", d / "me.pub",
               timeout=300), 0)
    assert sorted(os.listdir(d)) == ["me.key", "me.pub"]
    assert (d / "me.key").stat().st_mode & 0o777 == 0o600
