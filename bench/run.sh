#!/usr/bin/env bash
# Throughput benchmark: cse (Rust) vs the official AWS Encryption SDK for Python,
# with OpenSSL's single-core SHA-384 / AES-256-GCM speed as the hardware limit.
#
# Run from anywhere (normally the repo root):   bash bench/run.sh
#
# For each size (MiB) in BENCH_SIZES (default "64 1024"), each suite 0x0578 and
# 0x0478 and each operation (encrypt, decrypt):
#   - cse:    target/release/cse-bench --suite S --size-mib N --op OP
#             --public-key PUB.pem --private-key PRIV.pem  (one JSON line)
#   - Python: bench/python_esdk.py with the venv at .venv (raw RSA-4096
#             OAEP-SHA256 keyring MyAppKeys/S3RSAKey, whole input in memory,
#             frame length 4096), on a random input file of N MiB.
# Each run is a separate process; its peak RSS is taken with /usr/bin/time -f %M.
# The result table goes to stdout and to bench/results.md; progress goes to stderr.
#
# Environment:
#   BENCH_SIZES   sizes in MiB (default "64 1024"; the 1 GiB Python runs need ~3 GiB RAM)
#   CSE_BENCH     path of an already built cse-bench binary (then no cargo build)
#   PYTHON        Python of the venv with aws-encryption-sdk[MPL] (default .venv/bin/python)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BENCH_SIZES=${BENCH_SIZES:-"64 1024"}
SUITES="0578 0478"
OPS="encrypt decrypt"
PY=${PYTHON:-$REPO/.venv/bin/python}
RESULTS_MD=$REPO/bench/results.md

