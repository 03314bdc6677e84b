#!/usr/bin/env bash
# azurite.sh start|stop|status|connection-string
# Runs the Azurite storage emulator (Blob, Queue, Table) on 127.0.0.1 with its data under
# .build/azurite. `start` returns once all three services answer; `stop` ends exactly the process
# it started (by pid), escalating from SIGTERM to SIGKILL because Azurite can take seconds to exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BLOB_PORT=${DPQ_AZURITE_BLOB_PORT:-10000}
QUEUE_PORT=${DPQ_AZURITE_QUEUE_PORT:-10001}
TABLE_PORT=${DPQ_AZURITE_TABLE_PORT:-10002}
DATA_DIR="$BUILD_DIR/azurite"
PID_FILE="$DATA_DIR/azurite.pid"
LOG_FILE="$DATA_DIR/azurite.log"
# Azurite's published development account; it only ever exists on this machine.
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

connection_string() {
  printf 'DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%s/%s;QueueEndpoint=http://127.0.0.1:%s/%s;TableEndpoint=http://127.0.0.1:%s/%s;' \
    "$ACCOUNT" "$KEY" "$BLOB_PORT" "$ACCOUNT" "$QUEUE_PORT" "$ACCOUNT" "$TABLE_PORT" "$ACCOUNT"
}

our_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid; pid=$(cat "$PID_FILE")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

port_owner() { # prints "pid/command" of whoever listens on 127.0.0.1:$1, nothing if free
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 |
    while read -r pid; do echo "$pid/$(ps -o comm= -p "$pid" 2>/dev/null)"; done || true
}

answers() { # every service answers HTTP (any status) on its port
  for port in "$BLOB_PORT" "$QUEUE_PORT" "$TABLE_PORT"; do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || return 1
  done
}

start() {
  if our_pid >/dev/null && answers; then
    say "Azurite already running (pid $(our_pid))"
    return 0
  fi
  for port in "$BLOB_PORT" "$QUEUE_PORT" "$TABLE_PORT"; do
    local owner; owner=$(port_owner "$port")
    [ -z "$owner" ] || die "port $port on 127.0.0.1 is taken by another process ($owner), not by this project's Azurite. Stop it, or choose other ports with DPQ_AZURITE_BLOB_PORT / DPQ_AZURITE_QUEUE_PORT / DPQ_AZURITE_TABLE_PORT."
  done
  local bin="$REPO_ROOT/node_modules/.bin/azurite"
  [ -x "$bin" ] || die "Azurite is not installed: run ./dpq setup"
  mkdir -p "$DATA_DIR"
  rm -f "$PID_FILE"
  # DPQ_AZURITE_IN_MEMORY=1 keeps everything in memory (benchmarks with a million rows: no periodic
  # save of the whole table database to disk); the data is gone when Azurite stops.
  local persistence=(--location "$DATA_DIR")
  [ "${DPQ_AZURITE_IN_MEMORY:-0}" = 1 ] && persistence=(--inMemoryPersistence)
  # setsid forks when its caller leads a process group (job control), so the child records its own pid.
  DPQ_PID_FILE="$PID_FILE" setsid bash -c 'echo $$ >"$DPQ_PID_FILE"; exec "$0" "$@"' "$bin" --silent \
    --skipApiVersionCheck --disableTelemetry --loose "${persistence[@]}" \
    --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" --queueHost 127.0.0.1 --queuePort "$QUEUE_PORT" \
    --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" >"$LOG_FILE" 2>&1 </dev/null &
  for _ in $(seq 1 50); do [ -s "$PID_FILE" ] && break; sleep 0.1; done
  local pid; pid=$(cat "$PID_FILE" 2>/dev/null) || die "Azurite did not start (log: $LOG_FILE)"
  for _ in $(seq 1 150); do
    if answers; then say "Azurite up (pid $pid, data in .build/azurite)"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$LOG_FILE" >&2; rm -f "$PID_FILE"; die "Azurite exited during start (log above)"; }
    sleep 0.2
  done
  stop
  die "Azurite did not answer within 30 s (log: $LOG_FILE)"
}

stop() {
  local pid
  pid=$(our_pid) || { rm -f "$PID_FILE"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do # up to 10 s for a clean exit
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; say "Azurite stopped"; return 0; }
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  say "Azurite did not exit within 10 s of SIGTERM: killed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if pid=$(our_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 1; fi ;;
  connection-string) connection_string; echo ;;
  *) die "usage: azurite.sh start|stop|status|connection-string" ;;
esac
