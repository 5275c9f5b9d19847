"""cse verify: whole messages authenticated with the private key, nothing written; objects
under a prefix checked concurrently, with a summary and the first failure's exit status."""

from __future__ import annotations

import os


def test_verify_objects_and_prefix(cse, s3, bucket, tmp_path, keypair, other_keypair, s3server):
    names = []
    for i, size in enumerate([0, 1, 70_000, 9 * 1024 * 1024 + 3]):
        src = tmp_path / f"f{i}.bin"
        src.write_bytes(os.urandom(size))
        r = cse("cp", src, f"s3://{bucket}/run/f{i}.bin", "--public-key", keypair.public, "--part-size", "5MiB")
        assert r.returncode == 0, r.describe()
        names.append(f"run/f{i}.bin")
    work = tmp_path / "cwd"
    work.mkdir()
    before = set(os.listdir(work))

    r = cse("verify", f"s3://{bucket}/run/", "-r", "--private-key", keypair.private, cwd=work)
    assert r.returncode == 0, r.describe()
    out = r.stdout.decode()
    assert "4 verified, 0 failed" in out, out
    assert all(f"s3://{bucket}/{n}" in out for n in names)

    # One object altered in its body: that one fails, the rest verify, exit 4.
    body = bytearray(s3.get_object(Bucket=bucket, Key="run/f2.bin")["Body"].read())
    body[len(body) // 2] ^= 1
    s3.put_object(Bucket=bucket, Key="run/f2.bin", Body=bytes(body))
    r = cse("verify", f"s3://{bucket}/run/", "-r", "--private-key", keypair.private, cwd=work)
    assert r.returncode == 4, r.describe()
    out = r.stdout.decode()
    assert "3 verified, 1 failed" in out, out
    assert f"FAILED: s3://{bucket}/run/f2.bin" in out and "frame" in out, out

    # A single object, and a wrong key.
    r = cse("verify", f"s3://{bucket}/run/f3.bin", "--private-key", keypair.private, cwd=work)
    assert r.returncode == 0, r.describe()
    r = cse("verify", f"s3://{bucket}/run/f3.bin", "--private-key", other_keypair.private, cwd=work)
    assert r.returncode == 4, r.describe()
    assert set(os.listdir(work)) == before, "verify wrote files"


def test_verify_local_files(cse, tmp_path, keypair):
    src = tmp_path / "a.txt"
    src.write_bytes(os.urandom(50_000))
    enc = tmp_path / "a.enc"
    assert cse("encrypt", src, "-o", enc, "--public-key", keypair.public).returncode == 0
    r = cse("verify", enc, "--private-key", keypair.private)
    assert r.returncode == 0, r.describe()
    assert b"50000 bytes of plaintext" in r.stdout
    cut = tmp_path / "cut.enc"
    cut.write_bytes(enc.read_bytes()[:-10])
    r = cse("verify", enc, cut, "--private-key", keypair.private)
    assert r.returncode == 4, r.describe()
    assert b"1 verified, 1 failed" in r.stdout
