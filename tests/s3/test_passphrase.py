"""Private keys protected at rest: encrypted PKCS #8 keys as openssl writes them (PBES2 with
PBKDF2 or scrypt) for cse decrypt and cse cp; the passphrase from CSE_PASSPHRASE_FILE or asked
once on the terminal; `cse keygen` writes an encrypted key openssl reads."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from conftest import make_key_pair

PASSPHRASE = "a long secret, with spaces"
PROMPT = re.compile(rb"Passphrase [^\n]*: |passphrase again: ")
DATA = b"kept secret at rest\n" * 500


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    """One RSA-4096 pair; its private key encrypted by openssl with PBKDF2 and with scrypt."""
    root = tmp_path_factory.mktemp("protected")
    pair = make_key_pair(root)
    passfile = root / "pass.txt"
    passfile.write_text(PASSPHRASE + "\n")
    passfile.chmod(0o600)
    pbkdf2 = root / "pbkdf2.pem"  # as `openssl genpkey -aes256` writes it
    scrypt = root / "scrypt.pem"
    subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", pair.private, "-out", pbkdf2,
         "-passout", f"file:{passfile}"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-scrypt", "-in", pair.private, "-out", scrypt,
         "-passout", f"file:{passfile}"], check=True, capture_output=True)
    genpkey = root / "genpkey.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256",
         "-pass", f"file:{passfile}", "-out", genpkey], check=True, capture_output=True)
    genpub = root / "genpkey.pub"
    subprocess.run(["openssl", "pkey", "-in", genpkey, "-passin", f"file:{passfile}", "-pubout", "-out", genpub],
                   check=True, capture_output=True)
    for k in (pbkdf2, scrypt, genpkey):
        assert k.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    return {"pair": pair, "passfile": passfile, "pbkdf2": pbkdf2, "scrypt": scrypt,
            "genpkey": genpkey, "genpub": genpub, "root": root}


def with_passfile(cse, path) -> dict:
    return {**cse.env, "CSE_PASSPHRASE_FILE": str(path)}


def on_terminal(cse, args, answers, timeout=120):
    """Runs cse with a pseudo-terminal as its controlling terminal; types each answer after a
    prompt. Returns (exit status, everything the terminal showed, prompts seen)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cse.cwd)
        os.execve(str(cse.binary), [str(cse.binary), *map(str, args)], cse.env)
    shown, prompts, answers = b"", 0, list(answers)
    deadline = time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            while len(PROMPT.findall(shown)) > prompts:
                prompts += 1
                time.sleep(0.3)  # let the prompt turn the echo off before typing
                os.write(fd, (answers.pop(0) if answers else "").encode() + b"\n")
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0) if not done else (pid, status)
    try:
        while select.select([fd], [], [], 0.2)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            shown += chunk
    except OSError:
        pass
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace"), prompts


@pytest.mark.parametrize("kind", ["pbkdf2", "scrypt", "genpkey"])
def test_openssl_encrypted_keys_decrypt_and_download(cse, bucket, protected, tmp_path, kind):
    key = protected[kind]
    public = protected["genpub"] if kind == "genpkey" else protected["pair"].public
    src = tmp_path / "plain.txt"
    src.write_bytes(DATA)
    enc = tmp_path / "msg.enc"
    assert cse("encrypt", src, "-o", enc, "--public-key", public).returncode == 0
    assert cse("cp", src, f"s3://{bucket}/k", "--public-key", public).returncode == 0
    env = with_passfile(cse, protected["passfile"])
    out = tmp_path / "out.txt"
    r = cse("decrypt", enc, "-o", out, "--private-key", key, env=env)
    assert r.returncode == 0, r.describe()
    assert out.read_bytes() == DATA
    out2 = tmp_path / "out2.txt"
    r = cse("cp", f"s3://{bucket}/k", out2, "--private-key", key, env=env)
    assert r.returncode == 0, r.describe()
    assert out2.read_bytes() == DATA


def test_a_wrong_passphrase_is_exit_5_with_a_clear_message(cse, bucket, protected, tmp_path):
    src = tmp_path / "plain.txt"
    src.write_bytes(DATA)
    assert cse("cp", src, f"s3://{bucket}/k", "--public-key", protected["pair"].public).returncode == 0
    enc = tmp_path / "msg.enc"
    assert cse("encrypt", src, "-o", enc, "--public-key", protected["pair"].public).returncode == 0
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it\n")
    for kind in ("pbkdf2", "scrypt"):
        out = tmp_path / "out.txt"
        for args in (("decrypt", enc, "-o", out), ("cp", f"s3://{bucket}/k", out)):
            r = cse(*args, "--private-key", protected[kind], env=with_passfile(cse, wrong))
            assert r.returncode == 5, r.describe()
            assert "wrong passphrase" in r.stderr, r.stderr
            assert len(r.stderr.splitlines()) <= 2, r.stderr
            assert not out.exists()
    # Neither a passphrase file nor a terminal: exit 5, naming the variable.
    r = cse("decrypt", enc, "-o", tmp_path / "o", "--private-key", protected["pbkdf2"])
    assert r.returncode == 5, r.describe()
    assert "CSE_PASSPHRASE_FILE" in r.stderr, r.stderr
    # A missing passphrase file is a configuration error too.
    r = cse("decrypt", enc, "-o", tmp_path / "o", "--private-key", protected["pbkdf2"],
            env=with_passfile(cse, tmp_path / "missing"))
    assert r.returncode == 5, r.describe()


