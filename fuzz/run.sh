#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build every fuzz/fuzz-*.c as a libFuzzer binary (clang, ASan+UBSan)
# against the library sources and run each for SECONDS (default 60).
#   fuzz/run.sh BUILDDIR [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: fuzz/run.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-60}
out="$build/fuzz"
mkdir -p "$out"
command -v clang >/dev/null || { echo "fuzz: clang missing: install the Debian packages clang and libclang-rt-14-dev" >&2; exit 1; }
status=0
for src in "$top"/fuzz/fuzz-*.c; do
  name=$(basename "$src" .c)
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DTHREADED -DZKR_BUILDING=1 \
    -I"$top/include" -I"$build/include" "$src" "$top"/recipes/*.c \
    -lzookeeper_mt -ljansson -lpthread -o "$out/$name"
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  [ -d "$top/fuzz/seeds/$name" ] && cp "$top/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$out/$name" -max_total_time="$secs" -print_final_stats=1 "$corpus" > "$out/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see $out/$name.log"; tail -30 "$out/$name.log"; status=1
  else
    grep -E "stat::number_of_executed_units" "$out/$name.log" || true
  fi
done
exit $status
