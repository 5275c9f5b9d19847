"""Resumable uploads: `cse cp FILE s3://…` killed (kill -9, SIGHUP) and run again continues
the multipart upload, sending only the parts the server does not have; the object is one
message the users' download script (official Python SDK) reads. A changed source, an upload
gone from the server, or a state file that is not private or not ours are handled and said.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

import seed_scripts
from faultproxy import ABORT_MULTIPART, COMPLETE_MULTIPART, CREATE_MULTIPART, UPLOAD_PART, Rule
from test_cli import MIB, expect, object_missing, random_file

PART = 5 * MIB
SIZE = 26 * MIB + 777  # six parts of 5 MiB, the last one short
SETTINGS = ("--part-size", "5MiB", "--multipart-threshold", "5MiB", "--concurrency", "2")


def state_files(state_home):
    return sorted((state_home / "cse").glob("upload-*.json"))


def read_state(state_home):
    files = state_files(state_home)
    if not files:
        return None
    try:
        return json.loads(files[0].read_text())
    except (json.JSONDecodeError, FileNotFoundError):
        return None  # being replaced right now


@pytest.fixture
def state_home(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def run(cse, keypair, state_home):
    """cse cp FILE s3://bucket/key through `endpoint`, with the state under `state_home`."""

    def env(endpoint):
        return dict(cse.env, AWS_ENDPOINT_URL=endpoint, XDG_STATE_HOME=str(state_home))

    def start(endpoint, plain, url, *extra):
        return cse.popen("--no-progress", "cp", plain, url, "--public-key", keypair.public, *SETTINGS, *extra,
                         env=env(endpoint))

    def finish(endpoint, plain, url, *extra):
        return cse("--no-progress", "cp", plain, url, "--public-key", keypair.public, *SETTINGS, *extra,
                   env=env(endpoint), timeout=300)

    return start, finish, env


