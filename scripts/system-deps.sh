#!/usr/bin/env bash
# The system packages, Rust targets and Rust components that the make targets need: the one
# list that `make check`, `make demo`, `make test`, `make static` and `.ci/run` use.
#
#   bash scripts/system-deps.sh [check|demo|test|static]     (default: test)
#
# What is present is left alone (a second run takes well under a second). What is missing is
# installed: Debian packages with apt-get as root, or through sudo when it needs no password;
# Rust targets and components with rustup. When packages are missing and cannot be installed,
# it prints the one apt-get line to run and exits 1, before anything is built.
set -euo pipefail

tier=${1:-test}
case $tier in
  check | demo | test | static) ;;
  *) echo "usage: bash scripts/system-deps.sh [check|demo|test|static]" >&2; exit 2 ;;
esac

# /dev/null must be the null device: cargo gives rustc its target probes' source on standard
# input from it, and a regular file left there (by any program that renamed a file over it as
# root) turns every later build's probe into a compile error of that file's text.
if [ ! -c /dev/null ]; then
  if [ "$(id -u)" = 0 ]; then
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
    echo "system-deps: /dev/null was not the null device; made it again (mknod c 1 3)" >&2
  else
    echo "system-deps: /dev/null is not the null device; as root: rm -f /dev/null && mknod -m 666 /dev/null c 1 3" >&2
    exit 1
  fi
fi

# package       needed by               present when
PACKAGES='
gcc             check,demo,test,static  command -v cc
python3-venv    demo,test               python3 -c "import ensurepip, venv"
nodejs+npm      demo,test               command -v npm
nginx-light     demo,test               command -v nginx
openssl         test                    command -v openssl
time            test                    test -x /usr/bin/time
file            test,static             command -v file
musl-tools      test,static             command -v musl-gcc
chromium        test                    test -x /usr/bin/chromium
'
# What each is for: cc compiles the C parts (AWS-LC, jemalloc) and links every native build;
# python3-venv holds the official Python SDK; npm brings the official JavaScript SDK, the
# browser-test driver and wasm-opt; nginx is the CORS proxy in front of the local S3 server
# (demo page and browser tests); openssl makes the TLS test certificates; GNU time measures
# peak memory in the S3 tests; musl-tools and file are for the static build; Chromium runs the
# browser tests.

# Rust pieces: rustup components and targets.
RUST_COMPONENTS_check='rustfmt clippy'
RUST_COMPONENTS_test='rustfmt clippy'
RUST_TARGETS_demo='wasm32-unknown-unknown'
RUST_TARGETS_test='wasm32-unknown-unknown x86_64-unknown-linux-musl'
RUST_TARGETS_static='x86_64-unknown-linux-musl'

missing=()
while read -r pkg tiers test; do
  [ -n "$pkg" ] || continue
  case ",$tiers," in *",$tier,"*) ;; *) continue ;; esac
  # The tests are fixed strings of this file.
  if ! bash -c "$test" >/dev/null 2>&1; then
    missing+=(${pkg//+/ })
  fi
done <<<"$PACKAGES"

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "system-deps: missing system packages for 'make $tier': ${missing[*]}" >&2
    echo "Install them as root (e.g. with sudo), then run make again:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$tier" = demo ] || [ "$tier" = test ]; then
  # Versions that apt cannot be relied on for: the official SDKs need Python >= 3.11 and the
  # JavaScript drivers Node.js >= 20 (Debian 12 ships Python 3.11 but Node.js 18).
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "system-deps: Python >= 3.11 is needed (python3 is $(python3 --version 2>&1))" >&2; exit 1; }
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || {
    echo "system-deps: Node.js >= 20 is needed (node is $(node --version)); see https://nodejs.org or NodeSource" >&2
    exit 1
  }
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v rustup >/dev/null; then
  echo "system-deps: rustup is needed (https://rustup.rs), then run make again" >&2
  exit 1
fi
components_var=RUST_COMPONENTS_$tier
targets_var=RUST_TARGETS_$tier
want_components=${!components_var:-}
want_targets=${!targets_var:-}
if [ -n "$want_components" ]; then
  have=$(rustup component list --installed)
  for c in $want_components; do
    grep -q "^$c" <<<"$have" || rustup component add "$c"
  done
fi
if [ -n "$want_targets" ]; then
  have=$(rustup target list --installed)
  for t in $want_targets; do
    grep -qx "$t" <<<"$have" || rustup target add "$t"
  done
fi
