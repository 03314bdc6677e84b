#!/usr/bin/env bash
# Installs what the project needs, once: Debian packages that are missing, Azurite from the
# lock file, and the NuGet packages of the solution. Safe to run again; does nothing when done.
# deps.sh --browser: only Chromium, for the browser tests (they skip, saying why, where it cannot be installed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

debian_packages=(dataset-fashion-mnist patchelf fonts-dejavu-core)

ensure_debian_packages() {
  local missing=()
  for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_azurite() {
  local stamp="$BUILD_DIR/npm.stamp"
  if [ -x "$REPO_ROOT/node_modules/.bin/azurite" ] && [ "$stamp" -nt "$REPO_ROOT/package-lock.json" ]; then
    return 0
  fi
  say "installing Azurite from package-lock.json (npm ci)"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  mkdir -p "$BUILD_DIR" && touch "$stamp"
}

ensure_dotnet_restore() {
  local stamp="$BUILD_DIR/restore.stamp"
  local newest=""
  [ -f "$stamp" ] && newest=$(find "$REPO_ROOT" -path "$REPO_ROOT/node_modules" -prune -o -path "$BUILD_DIR" -prune -o \
    \( -name '*.csproj' -o -name 'Directory.*.props' -o -name 'Directory.*.targets' -o -name '*.sln' \) \
    -newer "$stamp" -print | head -n 1)
  if [ -f "$stamp" ] && [ -z "$newest" ]; then return 0; fi
  say "restoring NuGet packages (first run downloads libtorch, ~1 GB)"
  dotnet restore "$REPO_ROOT/DpqServerless.sln" --verbosity quiet
  mkdir -p "$BUILD_DIR" && touch "$stamp"
}

if [ "${1:-}" = --browser ]; then
  debian_packages=(chromium)
  ensure_debian_packages || say "Chromium could not be installed: the browser tests will be skipped"
  exit 0
fi
ensure_debian_packages
ensure_azurite
ensure_dotnet_restore