def wait_for(proc, ready, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"cse ended before {what}: exit {proc.returncode}\n{err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.05)


def reset(proxy):
    """The same proxy (the same endpoint, part of what names the upload state) with no
    faults and an empty log, for the next run."""
    return proxy.reset()


def kill_9_at(point, run, make_proxy, state_home, plain, url):
    """Starts the upload, kills it with SIGKILL at `point`; returns the state it left and the
    proxy, emptied of faults."""
    start, _, _ = run
    if point == "before-first-part":
        rules = [Rule(UPLOAD_PART, "delay", delay=30)]
    elif point == "mid-way":
        rules = [Rule(UPLOAD_PART, "delay", delay=30, after=3)]
    else:  # every part stored, CompleteMultipartUpload not yet answered
        rules = [Rule(COMPLETE_MULTIPART, "delay", delay=30)]
    proxy = make_proxy(rules)
    proc = start(proxy.endpoint, plain, url)
    try:
        if point == "before-first-part":
            wait_for(proc, lambda: (read_state(state_home) or {}).get("upload_id") and proxy.count(UPLOAD_PART) >= 1,
                     "the first UploadPart")
        elif point == "mid-way":
            wait_for(proc, lambda: len((read_state(state_home) or {}).get("parts", {})) >= 3, "three stored parts")
        else:
            wait_for(proc, lambda: proxy.count(COMPLETE_MULTIPART) >= 1, "CompleteMultipartUpload")
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = read_state(state_home)
    assert state and state["upload_id"], "no upload state left behind"
    return state, reset(proxy)


def parts_of(result) -> int:
    m = re.search(r", (\d+) parts\)", result.stdout.decode())
    assert m, result.describe()
    return int(m.group(1))


@pytest.mark.parametrize("point", ["before-first-part", "mid-way", "before-complete"])
def test_kill_9_then_the_same_command_sends_only_the_missing_parts(
    point, run, make_proxy, state_home, s3, s3server, bucket, seed_keyring, tmp_path
):
    plain = random_file(tmp_path / "big.bin", SIZE)
    url = f"s3://{bucket}/big.bin"
    state, counting = kill_9_at(point, run, make_proxy, state_home, plain, url)
    stored = len(state["parts"])
    assert object_missing(s3, bucket, "big.bin")
    # The state is private, and holds no plaintext.
    (path,) = state_files(state_home)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert plain.read_bytes()[:64].hex() not in path.read_text()

    _, finish, _ = run
    r = finish(counting.endpoint, plain, url)
    expect(r, 0)
    assert f"continuing the interrupted upload ({stored} parts stored)" in r.stderr, r.describe()
    total = parts_of(r)
    assert total == 6
    assert counting.count(CREATE_MULTIPART) == 0
    sent = counting.entries(UPLOAD_PART)
    assert len(sent) == total - stored, (point, stored, [e["target"] for e in sent])
    assert sum(e["length"] for e in sent) <= (total - stored) * PART
    numbers = sorted(int(re.search(r"partNumber=(\d+)", e["target"]).group(1)) for e in sent)
    assert numbers == sorted(set(range(1, total + 1)) - {int(n) for n in state["parts"]})
    assert state_files(state_home) == [], "the state must be removed once the upload completed"

    out = tmp_path / "out.bin"
    seed_scripts.download(s3, bucket, "big.bin", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()
    assert s3server.unfinished_uploads(bucket) == []


def test_a_changed_source_starts_over(run, make_proxy, state_home, s3, s3server, bucket, seed_keyring, tmp_path):
    plain = random_file(tmp_path / "big.bin", SIZE)
    url = f"s3://{bucket}/big.bin"
    state, proxy = kill_9_at("mid-way", run, make_proxy, state_home, plain, url)
    with open(plain, "r+b") as f:  # one byte in the middle, then the size too
        f.seek(SIZE // 2)
        f.write(b"\x00" if f.read(1) != b"\x00" else b"\x01")
        f.seek(0, os.SEEK_END)
        f.write(b"more")
    _, finish, _ = run
    r = finish(proxy.endpoint, plain, url)
    expect(r, 0)
    assert "the source changed since the interrupted upload; starting over" in r.stderr, r.describe()
    assert proxy.count(CREATE_MULTIPART) == 1 and proxy.count(UPLOAD_PART) == parts_of(r)
    assert proxy.count(ABORT_MULTIPART) == 1, "the stale upload must be aborted"
    assert state["upload_id"] not in {u["upload_id"] for u in s3server.unfinished_uploads(bucket)}
    out = tmp_path / "out.bin"
    seed_scripts.download(s3, bucket, "big.bin", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()
    assert s3server.unfinished_uploads(bucket) == [] and state_files(state_home) == []


def test_an_upload_gone_from_the_server_starts_over(run, make_proxy, state_home, s3, s3server, bucket, seed_keyring,
                                                   tmp_path):
    plain = random_file(tmp_path / "big.bin", SIZE)
    url = f"s3://{bucket}/big.bin"
    state, proxy = kill_9_at("mid-way", run, make_proxy, state_home, plain, url)
    s3.abort_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=state["upload_id"])
    _, finish, _ = run
    r = finish(proxy.endpoint, plain, url)
    expect(r, 0)
    assert "no longer on the server; starting over" in r.stderr, r.describe()
    assert proxy.count(CREATE_MULTIPART) == 1 and proxy.count(UPLOAD_PART) == parts_of(r)
    out = tmp_path / "out.bin"
    seed_scripts.download(s3, bucket, "big.bin", str(out), seed_keyring)
    assert out.read_bytes() == plain.read_bytes()
    assert s3server.unfinished_uploads(bucket) == [] and state_files(state_home) == []


def test_a_state_file_not_private_or_not_ours_is_refused(run, make_proxy, state_home, s3server, bucket, tmp_path):
    plain = random_file(tmp_path / "big.bin", SIZE)
    url = f"s3://{bucket}/big.bin"
    _, proxy = kill_9_at("before-first-part", run, make_proxy, state_home, plain, url)
    (path,) = state_files(state_home)
    _, finish, _ = run

    path.chmod(0o644)
    r = finish(proxy.endpoint, plain, url)
    expect(r, 5)
    assert "mode 0600" in r.stderr and "--no-resume" in r.stderr, r.describe()
    assert proxy.count(UPLOAD_PART) == 0

    path.chmod(0o600)
    path.write_bytes(b'{"version": 1, "\x1b]0;owned\x07": [')
    r = finish(proxy.endpoint, plain, url)
    expect(r, 5)
    assert "not a cse upload state" in r.stderr, r.describe()
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert proxy.count(UPLOAD_PART) == 0

    # --no-resume ignores the state and keeps none of its own.
    r = finish(proxy.endpoint, plain, url, "--no-resume")
    expect(r, 0)
    assert state_files(state_home) == [path]


def test_sighup_keeps_the_upload_which_mpu_ls_shows_and_mpu_abort_removes(
    cse, run, make_proxy, state_home, s3server, bucket, tmp_path
):
    plain = random_file(tmp_path / "big.bin", SIZE)
    url = f"s3://{bucket}/big.bin"
    start, _, env = run
    proxy = make_proxy([Rule(UPLOAD_PART, "delay", delay=30, after=2)])
    proc = start(proxy.endpoint, plain, url)
    wait_for(proc, lambda: len((read_state(state_home) or {}).get("parts", {})) >= 2, "two stored parts")
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 129, err
    assert "kept for later (2 parts stored)" in err and "run the same command again" in err, err
    state = read_state(state_home)
    assert state and len(state["parts"]) == 2
    assert [u["upload_id"] for u in s3server.unfinished_uploads(bucket)] == [state["upload_id"]]

    lister = reset(proxy)  # the same endpoint; it emulates ListMultipartUploads, which s3s-fs lacks
    r = cse("mpu", "ls", f"s3://{bucket}", env=env(lister.endpoint))
    expect(r, 0)
    line = r.stdout.decode().strip()
    assert line.startswith(f"big.bin\t{state['upload_id']}\t"), line
    assert f"resumable from {plain} (2 parts stored" in line, line

    r = cse("mpu", "abort", url, "--upload-id", state["upload_id"], env=env(lister.endpoint))
    expect(r, 0)
    assert state_files(state_home) == []
    assert s3server.unfinished_uploads(bucket) == []
