#!/usr/bin/env bash
# Shared paths and helpers for the dpq scripts.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$REPO_ROOT/.build"
# The build ./dpq makes and every script runs.
CONFIG=Release
CLI="$REPO_ROOT/core/Dpq.Cli/bin/$CONFIG/net10.0/dpq-cli"
say() { printf '\033[1m[dpq]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[dpq] error:\033[0m %s\n' "$*" >&2; exit 1; }
