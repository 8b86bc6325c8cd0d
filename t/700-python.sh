#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Python binding (bindings/python/test_zkr.py, unittest printing TAP)
# against a private server, importing the module from the build tree; the
# C command-line tools from the build tree share locks, queues, configs and
# registrations with it.
. "$(dirname "$0")/tap.sh"
srcdir=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$ZKR_TOP_BUILDDIR" && pwd)
python=${ZKR_PYTHON:-/usr/bin/python3}
module="$build/bindings/python/.libs/zkr.so"
[ -f "$module" ] || { echo "Bail out! $module not built"; exit 1; }

zk_start 1
ZKR_HOSTS="$zk_hosts"
ZKR_LOCK_CLI="$build/examples/zkr-lock"
ZKR_QUEUE_CLI="$build/examples/zkr-queue"
ZKR_REGISTRY_CLI="$build/examples/zkr-registry"
ZKR_CONFIG_CLI="$build/examples/zkr-config"
PYTHONPATH="$build/bindings/python/.libs${PYTHONPATH:+:$PYTHONPATH}"
export ZKR_HOSTS ZKR_LOCK_CLI ZKR_QUEUE_CLI ZKR_REGISTRY_CLI ZKR_CONFIG_CLI \
    PYTHONPATH

# A sanitizer build's module needs the ASan runtime loaded first; Python
# itself is not instrumented and keeps memory at exit, so leaks are not
# checked here (the C tests cover the library). The server is
# started before, without it.
if readelf -d "$module" "$build/.libs/libzkr.so" 2>/dev/null |
   grep -q libasan; then
  asan=$(${CC:-gcc} -print-file-name=libasan.so)
  LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
  ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export LD_PRELOAD ASAN_OPTIONS
  diag "sanitizer build: preloading $asan"
fi
"$python" -X dev "$srcdir/bindings/python/test_zkr.py" "$@"
