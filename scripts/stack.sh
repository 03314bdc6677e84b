#!/usr/bin/env bash
# stack.sh start|stop|status|url|host-binary: the local serverless stack on top of Azurite: the functions host
# (WebJobs triggers + HTTP on 127.0.0.1), the encode worker and the retraining worker, each a background process with its
# pid in .build/run and its log in .build/run/*.log. Expects a Release build (./dpq builds it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUN_DIR="$BUILD_DIR/run"
HTTP_PORT=${DPQ_HTTP_PORT:-7071}
URL="http://127.0.0.1:$HTTP_PORT"
# The functions host runs precompiled (ReadyToRun), as the Azure app is published, so a new host
# JITs less before its first answer (cold-start figures in docs/pipeline.md).
LOCALHOST_PUBLISH="$BUILD_DIR/publish/localhost"
LOCALHOST_BIN="$LOCALHOST_PUBLISH/dpq-localhost"
WORKER_BIN="$REPO_ROOT/gpu-worker/Dpq.Worker/bin/$CONFIG/net10.0/dpq-worker"
TRAINER_BIN="$REPO_ROOT/gpu-worker/Dpq.Trainer/bin/$CONFIG/net10.0/dpq-trainer"

pid_of() { # prints the pid of a running stack process $1, fails if it is not running
  local f="$RUN_DIR/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

launch() { # launch NAME BINARY: starts it detached with the stack's environment
  local name=$1 bin=$2
  rm -f "$RUN_DIR/$name.pid"
  [ -x "$bin" ] || die "$bin is missing: run ./dpq setup && dotnet build -c Release"
  local cs; cs=$("$REPO_ROOT/scripts/azurite.sh" connection-string)
  ( cd "$(dirname "$bin")" && \
    DpqStorage="$cs" AzureWebJobsStorage="$cs" urls="$URL" \
    Models__CacheDirectory="$BUILD_DIR/model-cache" Models__RefreshInterval="00:00:02" \
    Lifecycle__WorkDirectory="$BUILD_DIR/retrain" Retraining__FeatureCache="$BUILD_DIR/feature-cache" \
    Logging__Console__FormatterName=simple \
    DPQ_PID_FILE="$RUN_DIR/$name.pid" setsid bash -c 'echo $$ >"$DPQ_PID_FILE"; exec "$0"' "$bin" \
      >"$RUN_DIR/$name.log" 2>&1 </dev/null & ) >/dev/null 2>&1 </dev/null
  # (The subshell's own streams go nowhere too: the shell it forks for the list waits for the process, and
  # must not hold the caller's stdout open, or `./dpq import DIR | tee log` would never end.)
  # setsid forks when its caller leads a process group, so the child writes its own pid.
  for _ in $(seq 1 50); do [ -s "$RUN_DIR/$name.pid" ] && return 0; sleep 0.1; done
  die "$name did not start"
}

stop_one() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; say "$name did not stop within 10 s: killed"; }
  rm -f "$RUN_DIR/$name.pid"
}

publish_localhost() { # incremental: only what changed since the last start is compiled again
  dotnet publish "$REPO_ROOT/functions/Dpq.LocalHost/Dpq.LocalHost.csproj" -c "$CONFIG" --no-build \
    -o "$LOCALHOST_PUBLISH" --nologo -v quiet -clp:ErrorsOnly >/dev/null \
    || die "could not publish the local functions host (run ./dpq setup, then build with -c $CONFIG)"
}

start() {
  mkdir -p "$RUN_DIR"
  "$REPO_ROOT/scripts/azurite.sh" start
  if ! pid_of functions >/dev/null; then
    publish_localhost
    local owner; owner=$(ss -Hltnp "sport = :$HTTP_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 || true)
    [ -z "$owner" ] || die "port $HTTP_PORT on 127.0.0.1 is taken by another process ($owner); choose another with DPQ_HTTP_PORT"
    launch functions "$LOCALHOST_BIN"
  fi
  pid_of worker >/dev/null || launch worker "$WORKER_BIN"
  pid_of trainer >/dev/null || launch trainer "$TRAINER_BIN"
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null --max-time 2 "$URL/api/index"; then
      say "local stack up: functions host (pid $(pid_of functions)), worker (pid $(pid_of worker)), trainer (pid $(pid_of trainer)); logs in .build/run/"
      say "search page: $URL/api/search   query URL: $URL/api/query   index status: $URL/api/index"
      return 0
    fi
    pid_of functions >/dev/null || { tail -n 30 "$RUN_DIR/functions.log" >&2; die "the functions host exited during start (log above)"; }
    pid_of worker >/dev/null || { tail -n 30 "$RUN_DIR/worker.log" >&2; die "the worker exited during start (log above)"; }
    pid_of trainer >/dev/null || { tail -n 30 "$RUN_DIR/trainer.log" >&2; die "the trainer exited during start (log above)"; }
    sleep 0.2
  done
  die "the functions host did not answer on $URL within 60 s (log: .build/run/functions.log)"
}

stop() {
  stop_one trainer
  stop_one worker
  stop_one functions
  "$REPO_ROOT/scripts/azurite.sh" stop
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  host-binary) publish_localhost; echo "$LOCALHOST_BIN" ;;
  status)
    for n in functions worker trainer; do
      if p=$(pid_of $n); then echo "$n: running (pid $p)"; else echo "$n: stopped"; fi
    done
    "$REPO_ROOT/scripts/azurite.sh" status || true ;;
  *) die "usage: stack.sh start|stop|status|url|host-binary" ;;
esac
