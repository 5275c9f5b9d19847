#!/usr/bin/env bash
# The main job, end to end, on this machine: a local S3-compatible server that checks
# signatures, a key pair, an encrypted upload and download with cse, the official Python SDK
# (the users' current scripts) reading what cse uploaded and the other way round, a tampered
# object refused, and the browser page served against the same server.
#
#   bash scripts/demo.sh          (normally through `make demo`)
#   DEMO_SERVE=0|1                serve the page until Ctrl-C (default: 1 on a terminal)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CSE=$PWD/target/release/cse
PY=$PWD/.venv/bin/python
SEED=$PWD/tests/s3/seed_scripts.py
DIR=$PWD/.work/demo
SERVE=${DEMO_SERVE:-$([ -t 0 ] && echo 1 || echo 0)}
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\n== %s\n' "$*"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rm -rf "$DIR" && mkdir -p "$DIR/s3"
cd "$DIR"
pids=()
cleanup() {
  [ -d "$DIR/proxy" ] && bash "$REPO/web/test/cors-proxy.sh" stop --dir "$DIR/proxy" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

S3_PORT=$(free_port)
export AWS_ACCESS_KEY_ID="DEMO$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export AWS_SECRET_ACCESS_KEY="$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')"
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" AWS_REGION=us-east-1
s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key="$AWS_SECRET_ACCESS_KEY" "$DIR/s3" >"$DIR/s3s-fs.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$S3_PORT),1)" 2>/dev/null && break; sleep 0.1; done

(umask 077; printf 'access key: %s\nsecret key: %s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$DIR/credentials.txt")

# The daily command needs no key flags: the keys live in cse's config file.
export CSE_CONFIG=$DIR/config.toml
printf 'public_key = "%s/public_key.pem"\nprivate_key = "%s/private_key.pem"\n' "$DIR" "$DIR" >"$CSE_CONFIG"

say "local S3 server (s3s-fs, checks SigV4) at $AWS_ENDPOINT_URL"
say "cse keygen: an RSA-4096 pair, as the users' openssl commands make (unencrypted: the Python scripts below read it)"
"$CSE" keygen --no-passphrase
"$CSE" mb s3://bucket-test

echo "This is example for CSE!" >example.txt
head -c 40000000 /dev/urandom >>example.txt

say "cse cp: encrypt and upload (40 MB: a parallel multipart upload)"
"$CSE" cp example.txt s3://bucket-test/example_encrypted.txt
"$CSE" ls s3://bucket-test

say "the users' Download_By_CSE.py logic (official Python SDK + boto3) decrypts what cse uploaded"
"$PY" "$SEED" download --bucket bucket-test --key example_encrypted.txt --file by_python.txt
cmp example.txt by_python.txt && echo "identical"

say "the users' Upload_By_CSE.py logic uploads; cse cp downloads and decrypts (ranged GETs)"
"$PY" "$SEED" upload --bucket bucket-test --key from_python.txt --file example.txt
"$CSE" cp s3://bucket-test/from_python.txt by_cse.txt
cmp example.txt by_cse.txt && echo "identical"

say "a tampered object is refused and no output file appears"
"$PY" - "$DIR/s3/bucket-test/example_encrypted.txt" <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 1
open(path, "wb").write(data)
EOF
if "$CSE" cp s3://bucket-test/example_encrypted.txt tampered.txt; then
  echo "demo: the tampered object was accepted" >&2; exit 1
fi
test ! -e tampered.txt && echo "refused; tampered.txt does not exist"

if [ ! -f "$REPO/web/www/pkg/cse_web.js" ]; then
  echo; echo "demo: done (build the page with 'make web' to serve it too)"; exit 0
fi
PAGE_PORT=$(free_port); PROXY_PORT=$(free_port)
ORIGIN="http://127.0.0.1:$PAGE_PORT"
bash "$REPO/web/test/cors-proxy.sh" start --dir "$DIR/proxy" --port "$PROXY_PORT" \
  --s3-port "$S3_PORT" --origin "$ORIGIN" >/dev/null
"$PY" -m http.server "$PAGE_PORT" --bind 127.0.0.1 -d "$REPO/web/www" >"$DIR/page.log" 2>&1 &
pids+=($!)
say "the browser page: $ORIGIN/"
cat <<EOF
   endpoint   http://127.0.0.1:$PROXY_PORT   (the S3 server behind a CORS proxy)
   region     us-east-1        bucket  bucket-test
   access key and secret of this demo server: $DIR/credentials.txt
   keys       $DIR/public_key.pem, $DIR/private_key.pem
EOF
if [ "$SERVE" = 1 ]; then
  echo "   serving until Ctrl-C"
  wait "${pids[0]}"
else
  echo "   (not serving: DEMO_SERVE=0)"
fi
