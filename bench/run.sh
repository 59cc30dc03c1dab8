#!/usr/bin/env bash
# Load scenarios for iobridge's backend modes, TLS and tracing, measured with
# sioload (the Socket.IO load generator of the project's shared bench
# harness) against bench/backend. Each scenario gets a freshly started
# sidecar and backend; results are sioload's JSON lines, then its Markdown
# tables.
#
#   SIOLOAD=/path/to/sioload bench/run.sh
#   SIOLOAD=... SCENARIOS="echo echo-tls-trace" REPS=3 bench/run.sh
#
# Scenarios (iobridge on 127.0.0.1:3013, bench/backend on 127.0.0.1:4100):
#   echo              100 clients, closed-loop acks, each a webhook round trip
#   echo1k            the same with 1,000 clients
#   bridge-echo       100 clients, each ack a frame round trip on the socket's bridge
#   bridge-echo1k     the same with 1,000 clients (1,000 bridges)
#   conns1k           1,000 connections, no backend (memory per socket)
#   bridge-conns1k    1,000 connections, each with its bridge (memory per bridged socket)
#   stream-fanout     an SSE stream carrying 1,000 instructions/s (5,000 in all) to
#                     a room every one of 1,000 sockets joined from its connect answer
#   stream-fanout-paced  the same at 40 instructions/s (latency)
#   echo-tls          echo over wss (manual certificate)
#   echo-trace        echo with tracing on (sample ratio 1, OTLP/HTTP to the
#                     backend, which discards it)
#   echo-tls-trace    both
#
# Env: SIOLOAD (required), SCENARIOS, REPS (1), OUT, WORK (${TMPDIR:-/tmp}/iobridge-bench-modes).
set -euo pipefail
: "${SIOLOAD:?set SIOLOAD to a built sioload binary}"
top=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/iobridge-bench-modes}
SCENARIOS=${SCENARIOS:-"echo echo1k bridge-echo bridge-echo1k conns1k bridge-conns1k stream-fanout stream-fanout-paced echo-tls echo-trace echo-tls-trace"}
REPS=${REPS:-1}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$WORK/results/modes-$STAMP.jsonl}
LOGDIR=$WORK/results/logs-$STAMP
mkdir -p "$WORK/bin" "$LOGDIR" "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"

