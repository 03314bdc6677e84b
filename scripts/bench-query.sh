#!/usr/bin/env bash
# ./dpq bench query runs this (its options: ./dpq bench query --help): HTTP query latency
# of the local stack with N items indexed. Publishes the model (default: .build/models/default,
# trained by ./dpq demo or ./dpq train), starts the stack, fills the index with synthetic images up to
# N (rows and segment files, as the worker writes them), compacts them, times a cold index load and
# test-image queries at every code length. Filling is idempotent across runs while the
# stack's Azurite data is kept (--keep), so 100k then 1M adds only the difference.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

model_dir="$BUILD_DIR/models/default"
keep=0
own_model=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --model) [ $# -ge 2 ] || die "--model needs a value"; model_dir="$2"; own_model=1; shift ;;
    --n|--queries|--json|--seed|--shards|--throughput-queries) [ $# -ge 2 ] || die "$1 needs a value"; args+=("$1" "$2"); shift ;;
    *) die "unexpected option '$1' (./dpq bench query --help lists them)" ;;
  esac
  shift
done
[ -f "$model_dir/model.json" ] || die "no model in $model_dir: run ./dpq train --dataset fashion-mnist --out $model_dir (or ./dpq demo) first"

# The default model is the project's own: it gets its ONNX file added if it predates it. A model
# named with --model is the caller's, and publish says how to add the file instead.
[ $own_model -eq 1 ] || ensure_current_model "$model_dir"
cli="$CLI"
if [ $keep -eq 0 ]; then trap '"$REPO_ROOT/scripts/stack.sh" stop' EXIT; fi
"$REPO_ROOT/scripts/stack.sh" start
cs="$("$REPO_ROOT/scripts/azurite.sh" connection-string)"
DpqStorage="$cs" "$cli" publish --model "$model_dir"
DpqStorage="$cs" "$cli" bench-query-run --url "$("$REPO_ROOT/scripts/stack.sh" url)" \
  --host "$("$REPO_ROOT/scripts/stack.sh" host-binary)" "${args[@]}"
