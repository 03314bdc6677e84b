#!/usr/bin/env bash
# Shared paths and helpers for the dpq scripts.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$REPO_ROOT/.build"
# The build ./dpq makes and every script runs.
CONFIG=Release
CLI="$REPO_ROOT/core/Dpq.Cli/bin/$CONFIG/net10.0/dpq"
say() { printf '\033[1m[dpq]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[dpq] error:\033[0m %s\n' "$*" >&2; exit 1; }

# A model folder trained before training exported its ONNX feature network, or before it wrote the
# copy codes, gets them added once (the version does not change).
ensure_current_model() {
  local dir="$1"
  if [ -f "$dir/model.json" ] && ! grep -q '"format": "dpq-model/2"' "$dir/model.json"; then
    say "adding the ONNX feature network to $dir (trained before training exported it)"
    "$CLI" export-onnx --model "$dir"
  fi
  if [ -f "$dir/model.json" ] && ! grep -q '"copies": {' "$dir/model.json"; then
    say "adding the copy codes to $dir (trained before training wrote them)"
    "$CLI" copy-codes --model "$dir"
  fi
}
