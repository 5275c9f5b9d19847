"""Helper of bench/s3.sh: runs and times commands, and writes the report.

    python s3_bench.py free-port
    python s3_bench.py transfer --raw RAW --tool T --op upload|download --bytes N
                                [--repeat R] [--rm PATH] [--check OUT --against IN] -- CMD...
    python s3_bench.py latency  --raw RAW --tool T --op encrypt|decrypt
                                [--runs N] [--warmup W] [--rm PATH] -- CMD...
    python s3_bench.py report   --transfers RAW --latency RAW --size-mib N --repeat R
                                --lat-runs N --cse BIN --parts-in-flight N --part-mib N

`transfer` runs CMD R times under `/usr/bin/time -f %M` (peak RSS of the process, KiB),
takes the wall time of each run around the whole process, checks after each run that
OUT is byte for byte IN (cmp) when --check is given, and appends one tab-separated row
to RAW: tool, op, bytes, best seconds, the largest peak RSS over the runs (KiB), runs.

`latency` runs CMD W times unmeasured, then N times, and appends one row per run to RAW
(tool, op, milliseconds): process start to exit as seen from here, without
/usr/bin/time in between.

Progress goes to stderr; the report (Markdown) to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench-s3] {msg}", file=sys.stderr, flush=True)


def remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def run_checked(cmd: list[str], what: str) -> None:
    """Run CMD with stdin closed; on failure show its output and exit."""
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        sys.exit(f"[bench-s3] error: {what} exited {proc.returncode}")


def cmd_free_port(_args) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


def cmd_transfer(args) -> int:
    cmd = args.cmd
    what = f"{args.tool} {args.op}"
    rss_file = args.raw + ".rss"
    best, peak = math.inf, 0
    for i in range(1, args.repeat + 1):
        remove(args.rm)
        os.sync()  # the previous run's writes go to disk outside the timed part
        start = time.perf_counter()
        run_checked(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd], what)
        secs = time.perf_counter() - start
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
        if args.check:
            if not os.path.exists(args.check):
                sys.exit(f"[bench-s3] error: {what} wrote no {args.check}")
            run_checked(["cmp", args.check, args.against], f"{what}: cmp of the round trip")
        best, peak = min(best, secs), max(peak, rss)
        log(
            f"{what} run {i}/{args.repeat}: {secs:.2f} s, {args.bytes / secs / 1e6:.1f} MB/s, "
            f"peak RSS {rss / 1024:.0f} MiB" + (", round trip identical" if args.check else "")
        )
    with open(args.raw, "a") as f:
        f.write(f"{args.tool}\t{args.op}\t{args.bytes}\t{best:.6f}\t{peak}\t{args.repeat}\n")
    return 0


def cmd_latency(args) -> int:
    what = f"{args.tool} {args.op}"
    for _ in range(args.warmup):
        remove(args.rm)
        run_checked(args.cmd, what + " (warm-up)")
    samples = []
    for _ in range(args.runs):
        remove(args.rm)
        start = time.perf_counter()
        proc = subprocess.run(args.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ms = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace")[-4000:])
            sys.exit(f"[bench-s3] error: {what} exited {proc.returncode}")
        samples.append(ms)
    with open(args.raw, "a") as f:
        for ms in samples:
            f.write(f"{args.tool}\t{args.op}\t{ms:.3f}\n")
    log(f"{what}: {args.runs} runs, median {statistics.median(samples):.1f} ms, p90 {p90(samples):.1f} ms")
    return 0


def p90(samples: list[float]) -> float:
    """Nearest-rank 90th percentile (the 18th of 20)."""
    s = sorted(samples)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


TOOLS = {
    "cse": "`cse cp` (encrypted)",
    "seed": "seed script (encrypted)",
    "aws": "`aws s3 cp` (plaintext)",
}


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def cmd_report(args) -> int:
    transfers = {}
    for line in open(args.transfers):
        tool, op, nbytes, secs, rss, _runs = line.rstrip("\n").split("\t")
        transfers[(tool, op)] = (int(nbytes) / float(secs) / 1e6, float(secs), int(rss) / 1024)
    latency: dict = {}
    for line in open(args.latency):
        tool, op, ms = line.rstrip("\n").split("\t")
        latency.setdefault((tool, op), []).append(float(ms))

    rss_limit = 32 + args.parts_in_flight * args.part_mib
    size = args.size_mib
    size_s = f"{size // 1024} GiB" if size % 1024 == 0 else f"{size} MiB"
    cpu = next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine()
    )
    out = []
    out.append("# cse vs the users' script vs `aws s3 cp`: S3 transfers against a local s3s-fs")
    out.append("")
    out.append("- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
    out.append("- CPU: %s (%s cores), %s" % (cpu, sh("nproc"), sh("openssl", "version")))
    out.append(
        "- cse %s (commit %s); seed script: tests/s3/seed_scripts.py (official Python ESDK %s, whole file in memory, "
        "one boto3 put_object / get_object); %s"
        % (
            sh(args.cse, "--version").removeprefix("cse ") or "?",
            sh("git", "rev-parse", "--short", "HEAD") or "?",
            args.esdk_version,
            args.aws_version,
        )
    )
    out.append("- server: %s on 127.0.0.1 (files on local disk); load average at start: %s" % (args.server, args.load))
    out.append(
        f"- file: {size_s} of random bytes; MB = 10^6 bytes of plaintext; time = process start to exit "
        f"(best of {args.repeat}); peak RSS = maximum resident set size of the process (`/usr/bin/time -f %M`), "
        f"the largest over the runs; every download was compared with the original (cmp)"
    )
    out.append(
        f"- cse and aws: parts of {args.part_mib} MiB, {args.parts_in_flight} in flight; cse uses suite 0x0578 "
        "(the default, as the seed script); aws sends no flexible checksums (`when_required`)"
    )
    out.append("")
    out.append(
        "| tool | direction | size | MB/s | seconds | vs aws s3 cp | vs seed script | peak RSS MiB | targets |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for tool in ("cse", "seed", "aws"):
        for op in ("upload", "download"):
            r = transfers.get((tool, op))
            if r is None:
                continue
            a, s = transfers.get(("aws", op)), transfers.get(("seed", op))
            vs_aws = r[0] / a[0] if a else None
            vs_seed = r[0] / s[0] if s else None
            targets = ""
            if tool == "cse":
                t = []
                if vs_aws is not None:
                    t.append(f"≥ 1× aws {mark(vs_aws >= 1)}")
                if vs_seed is not None:
                    t.append(f"≥ 5× seed {mark(vs_seed >= 5)}")
                t.append(f"RSS ≤ {rss_limit} MiB {mark(r[2] <= rss_limit)}")
                targets = ", ".join(t)
            fmt = lambda v: f"{v:.2f}×" if v is not None else "n/a"
            out.append(
                f"| {TOOLS[tool]} | {op} | {size_s} | {r[0]:.1f} | {r[1]:.2f} | {fmt(vs_aws)} | {fmt(vs_seed)} "
                f"| {r[2]:.0f} | {targets} |"
            )
    out.append("")
    out.append(
        f"End to end on a 1 KiB file, process start to exit, {args.lat_runs} runs after one warm-up "
        "(median and nearest-rank p90; decrypt includes the RSA-4096 private-key operation; "
        "the seed is tests/python/seed_roundtrip.py, interpreter start and imports included):"
    )
    out.append("")
    out.append("| op | cse median ms | cse p90 ms | seed median ms | seed p90 ms | seed / cse (median) | target |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    for op, cmd in (("encrypt", "cse encrypt"), ("decrypt", "cse decrypt")):
        c, s = latency.get(("cse", op)), latency.get(("seed", op))
        if not c:
            continue
        cm, cp = statistics.median(c), p90(c)
        sm, sp = (statistics.median(s), p90(s)) if s else (None, None)
        f = lambda v, fmt: fmt % v if v is not None else "n/a"
        out.append(
            f"| `{cmd}` | {cm:.1f} | {cp:.1f} | {f(sm, '%.0f')} | {f(sp, '%.0f')} | "
            f"{f(sm and sm / cm, '%.0f×')} | ≤ 30 ms {mark(cm <= 30)} (median), {mark(cp <= 30)} (p90) |"
        )
    print("\n".join(out))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("free-port")
    t = sub.add_parser("transfer")
    t.add_argument("--raw", required=True)
    t.add_argument("--tool", required=True)
    t.add_argument("--op", required=True)
    t.add_argument("--bytes", type=int, required=True)
    t.add_argument("--repeat", type=int, default=1)
    t.add_argument("--rm")
    t.add_argument("--check")
    t.add_argument("--against")
    t.add_argument("cmd", nargs="+")
    l = sub.add_parser("latency")
    l.add_argument("--raw", required=True)
    l.add_argument("--tool", required=True)
    l.add_argument("--op", required=True)
    l.add_argument("--runs", type=int, default=20)
    l.add_argument("--warmup", type=int, default=1)
    l.add_argument("--rm")
    l.add_argument("cmd", nargs="+")
    r = sub.add_parser("report")
    r.add_argument("--transfers", required=True)
    r.add_argument("--latency", required=True)
    r.add_argument("--size-mib", type=int, required=True)
    r.add_argument("--repeat", type=int, required=True)
    r.add_argument("--lat-runs", type=int, required=True)
    r.add_argument("--cse", required=True)
    r.add_argument("--parts-in-flight", type=int, default=10)
    r.add_argument("--part-mib", type=int, default=8)
    r.add_argument("--server", default="s3s-fs")
    r.add_argument("--load", default="?")
    r.add_argument("--esdk-version", default="?")
    r.add_argument("--aws-version", default="?")
    args = ap.parse_args(argv)
    if getattr(args, "cmd", None) and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if args.what == "transfer" and bool(args.check) != bool(args.against):
        ap.error("--check and --against go together")
    return {"free-port": cmd_free_port, "transfer": cmd_transfer, "latency": cmd_latency, "report": cmd_report}[
        args.what
    ](args)


if __name__ == "__main__":
    sys.exit(main())
