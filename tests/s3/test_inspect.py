"""cse inspect: the facts of a message without a key, from a file or from S3 (only the header
and the footer's last bytes are fetched)."""

from __future__ import annotations

import json
import os

from conftest import run_python, SEED_SCRIPTS


def test_inspect_file_and_object(cse, bucket, tmp_path, keypair, make_proxy, s3server):
    src = tmp_path / "results.bin"
    src.write_bytes(os.urandom(30 * 1024 * 1024 + 5))
    r = cse("cp", src, f"s3://{bucket}/results.bin", "--public-key", keypair.public, "-c", "project=alpha")
    assert r.returncode == 0, r.describe()
    # The users' script writes its own message; inspect needs no key for either.
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello" * 1000)
    run_python(SEED_SCRIPTS, "upload", "--bucket", bucket, "--key", "by-script.txt", "--file", small,
               "--endpoint-url", s3server.endpoint, "--access-key", s3server.access_key,
               "--secret-key", s3server.secret_key, "--public-key", keypair.public, "--private-key", keypair.private)

    proxy = make_proxy()
    r = cse("inspect", f"s3://{bucket}/results.bin", "--json", "--endpoint-url", proxy.endpoint)
    assert r.returncode == 0, r.describe()
    facts = json.loads(r.stdout)
    assert facts["suite"] == "0x0578" and facts["signed"] and facts["committing"]
    assert facts["plaintext_bytes"] == src.stat().st_size
    assert facts["encrypted_data_keys"] == ["MyAppKeys/S3RSAKey"]
    assert facts["encryption_context"]["project"] == "alpha"
    # Only the header and the last bytes were read, never the 30 MiB body.
    gets = [e for e in proxy.log if e["method"] == "GET"]
    assert gets and all(e["range"] for e in gets), gets
    fetched = 0
    for e in gets:
        first, last = e["range"].split("=")[1].split("-")
        fetched += int(last) - int(first) + 1
    assert fetched <= 70 * 1024, fetched

    r = cse("inspect", f"s3://{bucket}/by-script.txt")
    assert r.returncode == 0, r.describe()
    text = r.stdout.decode()
    assert "5000 bytes of plaintext" in text, text
    assert "MyAppKeys/S3RSAKey" in text

    # A local file: the same facts.
    enc = tmp_path / "results.enc"
    r = cse("encrypt", small, "-o", enc, "--public-key", keypair.public)
    assert r.returncode == 0, r.describe()
    r = cse("inspect", enc, "--json")
    assert json.loads(r.stdout)["plaintext_bytes"] == 5000


def test_inspect_refuses_what_is_not_a_message(cse, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x1b]52;c;x\x07" + os.urandom(100))
    r = cse("inspect", junk)
    assert r.returncode == 4, r.describe()
    assert "\x1b" not in r.stderr
