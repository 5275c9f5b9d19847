"""Many objects at once: `cse cp -r` both ways, `cse rm -r`, one budget of requests shared by
objects and parts, the first failure stops new work and the summary says what was not copied,
memory bounded whatever the number of files."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Result
from faultproxy import GET_OBJECT, PUT_OBJECT, Rule
from test_cli import expect, keys_in, peak_rss_kib

KIB = 1024
MIB = 1024 * KIB


def small_tree(root: Path, count: int, size=None) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        rel = f"d{i % 7}/f{i:05d}.bin"
        n = size if size is not None else (i * 997) % (64 * KIB) + (i % 3 == 0) * 64 * KIB
        data = os.urandom(n)
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        files[rel] = data
    return files


def tree_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def lines(r: Result, word: str) -> list[str]:
    return [x for x in r.stdout.decode().splitlines() if x.startswith(word)]


def test_300_small_files_both_ways_and_rm(cse, s3, bucket, keypair, tmp_path):
    src = tmp_path / "src"
    files = small_tree(src, 300)
    (src / "empty.txt").write_bytes(b"")
    files["empty.txt"] = b""
    r = cse("cp", "-r", src, f"s3://{bucket}/many/", "--public-key", keypair.public)
    expect(r, 0)
    assert len(lines(r, "upload: ")) == 301, r.describe()
    assert keys_in(s3, bucket) == sorted(f"many/{k}" for k in files)

    dst = tmp_path / "dst"
    r = cse("cp", "-r", f"s3://{bucket}/many/", str(dst) + "/", "--private-key", keypair.private)
    expect(r, 0)
    assert len(lines(r, "download: ")) == 301, r.describe()
    assert tree_of(dst) == files

    r = cse("rm", "-r", f"s3://{bucket}/many/")
    expect(r, 0)
    assert len(lines(r, "delete: ")) == 301
    assert keys_in(s3, bucket) == []


def test_a_failed_download_stops_new_work_and_the_summary_names_the_rest(cse, s3, bucket, keypair, tmp_path):
    src = tmp_path / "src"
    files = small_tree(src, 60, size=2 * KIB)
    expect(cse("cp", "-r", src, f"s3://{bucket}/p/", "--public-key", keypair.public), 0)
    # An object in the middle of the listing is replaced by garbage.
    bad = sorted(files)[20]
    s3.put_object(Bucket=bucket, Key=f"p/{bad}", Body=os.urandom(3000))

    dst = tmp_path / "dst"
    r = cse("cp", "-r", f"s3://{bucket}/p/", str(dst) + "/", "--private-key", keypair.private,
            "--concurrency", "2")
    expect(r, 4)
    summary = r.stderr.splitlines()[0]
    assert " copied, 1 failed, " in summary and " not copied: " in summary, r.describe()
    assert bad in r.stderr, r.describe()
    got = tree_of(dst)
    copied = int(summary.split("cse: ")[1].split(" copied")[0])
    not_copied = int(summary.split(" failed, ")[1].split(" not copied")[0])
    # What the summary says was copied is on disk, whole; nothing else is, not even partial files.
    assert len(got) == copied == len(lines(r, "download: ")), r.describe()
    assert all(files[k] == v for k, v in got.items())
    assert bad not in got
    assert copied + 1 + not_copied == len(files), r.describe()
    assert not_copied >= len(files) - 20 - 4, "new work stopped at the failure"


def test_a_failed_upload_stops_new_work(cse, s3, bucket, keypair, tmp_path, make_proxy):
    src = tmp_path / "src"
    files = small_tree(src, 40, size=KIB)
    bad = sorted(files)[10]
    proxy = make_proxy([Rule(PUT_OBJECT, "500", path_contains=bad.split("/")[-1])])
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    r = cse("cp", "-r", src, f"s3://{bucket}/u/", "--public-key", keypair.public, "--concurrency", "3",
            "--max-attempts", "1", env=env)
    expect(r, 3)
    summary = r.stderr.splitlines()[0]
    assert " copied, 1 failed, " in summary and " not copied: " in summary, r.describe()
    stored = keys_in(s3, bucket)
    assert f"u/{bad}" not in stored
    assert len(stored) == len(lines(r, "upload: ")) == int(summary.split("cse: ")[1].split(" copied")[0])
    assert len(stored) < len(files) - 20, "new work stopped at the failure"


def test_10000_small_files_round_trip_in_bounded_memory(cse, s3, bucket, keypair, tmp_path):
    src = tmp_path / "src"
    files = small_tree(src, 10_000, size=4 * KIB)
    up, up_rss = peak_rss_kib(cse, tmp_path / "up.time", "--quiet", "cp", "-r", src, f"s3://{bucket}/k/",
                              "--public-key", keypair.public, timeout=900)
    expect(up, 0)
    dst = tmp_path / "dst"
    down, down_rss = peak_rss_kib(cse, tmp_path / "down.time", "--quiet", "cp", "-r", f"s3://{bucket}/k/",
                                  str(dst) + "/", "--private-key", keypair.private, timeout=900)
    expect(down, 0)
    got = tree_of(dst)
    assert len(got) == len(files) and got == files
    print(f"peak RSS: upload {up_rss} KiB, download {down_rss} KiB")
    assert up_rss < 64 * 1024 and down_rss < 64 * 1024, (up_rss, down_rss)
    r = cse("rm", "-r", "--quiet", f"s3://{bucket}/k/")
    expect(r, 0)
    assert keys_in(s3, bucket) == []


def test_small_objects_do_not_wait_behind_a_large_one(cse, s3, bucket, keypair, tmp_path, make_proxy):
    """One large object whose ranges are slow and many small ones: the small ones finish while
    the large one is still downloading (they share the budget, first come first served)."""
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "big.bin").write_bytes(os.urandom(24 * MIB))
    small = small_tree(src / "b", 20, size=KIB)
    expect(cse("cp", "-r", src, f"s3://{bucket}/m/", "--public-key", keypair.public), 0)
    proxy = make_proxy([Rule(GET_OBJECT, "delay", delay=0.5, path_contains="big.bin")])
    env = dict(cse.env, AWS_ENDPOINT_URL=proxy.endpoint)
    dst = tmp_path / "dst"
    r = cse("cp", "-r", f"s3://{bucket}/m/", str(dst) + "/", "--private-key", keypair.private,
            "--concurrency", "4", env=env)
    expect(r, 0)
    done = lines(r, "download: ")
    assert len(done) == 21
    assert "big.bin" in done[-1], "\n".join(done)
    assert len(tree_of(dst / "b")) == len(small)
