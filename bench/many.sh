#!/usr/bin/env bash
# Many small objects: `cse cp -r` against `aws s3 cp --recursive` of the same plaintext files,
# both ways, in one run against a local s3s-fs that this script starts (and stops) itself.
#
#   bash bench/many.sh                 (from anywhere)
#
# BENCH_MANY_COUNT files (default 300) of BENCH_MANY_KIB KiB (default 64) of random bytes.
# cse: defaults (10 requests in flight for objects and parts together, RSA-4096 OAEP-SHA256,
# suite 0x0578); aws: its defaults (max_concurrent_requests 10), no flexible checksums.
# Each download is compared with the input (diff -r). Wall time from process start to exit,
# best of BENCH_REPEAT runs (default 3), and the peak RSS of each tool (GNU time, largest of the
# runs); prints a table and the ratios aws time / cse time (above 1: cse is faster).
#
# Environment: CSE_BIN (default target/release/cse), S3S_FS, PYTHON (venv with awscli,
# default .venv/bin/python), TMPDIR.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
COUNT=${BENCH_MANY_COUNT:-300}
KIB=${BENCH_MANY_KIB:-64}
REPEAT=${BENCH_REPEAT:-3}
PY=${PYTHON:-$REPO/.venv/bin/python}
AWS=$(dirname "$PY")/aws
CSE=${CSE_BIN:-$REPO/target/release/cse}
[[ $CSE = /* ]] || CSE=$REPO/$CSE

log() { echo "[bench-many] $*" >&2; }
die() { echo "[bench-many] error: $*" >&2; exit 1; }

[ -x "$AWS" ] || die "no AWS CLI at $AWS (.venv/bin/pip install -r tests/python/requirements.txt)"
[ -x "$CSE" ] || die "no cse binary at $CSE (cargo build --release, or set CSE_BIN)"
S3S_FS=${S3S_FS:-$(command -v s3s-fs || true)}
[ -n "$S3S_FS" ] || { [ -x "$HOME/.cargo/bin/s3s-fs" ] && S3S_FS=$HOME/.cargo/bin/s3s-fs; } ||
    die "s3s-fs not found: cargo install s3s-fs --version 0.14.1 --features binary (or set S3S_FS)"
command -v openssl >/dev/null || die "openssl not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cse-bench-many.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(AWS_|CSE_)' || true)
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
mkdir -p "$WORK/home" "$WORK/data"
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config

ACCESS_KEY=AKBENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$S3S_FS" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS_KEY" --secret-key="$SECRET_KEY" \
    "$WORK/data" >>"$WORK/s3s-fs.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done
ENDPOINT=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_ENDPOINT_URL=$ENDPOINT \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
cat >"$WORK/aws-config" <<CFG
[default]
region = us-east-1
s3 =
    addressing_style = path
    max_concurrent_requests = 10
CFG
AWS_CMD=(env AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/none"
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
    "$AWS" --endpoint-url "$ENDPOINT")

openssl genpkey -algorithm RSA -out "$WORK/private_key.pem" -pkeyopt rsa_keygen_bits:4096 2>/dev/null
openssl rsa -pubout -in "$WORK/private_key.pem" -out "$WORK/public_key.pem" 2>/dev/null
"$CSE" mb s3://bench -q >&2

log "creating $COUNT files of $KIB KiB"
mkdir -p "$WORK/in"
for i in $(seq -w 1 "$COUNT"); do head -c $((KIB * 1024)) /dev/urandom >"$WORK/in/f$i.bin"; done

# best SECONDS of CMD... over REPEAT runs (BEFORE is run before each, untimed); the peak
# RSS (KiB, GNU time) of each run goes to $WORK/rss, the largest is reported
best() {
    local before=$1; shift
    local best_t="" t s e
    for _ in $(seq "$REPEAT"); do
        eval "$before"
        s=$(date +%s.%N)
        /usr/bin/time -f %M -a -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/err" \
            || die "failed: $* ($(tail -n 3 "$WORK/err"))"
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$best_t" ] || [ "$(echo "$t < $best_t" | bc -l)" = 1 ]; then best_t=$t; fi
    done
    echo "$best_t"
}
# the largest peak RSS (MiB) recorded since the last call
peak() { sort -n "$WORK/rss" | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }'; : >"$WORK/rss"; }
[ -x /usr/bin/time ] || die "GNU time not found (apt-get install time)"

log "aws s3 cp --recursive (upload, download)"
: >"$WORK/rss"
aws_up=$(best ":" "${AWS_CMD[@]}" s3 cp --recursive --only-show-errors "$WORK/in" s3://bench/aws/)
aws_up_rss=$(peak)
aws_down=$(best "rm -rf '$WORK/aws-out'" "${AWS_CMD[@]}" s3 cp --recursive --only-show-errors s3://bench/aws/ "$WORK/aws-out")
aws_down_rss=$(peak)
diff -r "$WORK/in" "$WORK/aws-out" >/dev/null || die "aws download differs"
log "cse cp -r (upload, download)"
cse_up=$(best ":" "$CSE" cp -r -q "$WORK/in" s3://bench/cse/ --public-key "$WORK/public_key.pem")
cse_up_rss=$(peak)
cse_down=$(best "rm -rf '$WORK/cse-out'" "$CSE" cp -r -q s3://bench/cse/ "$WORK/cse-out/" --private-key "$WORK/private_key.pem")
cse_down_rss=$(peak)
diff -r "$WORK/in" "$WORK/cse-out" >/dev/null || die "cse download differs"

ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '| %s × %s KiB | aws s3 cp --recursive (s) | cse cp -r (s) | aws / cse | peak RSS aws / cse |\n|---|---:|---:|---:|---:|\n' "$COUNT" "$KIB"
printf '| upload | %.2f | %.2f | %s× | %s / %s MiB |\n' "$aws_up" "$cse_up" "$(ratio "$aws_up" "$cse_up")" "$aws_up_rss" "$cse_up_rss"
printf '| download | %.2f | %.2f | %s× | %s / %s MiB |\n' "$aws_down" "$cse_down" "$(ratio "$aws_down" "$cse_down")" "$aws_down_rss" "$cse_down_rss"