echo "building into $WORK/bin" >&2
(cd "$top" && go build -o "$WORK/bin/iobridge" . && go build -o "$WORK/bin/backend" ./bench/backend)
if [ ! -f "$WORK/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
fi

SIDECAR=127.0.0.1:3013
BACKEND=127.0.0.1:4100

# config NAMESPACE_TOML [tls] [trace]: the sidecar's configuration.
config() {
  local ns=$1 tls=${2:-} trace=${3:-}
  cat <<TOML
[server]
listen = "$SIDECAR"
cors_origins = ["*"]
[api]
listen = "127.0.0.1:3014"
token = "bench-token"
[[namespace]]
name = "/"
timeout = "10s"
$ns
TOML
  if [ -n "$tls" ]; then
    printf '[tls]\nmode = "manual"\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/cert.pem" "$WORK/key.pem"
  fi
  if [ -n "$trace" ]; then
    printf '[telemetry]\notlp_endpoint = "http://%s"\nprotocol = "http"\nsample_ratio = 1.0\n' "$BACKEND"
  fi
}

WEBHOOK="webhook = \"http://$BACKEND/webhook\"
on_connect = \"accept\""
BRIDGE="bridge = \"ws://$BACKEND/bridge\"
on_connect = \"accept\""
PLAIN='on_connect = "accept"'
STREAM="webhook = \"http://$BACKEND/webhook\"
on_connect = \"webhook\"
stream = \"http://$BACKEND/feed\""

# shellcheck source=lib.sh
. "$top/bench/lib.sh" # wait_port, STARTED and stop
trap stop EXIT

# start TAG NAMESPACE_TOML [tls] [trace]: backend then sidecar; sets SPID, BPID.
start() {
  local tag=$1
  config "${@:2}" >"$WORK/$tag.toml"
  ADDR=$BACKEND "$WORK/bin/backend" >"$LOGDIR/$tag.backend.log" 2>&1 &
  BPID=$!
  STARTED+=("$BPID")
  wait_port "$BACKEND"
  "$WORK/bin/iobridge" -config "$WORK/$tag.toml" >"$LOGDIR/$tag.sidecar.log" 2>&1 &
  SPID=$!
  STARTED=("$SPID" "${STARTED[@]}")
  wait_port "$SIDECAR"
  sleep 0.5
}

FEEDBODY='{"to":["feed"],"event":"{{event}}","args":[{{payload}}]}'
ECHO=(echo -c 100 -d 10s -warmup 2s -payload 64)
ECHO1K=(echo -c 1000 -d 10s -warmup 3s -payload 64)

# load SC LABEL NAMESPACE_TOML TLS TRACE PIDS -- SIOLOAD_ARGS...: starts the
# sidecar for the scenario and runs sioload against it (over wss with TLS).
load() {
  local sc=$1 label=$2 ns=$3 tls=$4 trace=$5 pids=$6
  shift 7
  start "$sc" "$ns" "$tls" "$trace"
  local url=http://$SIDECAR env=()
  if [ -n "$tls" ]; then
    url=https://localhost:${SIDECAR#*:}
    env=(SSL_CERT_FILE="$WORK/cert.pem")
  fi
  local p=$SPID
  [ "$pids" = both ] && p=$SPID,$BPID
  env "${env[@]}" "$SIOLOAD" "$@" -url "$url" -pid "$p" -label "$label" -out "$OUT"
}

FEED=(-trigger http -trigger-url "http://$BACKEND/push" -trigger-body "$FEEDBODY")

run() {
  local sc=$1 l=$2
  case $sc in
    echo)                load "$sc" "$l" "$WEBHOOK" ""  ""    both -- "${ECHO[@]}" ;;
    echo1k)              load "$sc" "$l" "$WEBHOOK" ""  ""    both -- "${ECHO1K[@]}" ;;
    bridge-echo)         load "$sc" "$l" "$BRIDGE"  ""  ""    both -- "${ECHO[@]}" ;;
    bridge-echo1k)       load "$sc" "$l" "$BRIDGE"  ""  ""    both -- "${ECHO1K[@]}" ;;
    conns1k)             load "$sc" "$l" "$PLAIN"   ""  ""    sidecar -- conns -n 1000 -settle 3s -hold 5s ;;
    bridge-conns1k)      load "$sc" "$l" "$BRIDGE"  ""  ""    sidecar -- conns -n 1000 -settle 3s -hold 5s ;;
    stream-fanout)       load "$sc" "$l" "$STREAM"  ""  ""    both -- fanout -n 1000 -m 5000 -msg-rate 1000 -payload 64 -drain 60s "${FEED[@]}" ;;
    stream-fanout-paced) load "$sc" "$l" "$STREAM"  ""  ""    both -- fanout -n 1000 -m 1000 -msg-rate 40 -payload 64 "${FEED[@]}" ;;
    echo-tls)            load "$sc" "$l" "$WEBHOOK" tls ""    both -- "${ECHO[@]}" ;;
    echo-trace)          load "$sc" "$l" "$WEBHOOK" ""  trace both -- "${ECHO[@]}" ;;
    echo-tls-trace)      load "$sc" "$l" "$WEBHOOK" tls trace both -- "${ECHO[@]}" ;;
    *) echo "unknown scenario $sc" >&2; return 1 ;;
  esac
}

for rep in $(seq 1 "$REPS"); do
  for sc in $SCENARIOS; do
    echo "== $sc rep$rep" >&2
    if ! run "$sc" "iobridge $sc rep$rep" >/dev/null 2>"$LOGDIR/$sc.rep$rep.sioload.log"; then
      echo "   sioload failed: see $LOGDIR/$sc.rep$rep.sioload.log" >&2
    fi
    tail -n 1 "$LOGDIR/$sc.rep$rep.sioload.log" >&2 || true
    stop
    sleep 2
  done
done
echo "results: $OUT" >&2
"$SIOLOAD" table "$OUT"
