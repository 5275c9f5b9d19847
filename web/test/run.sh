#!/usr/bin/env bash
# The browser tests of the cse page, for `make test` (make web-test): checks the pieces the
# test needs, installs the pinned npm packages when missing, then runs page.test.mjs.
#
#   bash web/test/run.sh            (from anywhere)
# Environment: CSE_BIN, PYTHON, S3S_FS, CHROMIUM, NGINX as page.test.mjs / stack.mjs take them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

missing=0
need() { # need WHAT TEST HOW
    if ! eval "$2" >/dev/null 2>&1; then echo "web/test: missing $1: $3" >&2; missing=1; fi
}
need node "command -v node" "install Node.js >= 20"
need chromium "test -x '${CHROMIUM:-/usr/bin/chromium}'" "apt-get install -y chromium"
need nginx "command -v '${NGINX:-nginx}'" "apt-get install -y nginx-light"
need s3s-fs "test -x '${S3S_FS:-}' || command -v s3s-fs" "cargo install s3s-fs --version 0.14.1 --features binary"
need openssl "command -v openssl" "apt-get install -y openssl"
need "the wasm package" "test -f web/www/pkg/cse_web.js -a -f web/www/pkg/cse_web_bg.wasm" "make web"
need "the cse binary" "test -x '${CSE_BIN:-target/release/cse}'" "make build"
need "the Python venv with the official SDK" "test -x '${PYTHON:-.venv/bin/python}'" "make .venv/.stamp (make test does it)"
[ "$missing" = 0 ] || exit 2

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || {
    echo "web/test: Node.js >= 20 needed (have $(node --version))" >&2; exit 2; }

if [ ! -d web/test/node_modules/playwright-core ]; then
    npm ci --prefix web/test --no-audit --no-fund --loglevel=error
    touch web/test/node_modules/.stamp
fi

exec node web/test/page.test.mjs
