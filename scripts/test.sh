#!/usr/bin/env bash
# test.sh [--fast]: runs every test project of a built tree (./dpq test builds first) and prints, as its
# last line, the totals over every project: "N passed, N failed, N skipped".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_tests() {
  local fast=0
  for a in "$@"; do
    case "$a" in
      --fast) fast=1 ;;
      *) die "unexpected option '$a'" ;;
    esac
  done
  local projects=()
  while IFS= read -r p; do
    if [ $fast -eq 1 ] && [[ "$p" == *Integration* ]]; then continue; fi
    projects+=("$p")
  done < <(find "$REPO_ROOT/tests" -name '*.Tests.csproj' | sort)

  if [ $fast -eq 0 ]; then
    "$REPO_ROOT/scripts/deps.sh" --browser
    "$REPO_ROOT/scripts/azurite.sh" start
    trap '"$REPO_ROOT/scripts/azurite.sh" stop' EXIT
    DPQ_STORAGE_CONNECTION="$("$REPO_ROOT/scripts/azurite.sh" connection-string)"
    export DPQ_STORAGE_CONNECTION
  fi

  local results="$BUILD_DIR/test-results"
  rm -rf "$results" && mkdir -p "$results"
  local passed=0 failed=0 skipped=0
  for p in "${projects[@]}"; do
    local name; name=$(basename "$p" .csproj)
    say "testing $name"
    local rc=0
    dotnet test "$p" -c "$CONFIG" --no-build --nologo --logger "trx;LogFileName=$name.trx" \
      --logger "console;verbosity=normal" --results-directory "$results" || rc=$?
    local trx="$results/$name.trx"
    local p_ok=0 p_bad=0 p_skip=0
    if [ -f "$trx" ]; then
      local counters; counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
      p_ok=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
      p_bad=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
      p_skip=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
    fi
    # A test host that crashed or a project that ran nothing counts as a failure, never as a pass.
    if [ "$rc" -ne 0 ] && [ "${p_bad:-0}" -eq 0 ]; then p_bad=1; say "$name: test run failed (exit $rc) without a failed test: counted as 1 failure"; fi
    passed=$((passed + ${p_ok:-0})); failed=$((failed + ${p_bad:-0})); skipped=$((skipped + ${p_skip:-0}))
  done
  if [ $fast -eq 0 ]; then "$REPO_ROOT/scripts/azurite.sh" stop; trap - EXIT; fi
  # CI reads this line: it must be the last one printed.
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

run_tests "$@"