log() { echo "[bench] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

for s in $BENCH_SIZES; do
    [[ $s =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZES: '$s' is not a positive integer (MiB)"
done
[ -x "$PY" ] || die "no Python venv at $PY (python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt)"
command -v openssl >/dev/null || die "openssl not found"

# GNU time, for the peak RSS (%M = maximum resident set size in KiB).
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y time >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y time >&2; }
fi

# The cse benchmark binary.
if [ -n "${CSE_BENCH:-}" ]; then
    log "using CSE_BENCH=$CSE_BENCH (no build)"
else
    log "building cse-bench (release)"
    cargo build --release -p cse-interop --bin cse-bench >&2
    CSE_BENCH=${CARGO_TARGET_DIR:-$REPO/target}/release/cse-bench
fi
[ -x "$CSE_BENCH" ] || die "cse-bench not found at $CSE_BENCH"

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cse-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RAW=$WORK/results.tsv   # impl  op  suite  size_mib  mb_per_s  seconds  rss_kib
: >"$RAW"

log "generating RSA-4096 key pair"
openssl genpkey -algorithm RSA -out "$WORK/private_key.pem" -pkeyopt rsa_keygen_bits:4096 2>/dev/null
openssl rsa -pubout -in "$WORK/private_key.pem" -out "$WORK/public_key.pem" 2>/dev/null

# openssl speed (single process = single core); its numbers are in 1000s of
# bytes per second, so MB/s (10^6 bytes) = value / 1000.
openssl_mbps() {
    openssl speed -evp "$1" -bytes 16384 -seconds 3 2>/dev/null |
        awk 'hdr { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v / 1000; exit } /^type[ \t]/ { hdr = 1 }'
}
log "openssl speed -evp sha384"
SHA384_MBPS=$(openssl_mbps sha384)
log "openssl speed -evp aes-256-gcm"
AESGCM_MBPS=$(openssl_mbps aes-256-gcm)
[[ $SHA384_MBPS =~ ^[0-9.]+$ && $AESGCM_MBPS =~ ^[0-9.]+$ ]] ||
    die "could not parse openssl speed output (sha384='$SHA384_MBPS', aes-256-gcm='$AESGCM_MBPS')"
log "openssl: SHA-384 $SHA384_MBPS MB/s, AES-256-GCM $AESGCM_MBPS MB/s"

# run IMPL OP SUITE SIZE CMD...: runs CMD under /usr/bin/time, takes the last JSON
# line of its stdout and appends one row to $RAW.
run() {
    local impl=$1 op=$2 suite=$3 size=$4
    shift 4
    local out=$WORK/out.json rss=$WORK/rss.txt
    log "$impl $op $suite ${size} MiB"
    /usr/bin/time -o "$rss" -f %M "$@" >"$out" ||
        die "$impl $op $suite ${size} MiB failed: $(cat "$rss" 2>/dev/null)"
    local row
    row=$("$PY" - "$out" "$op" "$suite" "$((size * 1048576))" <<'EOF'
import json, sys
path, op, suite, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = [l for l in open(path) if l.strip().startswith("{")]
if not lines:
    sys.exit("no JSON line in the output")
d = json.loads(lines[-1])
s = d.get("suite")
s = "%04x" % s if isinstance(s, int) else str(s).lower().removeprefix("0x").zfill(4)
if d.get("op") != op or s != suite:
    sys.exit("JSON is for op=%r suite=%r, expected %s %s" % (d.get("op"), d.get("suite"), op, suite))
if int(d["bytes"]) != size:
    print("[bench] warning: bytes=%s, expected %d" % (d["bytes"], size), file=sys.stderr)
print("%s\t%s" % (float(d["mb_per_s"]), float(d["seconds"])))
EOF
) || die "$impl $op $suite ${size} MiB: bad output: $(cat "$out")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$op" "$suite" "$size" "$row" "$(tail -n 1 "$rss")" >>"$RAW"
}

for size in $BENCH_SIZES; do
    input=$WORK/input-$size.bin
    log "creating ${size} MiB of random input"
    head -c $((size * 1048576)) /dev/urandom >"$input"
    for suite in $SUITES; do
        for op in $OPS; do
            run cse "$op" "$suite" "$size" "$CSE_BENCH" --suite "$suite" --size-mib "$size" --op "$op" \
                --public-key "$WORK/public_key.pem" --private-key "$WORK/private_key.pem"
        done
        ct=$WORK/python-$suite-$size.esdk
        run python encrypt "$suite" "$size" "$PY" "$REPO/bench/python_esdk.py" --op encrypt --suite "$suite" \
            --public-key "$WORK/public_key.pem" --private-key "$WORK/private_key.pem" \
            --input "$input" --output "$ct"
        run python decrypt "$suite" "$size" "$PY" "$REPO/bench/python_esdk.py" --op decrypt --suite "$suite" \
            --public-key "$WORK/public_key.pem" --private-key "$WORK/private_key.pem" \
            --input "$ct" --expect "$input"
        rm -f "$ct"
    done
    rm -f "$input"
done

# Report.
"$PY" - "$RAW" "$SHA384_MBPS" "$AESGCM_MBPS" "$BENCH_SIZES" "$SUITES" "$OPS" "$LOAD_AT_START" >"$WORK/results.md" <<'EOF'
import datetime, platform, subprocess, sys
raw, sha384, aesgcm = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
sizes, suites, ops = sys.argv[4].split(), sys.argv[5].split(), sys.argv[6].split()
res = {}
for line in open(raw):
    impl, op, suite, size, mbps, secs, rss = line.rstrip("\n").split("\t")
    res[(impl, op, suite, size)] = (float(mbps), float(secs), int(rss) / 1024)

def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
import aws_encryption_sdk
limit = {"0578": ("SHA-384", sha384), "0478": ("AES-256-GCM", aesgcm)}
out = []
out.append("# cse vs AWS Encryption SDK for Python: throughput")
out.append("")
out.append("- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
out.append("- CPU: %s (%s cores), %s" % (cpu, sh("nproc"), sh("openssl", "version")))
out.append("- cse commit: %s; Python: aws-encryption-sdk %s (MPL raw RSA-4096 OAEP-SHA256 keyring, "
           "whole message in memory, frame length 4096)" % (sh("git", "rev-parse", "--short", "HEAD") or "?",
                                                            aws_encryption_sdk.__version__))
out.append("- load average at start: %s (the machine should be otherwise idle)" % sys.argv[7])
out.append("- Python decrypt reads the message its own encrypt wrote; checked against the input")
out.append("- MB = 10^6 bytes (of plaintext); time is the encrypt/decrypt call alone; "
           "peak RSS = maximum resident set size of the whole process (/usr/bin/time %M)")
out.append("")
out.append("| op | suite | size | cse MB/s | Python MB/s | cse / Python | cse peak RSS MiB | Python peak RSS MiB | cse / openssl |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for op in ops:
    for suite in suites:
        for size in sizes:
            c = res.get(("cse", op, suite, size))
            p = res.get(("python", op, suite, size))
            size_s = "%d GiB" % (int(size) // 1024) if int(size) % 1024 == 0 else "%s MiB" % size
            f = lambda v, fmt: fmt % v if v is not None else "n/a"
            out.append("| %s | 0x%s | %s | %s | %s | %s | %s | %s | %s |" % (
                op, suite, size_s,
                f(c and c[0], "%.1f"), f(p and p[0], "%.1f"),
                f(c and p and c[0] / p[0], "%.1f×"),
                f(c and c[2], "%.0f"), f(p and p[2], "%.0f"),
                f(c and c[0] / limit[suite][1], "%.2f") + " (" + limit[suite][0] + ")"))
out.append("")
out.append("Hardware limit, `openssl speed -evp ... -bytes 16384 -seconds 3` (one core):")
out.append("")
out.append("- openssl SHA-384: %.1f MB/s" % sha384)
out.append("- openssl AES-256-GCM: %.1f MB/s" % aesgcm)
for suite, name in (("0578", "SHA-384"), ("0478", "AES-256-GCM")):
    parts = []
    for op in ops:
        for size in sizes:
            c = res.get(("cse", op, suite, size))
            if c:
                parts.append("%s %s MiB %.2f" % (op, size, c[0] / limit[suite][1]))
    out.append("- cse(0x%s) / openssl %s: %s" % (suite, name, "; ".join(parts) or "n/a"))
print("\n".join(out))
EOF
cp "$WORK/results.md" "$RESULTS_MD"
cat "$RESULTS_MD"
log "written to $RESULTS_MD"
