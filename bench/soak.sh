#!/usr/bin/env bash
# Soak test (not run in CI): one hour at 10,000 Socket.IO connections to
# iobridge with churn, broadcasts and echo acks through the webhook, while
# the sidecar's goroutines, open file descriptors and RSS are sampled.
#
#   bench/soak.sh                              # 60m, 10,000 sockets
#   DURATION=3m SOCKETS=2000 bench/soak.sh     # a short check
#
# Load (bench/soak/soak.js, socket.io-client from interop/node_modules): a
# coordinator that sends the broadcasts and WORKERS Node processes that hold
# the sockets (one process stalls for seconds at 10,000 on a busy machine);
# SOCKETS connections (half polling then upgrading, half WebSocket only,
# opened at CONNECT_RATE/s); each minute CHURN of them disconnect and as many
# new ones connect; one broadcast a second (POST /v1/emit, event "tick"); and
# ACK_RATE echo acks a second, each a webhook round trip to bench/backend.
# Every SAMPLE the sidecar's go_goroutines (GET /metrics, with
# [telemetry] runtime_metrics on), open fds (/proc/PID/fd), VmRSS and
# connected sockets (iobridge_sockets) are recorded. At the end: a Markdown
# table of the samples, the totals (acks sent/received/lost, broadcasts,
# deliveries expected/received/lost, reconnects) and a trend check (the
# largest sample after minute WARMUP_MIN against the sample at WARMUP_MIN, and
# the least-squares slope per hour). Exits 1 if anything was lost or a
# sampled value rose past TREND_TOLERANCE.
#
# The sidecar, the backend and the Node processes run at nice -10 (as root;
# NICE overrides, NICE=0 for none) so that other work on the machine does not
# starve them.
#
# Env: DURATION (60m; s/m/h), SAMPLE (1m), SOCKETS (10000), WORKERS (4), CONNECT_RATE
# (1000), CHURN (0.05), ACK_RATE (100), WARMUP_MIN (5), TREND_TOLERANCE (0.2),
# SIDECAR (127.0.0.1:3023), API (127.0.0.1:3024), BACKEND (127.0.0.1:4110),
# WORK (${TMPDIR:-/tmp}/iobridge-soak).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/iobridge-soak}
DURATION=${DURATION:-60m}
SAMPLE=${SAMPLE:-1m}
SOCKETS=${SOCKETS:-10000}
SIDECAR=${SIDECAR:-127.0.0.1:3023}
API=${API:-127.0.0.1:3024}
BACKEND=${BACKEND:-127.0.0.1:4110}
WORKERS=${WORKERS:-4}
NICE=${NICE:--10}
TOKEN=soak-token
STAMP=$(date -u +%Y%m%d-%H%M%S)
LOGDIR=$WORK/results/soak-$STAMP
mkdir -p "$WORK/bin" "$LOGDIR"
ulimit -n "$(ulimit -Hn)"
# seconds DURATION: "90s", "3m", "1h" or a number of seconds.
seconds() {
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
DURATION_S=$(seconds "$DURATION")
SAMPLE_S=$(seconds "$SAMPLE")

echo "building into $WORK/bin" >&2
(cd "$top" && go build -o "$WORK/bin/iobridge" . && go build -o "$WORK/bin/backend" ./bench/backend)

# The defaults refuse none of 10,000 sockets (no connection bound; the
# webhook bounds only concern deliveries in flight); the namespace timeout is
# raised to the acks' 10s.
cat >"$WORK/soak.toml" <<TOML
[server]
listen = "$SIDECAR"
[api]
listen = "$API"
token = "$TOKEN"
[[namespace]]
name = "/"
webhook = "http://$BACKEND/webhook"
on_connect = "accept"
timeout = "10s"
[telemetry]
runtime_metrics = true
TOML

# shellcheck source=lib.sh
. "$top/bench/lib.sh" # wait_port, hi, STARTED and stop
# stop ends the client, then the sidecar (its graceful shutdown still sends
# disconnect deliveries), then the backend, each waited for.
trap stop EXIT

ADDR=$BACKEND hi "$WORK/bin/backend" >"$LOGDIR/backend.log" 2>&1 &
STARTED+=("$!")
wait_port "$BACKEND"
hi "$WORK/bin/iobridge" -config "$WORK/soak.toml" >"$LOGDIR/sidecar.log" 2>&1 &
SPID=$!
STARTED=("$SPID" "${STARTED[@]}")
wait_port "$SIDECAR"
wait_port "$API"

# sample MINUTE: one line of minute, sockets, goroutines, fds, RSS (kB).
sample() {
  local m rss fds
  m=$(curl -fsS "http://$API/metrics" 2>/dev/null || true)
  fds=$(ls "/proc/$SPID/fd" 2>/dev/null | wc -l)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" \
    "$(awk '/^iobridge_sockets\{/ {s += $NF} END {print s + 0}' <<<"$m")" \
    "$(awk '/^go_goroutines / {print $2}' <<<"$m")" \
    "$fds" "${rss:-0}"
}

SAMPLES=$LOGDIR/samples.tsv
SUMMARY=$LOGDIR/summary.json
READY=$LOGDIR/ready
printf '# minute\tsockets\tgoroutines\tfds\trss_kb\n' >"$SAMPLES"
echo "soak: $SOCKETS sockets ($WORKERS client processes) for $DURATION, sampling every $SAMPLE; logs in $LOGDIR" >&2
URL=http://$SIDECAR API=http://$API TOKEN=$TOKEN SOCKETS=$SOCKETS WORKERS=$WORKERS DURATION_S=$DURATION_S \
  SAMPLE_S=$SAMPLE_S READY=$READY SUMMARY=$SUMMARY hi node "$top/bench/soak/soak.js" run 2> >(tee "$LOGDIR/client.log" >&2) &
CPID=$!
STARTED=("$CPID" "${STARTED[@]}")

# Minute 0 is taken once the initial connections are up; then every SAMPLE
# until DURATION.
until [ -f "$READY" ]; do
  if ! kill -0 "$CPID" 2>/dev/null; then echo "soak: the load client exited early" >&2; exit 2; fi
  sleep 0.5
done
t0=$(date +%s)
i=0
while :; do
  el=$((i * SAMPLE_S))
  [ "$el" -gt "$DURATION_S" ] && break
  while [ $(($(date +%s) - t0)) -lt "$el" ]; do sleep 1; done
  sample "$(awk -v s="$el" 'BEGIN {printf "%g", s / 60}')" >>"$SAMPLES"
  tail -n 1 "$SAMPLES" | awk -F'\t' '{printf "sample: minute %s sockets %s goroutines %s fds %s RSS %.1f MB\n", $1, $2, $3, $4, $5 / 1024}' >&2
  i=$((i + 1))
done

rc=0
wait "$CPID" || rc=$?
STARTED=("${STARTED[@]:1}")
if [ "$rc" -ne 0 ] || [ ! -f "$SUMMARY" ]; then
  echo "soak: the load client failed ($rc); see $LOGDIR/client.log" >&2
  exit 2
fi
node "$top/bench/soak/soak.js" report "$SAMPLES" "$SUMMARY"
