# Shared by the bench scripts (run.sh, soak.sh, options.sh): sourced, not run.

# wait_port HOST:PORT waits up to 10s for a listener there.
wait_port() {
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$1 never opened" >&2
  return 1
}

# hi runs a command at priority NICE (raising it needs root); only in the
# background (cmd &), where it execs so that $! is the command's pid.
hi() {
  if [ "$NICE" -lt 0 ] && [ "$(id -u)" -ne 0 ]; then exec "$@"; else exec nice -n "$NICE" "$@"; fi
}

# STARTED holds the pids of what a script started in the background, in
# the order it started them; stop ends them in that order, each waited for.
STARTED=()
stop() {
  local p
  for p in "${STARTED[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  STARTED=()
}
