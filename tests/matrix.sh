#!/usr/bin/env bash
# Cross-implementation matrix: cse, the official Python ESDK and the official JavaScript ESDK
# for Node each encrypt the same case list (11 suites x 9 keyrings x {empty, non-ASCII}
# context x {small, multi-frame}); each of the three then decrypts every set.
# Prints the table; exits 1 if any pair disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."

W=${1:-.work/matrix}
B=${CSE_BIN:-target/release}
PY=${PYTHON:-.venv/bin/python}
KEYS=vectors/esdk-python/keys.json
IMPLS="cse python js"

rm -rf "$W" && mkdir -p "$W"

encrypt() {
  case $1 in
    cse) "$B/esdk-vectors" encrypt --keys "$KEYS" --out "$W/cse" ;;
    python) "$PY" tests/python/interop.py encrypt --keys "$KEYS" --out "$W/python" ;;
    js) node tests/js/interop.mjs encrypt --keys "$KEYS" --out "$W/js" ;;
  esac
}

decrypt() { # impl manifest
  case $1 in
    cse) "$B/esdk-vectors" decrypt "$2" ;;
    python) "$PY" tests/python/interop.py decrypt "$2" ;;
    js) node tests/js/interop.mjs decrypt "$2" ;;
  esac
}

for e in $IMPLS; do
  echo "== $e encrypts" >&2
  encrypt "$e" >"$W/encrypt-$e.log" 2>&1 || { cat "$W/encrypt-$e.log" >&2; exit 1; }
done

declare -A cell
bad=0
for e in $IMPLS; do
  for d in $IMPLS; do
    log="$W/$e-by-$d.log"
    if decrypt "$d" "$W/$e/manifest.json" >"$log" 2>&1; then status=ok; else status=FAIL; bad=1; fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    cell[$e,$d]="$status (${line:-no result line})"
    [ "$status" = ok ] || { echo "--- $e encrypted, $d decrypted:" >&2; grep -E 'FAIL|rror' "$log" | head -n 20 >&2 || true; }
  done
done

printf '\n%-22s' "encrypted by \\ read by"
for d in $IMPLS; do printf '| %-32s' "$d"; done
printf '\n'
for e in $IMPLS; do
  printf '%-22s' "$e"
  for d in $IMPLS; do printf '| %-32s' "${cell[$e,$d]}"; done
  printf '\n'
done
if [ "$bad" = 0 ]; then echo "matrix: every pair agrees"; else echo "matrix: some pairs disagree"; fi
exit "$bad"
