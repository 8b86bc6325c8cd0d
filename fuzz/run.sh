#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build every fuzz/fuzz-*.c as a libFuzzer binary (clang, ASan+UBSan)
# against the library sources and run each for SECONDS (default 60).
#   fuzz/run.sh BUILDDIR [SECONDS [TARGET...]]
# TARGETs (e.g. fuzz-names) limit the run to those targets.
#
# Every target links the library sources, examples/cli.c and the
# fuzz/reach-*.c files. A reach file includes one library or tool source
# to make its static parsers callable (fuzz/reach.h); a recipes/X.c that a
# reach file includes is left out, as the reach file holds it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: fuzz/run.sh BUILDDIR [SECONDS [TARGET...]]}" && pwd)
secs=${2:-60}
[ $# -ge 2 ] && shift 2 || shift $#
only="$*"
out="$build/fuzz"
mkdir -p "$out/obj"
command -v clang >/dev/null || { echo "fuzz: clang missing: install the Debian packages clang and libclang-rt-14-dev" >&2; exit 1; }

cc() {
  clang -g -O1 -fno-sanitize-recover=all \
    -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DTHREADED -DZKR_BUILDING=1 \
    -I"$top/include" -I"$build/include" "$@"
}

# the objects every target links, built once
replaced=$(sed -n 's|^#include "\.\./recipes/\([A-Za-z0-9_]*\.c\)".*|\1|p' \
  "$top"/fuzz/reach-*.c)
objs=$out/obj/list
: > "$objs"
for src in "$top"/recipes/*.c "$top"/examples/cli.c "$top"/fuzz/reach-*.c; do
  base=$(basename "$src" .c)
  dir=$(basename "$(dirname "$src")")
  if [ "$dir" = recipes ] && printf '%s\n' $replaced | grep -qx "$base.c"; then
    continue
  fi
  obj="$out/obj/$dir-$base.o"
  cc -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj"
  printf '%s\n' "$obj" >> "$objs"
done

status=0
for src in "$top"/fuzz/fuzz-*.c; do
  name=$(basename "$src" .c)
  if [ -n "$only" ]; then
    case " $only " in *" $name "*) ;; *) continue ;; esac
  fi
  # shellcheck disable=SC2046 # object paths are one a line
  (IFS='
'; cc -fsanitize=fuzzer,address,undefined "$src" $(cat "$objs") \
    -lzookeeper_mt -ljansson -lpthread -o "$out/$name")
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  [ -d "$top/fuzz/seeds/$name" ] && cp "$top/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$out/$name" -max_total_time="$secs" -print_final_stats=1 \
       -artifact_prefix="$out/$name-" "$corpus" > "$out/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see $out/$name.log"; tail -30 "$out/$name.log"; status=1
  else
    grep -E "stat::number_of_executed_units" "$out/$name.log" || true
  fi
done
exit $status
