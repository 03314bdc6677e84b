#!/usr/bin/env bash
# ./dpq demo: the main job, run locally. Today: train the default DPQ model on Fashion-MNIST (once;
# reused afterwards) and evaluate it at every code length, with plots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

model_dir="$BUILD_DIR/models/default"
out_dir="$BUILD_DIR/demo"
for a in "$@"; do
  case "$a" in
    --retrain) rm -rf "$model_dir" ;;
    *) die "unknown demo option '$a' (try: ./dpq demo [--retrain])" ;;
  esac
done

if [ -f "$model_dir/model.json" ]; then
  say "using the trained model in .build/models/default (./dpq demo --retrain to train anew)"
else
  say "training the default DPQ model on the 60,000 Fashion-MNIST training images"
  "$REPO_ROOT/dpq" train --dataset fashion-mnist --out "$model_dir"
fi
mkdir -p "$out_dir"
say "evaluating: 10,000 test queries against the 60,000 training images stored as codes"
"$REPO_ROOT/dpq" eval --model "$model_dir" --json "$out_dir/eval.json"
say "done: results in .build/demo/eval.json, plots in .build/demo/*.png"
