#!/usr/bin/env bash
# S3 benchmark: cse against the users' current script and `aws s3 cp`, all in one run
# against a local s3s-fs that this script starts (and stops) itself.
#
# Run from anywhere (normally the repo root):   bash bench/s3.sh
#
#  1. One random file of BENCH_S3_MIB MiB, uploaded and downloaded by
#       - cse:  cse cp FILE s3://bench/k --public-key pub.pem, cse cp s3://bench/k OUT
#               --private-key priv.pem (defaults: parts of 8 MiB, 10 in flight, suite 0x0578);
#       - seed: tests/s3/seed_scripts.py upload/download (official Python ESDK, whole file in
#               memory, one boto3 put_object / get_object), as the users do today;
#       - aws:  .venv/bin/aws s3 cp of the unencrypted file (AWS CLI defaults: 8 MiB parts,
#               10 concurrent requests; no flexible checksums), the plaintext baseline.
#     Each download is compared with the original (cmp). Wall time from process start to
#     exit, peak RSS from /usr/bin/time -f %M; best of BENCH_REPEAT runs.
#  2. End to end on a 1 KiB file: cse encrypt / cse decrypt, BENCH_LAT_RUNS runs each
#     (median, p90), and tests/python/seed_roundtrip.py encrypt/decrypt on the same file.
#  3. A Markdown table on stdout and in bench/s3-results.md; progress on stderr.
#
# Environment:
#   BENCH_S3_MIB    size of the file in MiB (default 1024; the seed script then needs ~3-4 GiB RAM)
#   BENCH_REPEAT    runs of each transfer, the best is kept (default 1)
#   BENCH_LAT_RUNS  runs of each 1 KiB encrypt/decrypt (default 20)
#   CSE_BIN         the cse binary (default target/release/cse; this script does not build it)
#   S3S_FS          the s3s-fs binary (default: s3s-fs on PATH, then ~/.cargo/bin/s3s-fs)
#   PYTHON          Python of the venv with the official SDK, boto3 and awscli (default .venv/bin/python)
#   TMPDIR          where the work folder goes (needs ~4 x BENCH_S3_MIB of disk)
#   BENCH_KEEP=1    keep the work folder (server log, keys) instead of removing it
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BENCH_S3_MIB=${BENCH_S3_MIB:-1024}
BENCH_REPEAT=${BENCH_REPEAT:-1}
BENCH_LAT_RUNS=${BENCH_LAT_RUNS:-20}
PY=${PYTHON:-$REPO/.venv/bin/python}
AWS=$(dirname "$PY")/aws
CSE=${CSE_BIN:-$REPO/target/release/cse}
[[ $CSE = /* ]] || CSE=$REPO/$CSE
RESULTS_MD=$REPO/bench/s3-results.md
HELPER=$REPO/bench/s3_bench.py
PART_MIB=8
IN_FLIGHT=10

log() { echo "[bench-s3] $*" >&2; }
die() { echo "[bench-s3] error: $*" >&2; exit 1; }

for v in BENCH_S3_MIB BENCH_REPEAT BENCH_LAT_RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v: '${!v}' is not a positive integer"
done
[ -x "$PY" ] || die "no Python venv at $PY (python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt)"
[ -x "$AWS" ] || die "no AWS CLI at $AWS (.venv/bin/pip install -r tests/python/requirements.txt)"
"$PY" -c 'import aws_encryption_sdk, boto3' 2>/dev/null ||
    die "$PY lacks the official SDK or boto3 (.venv/bin/pip install -r tests/python/requirements.txt)"
[ -x "$CSE" ] || die "no cse binary at $CSE (cargo build --release, or set CSE_BIN)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (peak memory is measured with it): apt-get install -y time"
command -v openssl >/dev/null || die "openssl not found"
S3S_FS=${S3S_FS:-$(command -v s3s-fs || true)}
[ -n "$S3S_FS" ] || { [ -x "$HOME/.cargo/bin/s3s-fs" ] && S3S_FS=$HOME/.cargo/bin/s3s-fs; } ||
    die "s3s-fs not found: cargo install s3s-fs --version 0.14.1 --features binary (or set S3S_FS)"

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cse-bench-s3.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing of the caller's AWS/cse settings, proxies or ~/.aws files: only the server's.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(AWS_|CSE_)' || true)
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
mkdir -p "$WORK/home" "$WORK/data"
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config

# The server.
ACCESS_KEY=AKBENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
for attempt in 1 2 3 4 5; do
    PORT=$("$PY" "$HELPER" free-port)
    "$S3S_FS" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS_KEY" --secret-key="$SECRET_KEY" \
        "$WORK/data" >>"$WORK/s3s-fs.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break 2; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
done
[ -n "$SERVER_PID" ] || die "s3s-fs did not start: $(tail -n 5 "$WORK/s3s-fs.log")"
ENDPOINT=http://127.0.0.1:$PORT
log "s3s-fs $("$S3S_FS" --version | awk '{print $2}') on $ENDPOINT (data in $WORK/data)"
export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_ENDPOINT_URL=$ENDPOINT \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

# The AWS CLI's settings, given to it alone; the multipart values are its defaults.
cat >"$WORK/aws-config" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
    multipart_threshold = ${PART_MIB}MB
    multipart_chunksize = ${PART_MIB}MB
    max_concurrent_requests = ${IN_FLIGHT}
EOF
AWS_CMD=(env AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
    "$AWS" --endpoint-url "$ENDPOINT")

log "generating an RSA-4096 key pair (openssl, as the users do)"
openssl genpkey -algorithm RSA -out "$WORK/private_key.pem" -pkeyopt rsa_keygen_bits:4096 2>/dev/null
openssl rsa -pubout -in "$WORK/private_key.pem" -out "$WORK/public_key.pem" 2>/dev/null
PUB=$WORK/public_key.pem
PRIV=$WORK/private_key.pem

"$CSE" mb s3://bench -q >&2 || die "cse mb s3://bench failed"

SIZE=$((BENCH_S3_MIB * 1048576))
IN=$WORK/input.bin
OUT=$WORK/output.bin
log "creating ${BENCH_S3_MIB} MiB of random input"
head -c "$SIZE" /dev/urandom >"$IN"

TRANSFERS=$WORK/transfers.tsv
LATENCY=$WORK/latency.tsv
: >"$TRANSFERS"
: >"$LATENCY"

transfer() { # TOOL OP [--check] -- CMD...
    local tool=$1 op=$2
    shift 2
    local check=()
    if [ "$1" = --check ]; then check=(--check "$OUT" --against "$IN"); shift; fi
    log "$tool $op, ${BENCH_S3_MIB} MiB, $BENCH_REPEAT run(s)"
    "$PY" "$HELPER" transfer --raw "$TRANSFERS" --tool "$tool" --op "$op" --bytes "$SIZE" \
        --repeat "$BENCH_REPEAT" --rm "$OUT" "${check[@]}" "$@"
}
drop_object() { rm -f "$WORK/data/bench/$1" "$OUT"; }

# 1. Transfers. Each tool downloads what it uploaded; each object is removed after its download.
transfer aws upload -- "${AWS_CMD[@]}" s3 cp "$IN" s3://bench/aws-k --only-show-errors --no-progress
transfer aws download --check -- "${AWS_CMD[@]}" s3 cp s3://bench/aws-k "$OUT" --only-show-errors --no-progress
drop_object aws-k

transfer cse upload -- "$CSE" cp "$IN" s3://bench/cse-k --public-key "$PUB" --no-progress -q
transfer cse download --check -- "$CSE" cp s3://bench/cse-k "$OUT" --private-key "$PRIV" --no-progress -q
drop_object cse-k

SEED=("$PY" "$REPO/tests/s3/seed_scripts.py")
transfer seed upload -- "${SEED[@]}" upload --bucket bench --key seed-k --file "$IN" --endpoint-url "$ENDPOINT" \
    --public-key "$PUB" --private-key "$PRIV"
transfer seed download --check -- "${SEED[@]}" download --bucket bench --key seed-k --file "$OUT" \
    --endpoint-url "$ENDPOINT" --private-key "$PRIV" --public-key "$PUB"
drop_object seed-k
rm -f "$IN"

# 2. End to end on 1 KiB.
SMALL=$WORK/small
head -c 1024 /dev/urandom >"$SMALL"
latency() { # TOOL OP RM -- CMD...
    local tool=$1 op=$2 rm=$3
    shift 3
    log "$tool $op of 1 KiB, $BENCH_LAT_RUNS runs"
    "$PY" "$HELPER" latency --raw "$LATENCY" --tool "$tool" --op "$op" --runs "$BENCH_LAT_RUNS" --rm "$rm" "$@"
}
latency cse encrypt "$SMALL.enc" -- "$CSE" encrypt "$SMALL" -o "$SMALL.enc" --public-key "$PUB"
latency cse decrypt "$SMALL.out" -- "$CSE" decrypt "$SMALL.enc" -o "$SMALL.out" --private-key "$PRIV"
cmp "$SMALL" "$SMALL.out" || die "cse 1 KiB round trip differs"
ROUNDTRIP=("$PY" "$REPO/tests/python/seed_roundtrip.py")
latency seed encrypt "$SMALL.seed.enc" -- "${ROUNDTRIP[@]}" encrypt "$SMALL" "$SMALL.seed.enc" "$PUB" "$PRIV"
latency seed decrypt "$SMALL.seed.out" -- "${ROUNDTRIP[@]}" decrypt "$SMALL.seed.enc" "$SMALL.seed.out" "$PUB" "$PRIV"
cmp "$SMALL" "$SMALL.seed.out" || die "seed 1 KiB round trip differs"

# 3. Report.
"$PY" "$HELPER" report --transfers "$TRANSFERS" --latency "$LATENCY" --size-mib "$BENCH_S3_MIB" \
    --repeat "$BENCH_REPEAT" --lat-runs "$BENCH_LAT_RUNS" --cse "$CSE" --parts-in-flight "$IN_FLIGHT" \
    --part-mib "$PART_MIB" --server "s3s-fs $("$S3S_FS" --version | awk '{print $2}')" --load "$LOAD_AT_START" \
    --esdk-version "$("$PY" -c 'import aws_encryption_sdk; print(aws_encryption_sdk.__version__)')" \
    --aws-version "$("${AWS_CMD[@]}" --version 2>&1 | awk '{print $1, $2}')" >"$WORK/s3-results.md"
cp "$WORK/s3-results.md" "$RESULTS_MD"
cat "$RESULTS_MD"
log "written to $RESULTS_MD"
