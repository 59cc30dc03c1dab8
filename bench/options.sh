#!/usr/bin/env bash
# What the socket.io server options cost: echo and fanout against iobridge and
# the reference Node server (socket.io 4.8.4) with each option off and on, in
# one run on one machine (not run in CI; needs Node and interop/node_modules).
#
#   bench/options.sh
#   REPS=3 bench/options.sh                       # each run three times (medians)
#   CONFIGS="ws ws-deflate" SERVERS=iobridge bench/options.sh
#
# Configurations (each against a freshly started server):
#   poll           polling-only clients, [server] transports = ["polling"],
#                  http_compression = false   (reference: httpCompression false)
#   poll-gzip      the same with http_compression = true (httpCompression true)
#   ws             WebSocket clients, per_message_deflate = false, parser "json";
#                  the baseline of both per_message_deflate and parser
#   ws-deflate     per_message_deflate = true (perMessageDeflate true); the
#                  client offers permessage-deflate, as socket.io-client does
#   ws-msgpack     parser = "msgpack" (the reference's parser:
#                  socket.io-msgpack-parser), clients with the same parser
#
# Scenarios (bench/options/options.js, WORKERS Node processes holding the
# sockets, socket.io-client 4.8.4):
#   echo    ECHO_CLIENTS (50) sockets, one ack in flight each, ECHO_S (8)
#           seconds after a second's warm-up, a ~2 KB JSON payload; iobridge
#           acks through its webhook to bench/backend, the reference acks itself
#   fanout  FANOUT_CLIENTS (500) sockets, BROADCASTS (200) broadcasts of the
#           payload posted one after another: iobridge's POST /v1/emit, the
#           reference's copy of it (bench/options/server.js, io.emit);
#           delivered/s and latency from the POST's start; then PACED_BROADCASTS
#           (60) at PACED_RATE (20) a second to the same sockets, for latency
#           outside the burst's queue
# Each line also has the server's CPU over the measured window (from
# /proc/PID/stat; the client processes' too, which on 2 cores often bound the
# rates: compare CPU per op and bytes per op first), the bytes on the wire (TCP payload both ways of the
# clients' sockets) per ack or delivery, and what the clients saw: the
# transport, permessage-deflate negotiated or not, polling answers compressed
# or not, messages as binary (msgpack) or text frames.
#
# The servers, the backend and the clients run at nice -10 (as root; NICE
# overrides, NICE=0 for none). Results: JSON lines in OUT, then a Markdown table.
#
# Env: CONFIGS, SERVERS ("iobridge reference"), REPS (1), WORKERS (2),
# ECHO_CLIENTS, ECHO_S, FANOUT_CLIENTS, BROADCASTS, PACED_BROADCASTS,
# PACED_RATE, PAYLOAD_BYTES (2048) (see bench/options/options.js),
# SIDECAR (127.0.0.1:3033), API (127.0.0.1:3034), REFERENCE (127.0.0.1:3035),
# REFERENCE_EMIT (127.0.0.1:3036), BACKEND (127.0.0.1:4120), OUT, WORK
# (${TMPDIR:-/tmp}/iobridge-options).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/iobridge-options}
CONFIGS=${CONFIGS:-"poll poll-gzip ws ws-deflate ws-msgpack"}
SERVERS=${SERVERS:-"iobridge reference"}
REPS=${REPS:-1}
SIDECAR=${SIDECAR:-127.0.0.1:3033}
API=${API:-127.0.0.1:3034}
REFERENCE=${REFERENCE:-127.0.0.1:3035}
REFERENCE_EMIT=${REFERENCE_EMIT:-127.0.0.1:3036}
BACKEND=${BACKEND:-127.0.0.1:4120}
NICE=${NICE:--10}
TOKEN=options-token
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$WORK/results/options-$STAMP.jsonl}
LOGDIR=$WORK/results/logs-$STAMP
mkdir -p "$WORK/bin" "$LOGDIR" "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"
if [ ! -d "$top/interop/node_modules/socket.io-msgpack-parser" ]; then
  echo "options: interop/node_modules is missing (cd interop && npm ci)" >&2
  exit 2
fi

