#!/usr/bin/env bash
# Run the S3 integration tests: cse against a local s3s-fs, the users' scripts and
# the official Python SDK.  Usage: bash tests/s3/run.sh [pytest arguments]
#   CSE_BIN  the cse binary (default target/release/cse)
#   S3S_FS   the s3s-fs binary (default: s3s-fs on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "tests/s3: no .venv; create it with: python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt" >&2
  exit 2
fi
if ! "$PY" -c 'import pytest, xdist' 2>/dev/null; then
  echo "tests/s3: pytest or pytest-xdist is missing from .venv; run .venv/bin/pip install -r tests/python/requirements.txt" >&2
  exit 2
fi
if [ -z "${S3S_FS:-}" ]; then
  if ! command -v s3s-fs >/dev/null; then
    if [ -x "$HOME/.cargo/bin/s3s-fs" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "tests/s3: s3s-fs is not on PATH. Install it with" >&2
      echo "  cargo install s3s-fs --version 0.14.1 --features binary" >&2
      echo "or set S3S_FS to the binary." >&2
      exit 2
    fi
  fi
fi
if [ ! -x /usr/bin/time ]; then
  echo "tests/s3: /usr/bin/time is missing (peak memory is measured with it): apt-get install -y time" >&2
  exit 2
fi
CSE_BIN="${CSE_BIN:-target/release/cse}"
if [ ! -x "$CSE_BIN" ]; then
  echo "tests/s3: no cse binary at $CSE_BIN; build it with cargo build --release, or set CSE_BIN" >&2
  exit 2
fi
export CSE_BIN

# Two workers, one test file each at a time (pytest-xdist): the 10 000-file round trip in
# test_many.py runs beside the other files instead of after them. S3_TEST_WORKERS=0 runs
# everything in this process.
exec "$PY" -m pytest -q -n "${S3_TEST_WORKERS:-2}" --dist loadfile tests/s3 "$@"
