"""Several recipients: `--public-key` given several times (or `public_keys` in config.toml)
puts one encrypted data key per public key in the message; any one matching private key
opens it, with cse and with the users' unchanged download script (official Python SDK, raw
RSA keyring MyAppKeys/S3RSAKey)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_key_pair, run_python

SEED = Path(__file__).with_name("seed_scripts.py")
DATA = b"shared with a group\n" * 1000


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Four RSA-4096 pairs made with the users' openssl commands: three recipients, one outsider."""
    root = tmp_path_factory.mktemp("group")
    return [make_key_pair(root / name) for name in ("alice", "bob", "carol", "dave")]




def test_three_recipients_each_key_opens_it_with_cse_and_the_users_script(cse, bucket, group, tmp_path):
    alice, bob, carol, dave = group
    src = tmp_path / "report.txt"
    src.write_bytes(DATA)
    r = cse(
        "cp", src, f"s3://{bucket}/report.txt",
        "--public-key", alice.public, "--public-key", bob.public, "--public-key", carol.public,
    )
    assert r.returncode == 0, r.describe()

    # The message holds three data keys, each named as the users' script names its own.
    local = tmp_path / "report.enc"
    r = cse("encrypt", src, "-o", local, "--json",
            "--public-key", alice.public, "--public-key", bob.public, "--public-key", carol.public)
    assert r.returncode == 0, r.describe()
    facts = json.loads(r.stdout)
    assert facts["encrypted_data_keys"] == ["MyAppKeys/S3RSAKey"] * 3

    for i, pair in enumerate((alice, bob, carol)):
        out = tmp_path / f"cse-{i}.txt"
        r = cse("cp", f"s3://{bucket}/report.txt", out, "--private-key", pair.private)
        assert r.returncode == 0, r.describe()
        assert out.read_bytes() == DATA
        out = tmp_path / f"local-{i}.txt"
        r = cse("decrypt", local, "-o", out, "--private-key", pair.private)
        assert r.returncode == 0, r.describe()
        assert out.read_bytes() == DATA
        # The users' download script, unchanged, with this member's key pair.
        out = tmp_path / f"seed-{i}.txt"
        run_python(
            SEED, "download", "--bucket", bucket, "--key", "report.txt", "--file", out,
            "--public-key", pair.public, "--private-key", pair.private,
            env=cse.env,
        )
        assert out.read_bytes() == DATA

    # An outsider's key: exit 4, naming what the message holds, no file left.
    out = tmp_path / "dave.txt"
    r = cse("cp", f"s3://{bucket}/report.txt", out, "--private-key", dave.private)
    assert r.returncode == 4, r.describe()
    assert "MyAppKeys/S3RSAKey, MyAppKeys/S3RSAKey, MyAppKeys/S3RSAKey" in r.stderr, r.stderr
    assert "3 recipients" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) <= 2, r.stderr
    assert not out.exists()
    r = cse("decrypt", local, "-o", out, "--private-key", dave.private)
    assert r.returncode == 4, r.describe()
    assert not out.exists()
    proc = run_python(
        SEED, "download", "--bucket", bucket, "--key", "report.txt", "--file", out,
        "--public-key", dave.public, "--private-key", dave.private,
        env=cse.env, check=False,
    )
    assert proc.returncode != 0 and not out.exists()


def test_named_recipients_and_the_config_file(cse, bucket, group, tmp_path, home):
    alice, bob, carol, dave = group
    src = tmp_path / "named.txt"
    src.write_bytes(DATA)
    # Bob's data key named "bob"; Alice's keeps the default name.
    enc = tmp_path / "named.enc"
    r = cse("encrypt", src, "-o", enc, "--json", "--public-key", alice.public, "--public-key", f"bob={bob.public}")
    assert r.returncode == 0, r.describe()
    assert json.loads(r.stdout)["encrypted_data_keys"] == ["MyAppKeys/S3RSAKey", "MyAppKeys/bob"]
    out = tmp_path / "bob.txt"
    r = cse("decrypt", enc, "-o", out, "--private-key", bob.private, "--key-name", "bob")
    assert r.returncode == 0, r.describe()
    assert out.read_bytes() == DATA
    # Without --key-name bob, Bob's key finds no data key of its name to try.
    r = cse("decrypt", enc, "-o", tmp_path / "no.txt", "--private-key", bob.private)
    assert r.returncode == 4, r.describe()

    # public_keys in config.toml (relative paths are relative to the file).
    cfg = home / ".config" / "cse"
    cfg.mkdir(parents=True)
    for p, name in ((alice, "a.pem"), (carol, "c.pem")):
        (cfg / name).write_bytes(p.public.read_bytes())
    (cfg / "config.toml").write_text('public_keys = ["a.pem", "c.pem"]\n')
    r = cse("cp", src, f"s3://{bucket}/cfg.txt")
    assert r.returncode == 0, r.describe()
    for pair in (alice, carol):
        out = tmp_path / "cfg-out.txt"
        run_python(
            SEED, "download", "--bucket", bucket, "--key", "cfg.txt", "--file", out,
            "--public-key", pair.public, "--private-key", pair.private, env=cse.env,
        )
        assert out.read_bytes() == DATA


def test_groups_past_the_default_limits_need_the_flags(cse, group, tmp_path):
    alice = group[0]
    src = tmp_path / "big-group.txt"
    src.write_bytes(b"x")
    enc = tmp_path / "big-group.enc"
    # A group of 19: the three others six times each, then Alice (the last data key).
    others = [a for p in group[1:] for a in ("--public-key", p.public)] * 6
    r = cse("encrypt", src, "-o", enc, *others, "--public-key", alice.public)
    assert r.returncode == 0, r.describe()
    r = cse("decrypt", enc, "-o", tmp_path / "o1", "--private-key", alice.private)
    assert r.returncode == 4 and "--max-encrypted-data-keys" in r.stderr, r.describe()
    r = cse("decrypt", enc, "-o", tmp_path / "o2", "--private-key", alice.private, "--max-encrypted-data-keys", "20")
    assert r.returncode == 4 and "--max-key-attempts" in r.stderr, r.describe()
    out = tmp_path / "o3"
    r = cse("decrypt", enc, "-o", out, "--private-key", alice.private,
            "--max-encrypted-data-keys", "20", "--max-key-attempts", "20")
    assert r.returncode == 0, r.describe()
    assert out.read_bytes() == b"x"
