#!/usr/bin/env bash
# ./dpq demo runs this (its options: ./dpq demo --help): the main job, run locally.
#  1. a trained model: the default one is trained once into .build/models/default (progress shown);
#  2. the local stack: Azurite, the functions host (blob trigger + HTTP query) and the encode worker;
#  3. Fashion-MNIST images stored as PNG blobs with their class as metadata and indexed: U (20)
#     uploads through the blob trigger (upload -> trigger -> queue -> worker -> table + manifest)
#     and N (3000) through a bulk import (upload to the imports container + batched queue messages);
#  4. sample queries through the HTTP function: precision@10 and latency at every code length.
# The stack is stopped at the end unless --keep is given (then: ./dpq down).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

model_dir="$BUILD_DIR/models/default"
keep=0
retrain=0
demo_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --retrain) retrain=1 ;;
    --count|--uploads|--queries|--seed) [ $# -ge 2 ] || die "$1 needs a value"; demo_args+=("$1" "$2"); shift ;;
    *) die "unexpected option '$1' (./dpq demo --help lists them)" ;;
  esac
  shift
done
# Only once every option is known good: a typo must not cost the trained model.
if [ $retrain -eq 1 ]; then rm -rf "$model_dir"; fi

cli="$CLI"
if [ -f "$model_dir/model.json" ]; then
  say "using the trained model in .build/models/default (./dpq demo --retrain trains anew)"
  ensure_current_model "$model_dir"
else
  say "training the default DPQ model on the 60,000 Fashion-MNIST training images (about 10 minutes here)"
  "$cli" train --dataset fashion-mnist --out "$model_dir"
fi

if [ $keep -eq 0 ]; then trap '"$REPO_ROOT/scripts/stack.sh" stop' EXIT; fi
"$REPO_ROOT/scripts/stack.sh" start
DpqStorage="$("$REPO_ROOT/scripts/azurite.sh" connection-string)" \
  "$cli" demo-run --model "$model_dir" --url "$("$REPO_ROOT/scripts/stack.sh" url)" "${demo_args[@]}"
if [ $keep -eq 1 ]; then
  say "the stack keeps running: search page $("$REPO_ROOT/scripts/stack.sh" url)/api/search, query URL $("$REPO_ROOT/scripts/stack.sh" url)/api/query; stop it with ./dpq down"
fi
