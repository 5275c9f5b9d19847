#!/usr/bin/env python3
"""The whole `cse` process against its anchors, side by side in one run (bench/cli.sh):

- 256 MiB of random data, suite 0x0578 (the default), RSA-4096 OAEP-SHA256 keys made with
  openssl: `cse encrypt` and `cse decrypt` (file to /dev/null... to a file, as users run it)
  against `openssl dgst -sha384` over the same bytes (the SHA-384 of the whole message bounds
  the suite), best of 3 wall times, peak RSS from GNU time; and the official Python SDK's
  streaming encrypt (bench/python_esdk.py --stream) on the same file, once.
- 1 KiB end to end: `cse decrypt` of a 1 KiB message, median and p90 of 20 runs.

    .venv/bin/python bench/cli.py [--size-mib 256] [--cse target/release/cse]

Prints a Markdown table with the ratios; MB = 10^6 bytes of plaintext.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def timed(cmd, runs=3, **kw):
    """Best wall time of `runs` runs and the peak RSS (MiB) of the best one."""
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, **kw)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed:\n{p.stderr}")
        rss = int(p.stderr.strip().splitlines()[-1]) / 1024
        if best is None or dt < best[0]:
            best = (dt, rss)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--cse", default=str(REPO / "target" / "release" / "cse"))
    args = ap.parse_args()
    cse = args.cse
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(prefix="cse-bench-cli-") as d:
        d = Path(d)
        priv, pub = d / "private_key.pem", d / "public_key.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", priv, "-pkeyopt",
                        "rsa_keygen_bits:4096"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-pubout", "-in", priv, "-out", pub], check=True, capture_output=True)
        plain, enc, out = d / "plain.bin", d / "plain.enc", d / "plain.out"
        with open(plain, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        keys = ["--public-key", pub]
        rows = []
        t_dgst, rss_dgst = timed(["openssl", "dgst", "-sha384", plain])
        t_enc, rss_enc = timed([cse, "-q", "encrypt", plain, "-o", enc, *keys])
        t_dgst_enc, _ = timed(["openssl", "dgst", "-sha384", enc])
        t_dec, rss_dec = timed([cse, "-q", "decrypt", enc, "-o", out, "--private-key", priv])
        if subprocess.run(["cmp", "-s", plain, out]).returncode != 0:
            sys.exit("decrypted output differs from the plaintext")
        py = subprocess.run([sys.executable, HERE / "python_esdk.py", "--op", "encrypt", "--suite", "0578",
                             "--public-key", pub, "--private-key", priv, "--input", plain,
                             "--output", d / "py.enc", "--stream"], capture_output=True, text=True)
        if py.returncode != 0:
            sys.exit(f"python_esdk.py --stream failed:\n{py.stderr}")
        import json
        t_py = json.loads(py.stdout.strip().splitlines()[-1])["seconds"]
        mbs = lambda t: size / t / 1e6
        rows.append(("cse encrypt", mbs(t_enc), f"{t_dgst / t_enc:.2f}", f"{t_py / t_enc:.1f}", f"{rss_enc:.0f}"))
        rows.append(("cse decrypt", mbs(t_dec), f"{t_dgst_enc / t_dec:.2f}", "", f"{rss_dec:.0f}"))
        rows.append(("openssl dgst -sha384 (plaintext)", mbs(t_dgst), "1", "", f"{rss_dgst:.0f}"))
        rows.append(("official Python SDK, streaming encrypt", mbs(t_py), "", "1", ""))

        # 1 KiB end to end.
        small, small_enc = d / "small.bin", d / "small.enc"
        small.write_bytes(os.urandom(1024))
        subprocess.run([cse, "-q", "encrypt", small, "-o", small_enc, *keys], check=True)
        times = []
        for i in range(20):
            t0 = time.perf_counter()
            subprocess.run([cse, "-q", "decrypt", small_enc, "-o", d / f"s{i}.out", "--private-key", priv], check=True)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()

    print(f"{args.size_mib} MiB, suite 0x0578, RSA-4096 OAEP-SHA256, best of 3 (Python: one run), "
          f"{os.cpu_count()} cores, {subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")
    print()
    print("| process | MB/s | vs openssl dgst -sha384 | vs Python streaming | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, rate, v_ossl, v_py, rss in rows:
        print(f"| {name} | {rate:.0f} | {v_ossl} | {v_py} | {rss} |")
    print()
    print(f"1 KiB `cse decrypt` end to end, 20 runs: median {statistics.median(times):.1f} ms, "
          f"p90 {times[17]:.1f} ms")


if __name__ == "__main__":
    main()