echo "building into $WORK/bin" >&2
(cd "$top" && go build -o "$WORK/bin/iobridge" . && go build -o "$WORK/bin/backend" ./bench/backend)
COMMIT=$(cd "$top" && git rev-parse --short HEAD 2>/dev/null || true)
if [ -n "$(cd "$top" && git status --porcelain --untracked-files=no -- '*.go' 2>/dev/null)" ]; then
  COMMIT="$COMMIT+uncommitted"
fi

# shellcheck source=lib.sh
. "$top/bench/lib.sh"

trap stop EXIT

ADDR=$BACKEND hi "$WORK/bin/backend" >"$LOGDIR/backend.log" 2>&1 &
BPID=$!
STARTED+=("$BPID")
wait_port "$BACKEND"

# settings CONFIG: "transport parser http_compression per_message_deflate rows".
settings() {
  case $1 in
    poll) echo "polling json false false http_compression=false" ;;
    poll-gzip) echo "polling json true false http_compression=true" ;;
    ws) echo "websocket json true false per_message_deflate=false,parser=json" ;;
    ws-deflate) echo "websocket json true true per_message_deflate=true" ;;
    ws-msgpack) echo "websocket msgpack true false parser=msgpack" ;;
    *) echo "options: unknown configuration $1" >&2; return 1 ;;
  esac
}

# run CONFIG SERVER REP: a fresh server with CONFIG's options, then both
# scenarios against it.
run() {
  local config=$1 server=$2 rep=$3 transport parser gzip deflate rows transports pid url emit log
  read -r transport parser gzip deflate rows <<<"$(settings "$config")"
  log=$LOGDIR/$server-$config-$rep
  if [ "$transport" = polling ]; then transports='["polling"]'; else transports='["polling", "websocket"]'; fi
  if [ "$server" = iobridge ]; then
    cat >"$log.toml" <<TOML
[server]
listen = "$SIDECAR"
transports = $transports
http_compression = $gzip
per_message_deflate = $deflate
parser = "$parser"
[api]
listen = "$API"
token = "$TOKEN"
[[namespace]]
name = "/"
webhook = "http://$BACKEND/webhook"
on_connect = "accept"
timeout = "10s"
TOML
    hi "$WORK/bin/iobridge" -config "$log.toml" >"$log.log" 2>&1 &
    pid=$!
    url=http://$SIDECAR emit=http://$API/v1/emit
    STARTED=("$pid" "${STARTED[@]}")
    wait_port "$SIDECAR"
    wait_port "$API"
  else
    PORT=${REFERENCE#*:} EMIT_PORT=${REFERENCE_EMIT#*:} HOST=${REFERENCE%:*} \
      TRANSPORTS=$(tr -d '[]" ' <<<"$transports") HTTP_COMPRESSION=$gzip PER_MESSAGE_DEFLATE=$deflate PARSER=$parser \
      hi node "$top/bench/options/server.js" >"$log.log" 2>&1 &
    pid=$!
    url=http://$REFERENCE emit=http://$REFERENCE_EMIT/v1/emit
    STARTED=("$pid" "${STARTED[@]}")
    wait_port "$REFERENCE"
    wait_port "$REFERENCE_EMIT"
  fi
  echo "options: $server $config (rep $rep)" >&2
  local rc=0
  (
    export URL=$url EMIT_URL=$emit TOKEN=$TOKEN TRANSPORT=$transport PARSER=$parser SERVER=$server ROWS=$rows \
      SERVER_PID=$pid CLK_TCK=$(getconf CLK_TCK) OUT=$OUT COMMIT=$COMMIT
    if [ "$server" = iobridge ]; then export BACKEND_PID=$BPID; else export BACKEND_PID=; fi
    hi node "$top/bench/options/options.js" run
  ) >/dev/null 2> >(tee -a "$LOGDIR/client.log" >&2) || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  STARTED=("${STARTED[@]:1}")
  if [ "$rc" -ne 0 ]; then
    echo "options: the load client failed ($rc) against $server $config; see $LOGDIR" >&2
    exit 2
  fi
}

# Alternate the servers' order from one repetition to the next.
order=$SERVERS
for rep in $(seq 1 "$REPS"); do
  for config in $CONFIGS; do
    for server in $order; do run "$config" "$server" "$rep"; done
  done
  order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' ')
done

echo >&2
echo "results: $OUT (commit $COMMIT)" >&2
node "$top/bench/options/options.js" report "$OUT"
