#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each, JOBS at a time, one
# worker per target, and prints one line per target: its package, name, execs,
# new corpus entries and whether it failed. A failing input is written by the
# Go toolchain into the package's testdata/fuzz/<Target>/ directory, where it
# stays as a seed that plain `go test` replays from then on.
#
#   bench/fuzz.sh                       # every target, 20m each, 3 at a time
#   FUZZTIME=30s JOBS=2 bench/fuzz.sh   # a quick pass
#   TARGETS="proxy/engineio:FuzzDecodePayloadV4" bench/fuzz.sh
#
# Env: FUZZTIME (20m), JOBS (3), TARGETS (pkg:Name ...; all when empty),
# LOGDIR (${TMPDIR:-/tmp}/iobridge-fuzz).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
FUZZTIME=${FUZZTIME:-20m}
JOBS=${JOBS:-3}
LOGDIR=${LOGDIR:-${TMPDIR:-/tmp}/iobridge-fuzz}
mkdir -p "$LOGDIR"

if [ -z "${TARGETS:-}" ]; then
  TARGETS=$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sort | while read -r f; do
    pkg=$(dirname "$f" | sed 's|^\./||')
    grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$pkg:|"
  done)
fi

run() {
  local pkg=${1%%:*} name=${1##*:}
  local log="$LOGDIR/$(echo "$pkg" | tr / _)-$name.log"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -parallel 1 "./$pkg" >"$log" 2>&1
  local rc=$?
  local last execs new
  last=$(grep -E 'fuzz: elapsed' "$log" | tail -1)
  execs=$(echo "$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p')
  new=$(echo "$last" | sed -n 's/.*new interesting: \([0-9]*\).*/\1/p')
  if [ $rc -eq 0 ]; then st=ok; else st="FAIL (see $log)"; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "$name" "${execs:-?}" "${new:-?}" "$st"
}

printf 'package\ttarget\texecs\tnew corpus\tresult\n'
running=0
for t in $TARGETS; do
  run "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
