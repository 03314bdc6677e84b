#!/usr/bin/env bash
# torchsharp-compat.sh DIR...: makes every libLibTorchSharp.so below DIR loadable on a machine
# whose libstdc++ predates GLIBCXX_3.4.32 (GCC 13), such as Debian 12. TorchSharp 0.107 needs that
# version for one symbol, std::ios_base_library_init(). The fix, per library:
#   1. clear that symbol's version, so it binds to any definition;
#   2. mark the GLIBCXX_3.4.32 version need weak, so the loader does not refuse the file;
#   3. add libdpq_glibcxx_compat.so, which defines the symbol, as a needed library next to it
#      (the library's RUNPATH already holds $ORIGIN).
# Does nothing where the system libstdc++ has the version; idempotent otherwise.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

readonly SYMBOL=_ZSt21ios_base_library_initv
readonly VERSION=GLIBCXX_3.4.32
readonly SHIM=libdpq_glibcxx_compat.so

system_libstdcxx() {
  ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }'
}

lib=$(system_libstdcxx)
if [ -n "$lib" ] && grep -qa "$VERSION" "$lib"; then
  exit 0 # this libstdc++ is new enough: nothing to do
fi
command -v patchelf >/dev/null || die "patchelf is missing: run ./dpq setup (or apt-get install patchelf)"

tools="$BUILD_DIR/compat"
src="$REPO_ROOT/build/compat"
mkdir -p "$tools"
if [ ! -f "$tools/$SHIM" ] || [ "$src/glibcxx_compat.c" -nt "$tools/$SHIM" ]; then
  gcc -shared -fPIC -O2 -o "$tools/$SHIM.tmp" "$src/glibcxx_compat.c" && mv "$tools/$SHIM.tmp" "$tools/$SHIM"
fi
if [ ! -x "$tools/elf_weak_verneed" ] || [ "$src/elf_weak_verneed.c" -nt "$tools/elf_weak_verneed" ]; then
  gcc -O2 -Wall -o "$tools/elf_weak_verneed.tmp" "$src/elf_weak_verneed.c" && mv "$tools/elf_weak_verneed.tmp" "$tools/elf_weak_verneed"
fi

for dir in "$@"; do
  [ -d "$dir" ] || continue
  while IFS= read -r so; do
    here=$(dirname "$so")
    cmp -s "$tools/$SHIM" "$here/$SHIM" || cp "$tools/$SHIM" "$here/$SHIM"
    if patchelf --print-needed "$so" | grep -qx "$SHIM"; then
      continue # already patched
    fi
    # Patch a copy and move it into place, so an interrupted run never leaves a half-patched file.
    tmp="$so.dpq-tmp"
    cp "$so" "$tmp"
    patchelf --clear-symbol-version "$SYMBOL" "$tmp"
    "$tools/elf_weak_verneed" "$tmp" "$VERSION" || [ $? -eq 2 ]
    patchelf --add-needed "$SHIM" "$tmp"
    mv "$tmp" "$so"
    say "patched $(realpath --relative-to="$REPO_ROOT" "$so" 2>/dev/null || echo "$so") for $VERSION"
  done < <(find "$dir" -name libLibTorchSharp.so -type f)
done