def test_terminal_prompt_is_asked_once_for_a_recursive_download(cse, bucket, protected, tmp_path):
    pub = protected["pair"].public
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(3):
        (tree / f"f{i}.txt").write_bytes(DATA + bytes([i]))
    assert cse("cp", "-r", tree, f"s3://{bucket}/run/", "--public-key", pub).returncode == 0
    dest = tmp_path / "back"
    status, shown, prompts = on_terminal(
        cse, ["cp", "-r", f"s3://{bucket}/run/", dest, "--private-key", protected["scrypt"], "--no-progress"],
        [PASSPHRASE])
    assert status == 0, shown
    assert prompts == 1, shown
    assert PASSPHRASE not in shown  # no echo
    for i in range(3):
        assert (dest / f"f{i}.txt").read_bytes() == DATA + bytes([i])
    # A wrong answer on the terminal: exit 5.
    status, shown, prompts = on_terminal(
        cse, ["cp", f"s3://{bucket}/run/f0.txt", tmp_path / "x", "--private-key", protected["pbkdf2"]],
        ["wrong"])
    assert status == 5 and "wrong passphrase" in shown, shown


def test_keygen_writes_an_encrypted_key_openssl_reads(cse, tmp_path):
    passfile = tmp_path / "pass.txt"
    passfile.write_text("keygen passphrase\n")
    env = with_passfile(cse, passfile)
    r = cse("keygen", env=env)
    assert r.returncode == 0, r.describe()
    private = tmp_path / "private_key.pem"
    assert private.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert private.stat().st_mode & 0o777 == 0o600
    p = subprocess.run(["openssl", "pkey", "-in", private, "-passin", f"file:{passfile}", "-noout", "-text_pub"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "4096 bit" in p.stdout, p.stderr
    p = subprocess.run(["openssl", "pkey", "-in", private, "-passin", "pass:other", "-noout"], capture_output=True)
    assert p.returncode != 0
    # cse reads it back with the same file.
    src = tmp_path / "p.txt"
    src.write_bytes(DATA)
    assert cse("encrypt", src, "-o", tmp_path / "p.enc").returncode == 0
    r = cse("decrypt", tmp_path / "p.enc", "-o", tmp_path / "p.out", env=env)
    assert r.returncode == 0, r.describe()
    assert (tmp_path / "p.out").read_bytes() == DATA

    # --no-passphrase: today's unencrypted PKCS #8 (what the users' Python script reads).
    plain = tmp_path / "plain"
    plain.mkdir()
    r = cse("keygen", "--no-passphrase", cwd=plain)
    assert r.returncode == 0, r.describe()
    assert (plain / "private_key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")

    # On a terminal: asked twice; two different answers write nothing.
    tty = tmp_path / "tty"
    tty.mkdir()
    cse_tty = type(cse)(cse.binary, cse.env, tty)
    status, shown, prompts = on_terminal(cse_tty, ["keygen"], ["one", "two"])
    assert status == 5 and prompts == 2 and "differ" in shown, shown
    assert not (tty / "private_key.pem").exists()
    status, shown, prompts = on_terminal(cse_tty, ["keygen"], ["same one", "same one"])
    assert status == 0, shown
    p = subprocess.run(["openssl", "pkey", "-in", tty / "private_key.pem", "-passin", "pass:same one", "-noout"],
                       capture_output=True)
    assert p.returncode == 0


def test_the_readme_way_to_a_plain_copy_for_the_users_script(cse, protected, tmp_path):
    """`openssl pkcs8 -in private_key.pem -out plain.pem` gives the unencrypted key the users'
    Python script reads (here checked with cse, which reads it without a passphrase)."""
    plain = tmp_path / "plain.pem"
    p = subprocess.run(["openssl", "pkcs8", "-in", protected["scrypt"], "-out", plain,
                        "-passin", f"file:{protected['passfile']}"], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert plain.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    src = tmp_path / "p.txt"
    src.write_bytes(DATA)
    assert cse("encrypt", src, "-o", tmp_path / "p.enc", "--public-key", protected["pair"].public).returncode == 0
    r = cse("decrypt", tmp_path / "p.enc", "-o", tmp_path / "p.out", "--private-key", plain)
    assert r.returncode == 0, r.describe()
