#!/usr/bin/env bash
# Runs make targets one after the other and says how long each took (make check, make test).
#
#   bash scripts/phases.sh PHASE...
#
# A phase written `&target` starts in the background at low priority (nice 19), with its
# output in .work/<target>.log: it uses the CPU the foreground phases leave idle. The phase
# `wait` waits for every background phase started so far and fails, showing the end of its
# log, if one failed. The first failing phase stops the run (background phases are ended).
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
mkdir -p .work
# Nothing here reads the terminal; with job control on, background phases would otherwise
# share this shell's standard input.
exec </dev/null

set -m # each background phase in its own process group, so it can be ended as a whole
bg_pids=()
bg_names=()
took=""
t0=$SECONDS

stop_background() {
  for pid in "${bg_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT
trap 'exit 130' INT TERM

fail() { # phase seconds
  echo "== $1 failed after $2 s (done:${took:- nothing})" >&2
  exit 1
}

for phase in "$@"; do
  s=$SECONDS
  case $phase in
    "&"*)
      target=${phase#&}
      nice -n 19 "$MAKE" --no-print-directory "$target" >".work/$target.log" 2>&1 &
      bg_pids+=($!)
      bg_names+=("$target")
      echo "== $target: started in the background (.work/$target.log)"
      ;;
    wait)
      for i in "${!bg_pids[@]}"; do
        if ! wait "${bg_pids[$i]}"; then
          name=${bg_names[$i]}
          tail -n 40 ".work/$name.log" >&2
          bg_pids=()
          fail "$name (background)" $((SECONDS - s))
        fi
      done
      bg_pids=()
      echo "== background phases done (${bg_names[*]}); waited $((SECONDS - s)) s"
      took="$took wait $((SECONDS - s)) s,"
      ;;
    *)
      "$MAKE" --no-print-directory "$phase" || fail "$phase" $((SECONDS - s))
      echo "== $phase: $((SECONDS - s)) s"
      took="$took $phase $((SECONDS - s)) s,"
      ;;
  esac
done
echo "== times:$took total $((SECONDS - t0)) s"
