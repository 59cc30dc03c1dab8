# Shared by the bench scripts (run.sh, soak.sh): sourced, not run.

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
