#!/usr/bin/env bash
# The whole cse process against openssl dgst -sha384 and the official Python SDK, in one run
# (see bench/cli.py). Usage: bash bench/cli.sh [--size-mib N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "bench/cli.sh: run make test or make demo first (.venv)" >&2; exit 2; }
[ -x target/release/cse ] || cargo build --release -p cse-native
exec .venv/bin/python bench/cli.py "$@"
