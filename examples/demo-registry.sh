#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Service registry demo: a throw-away ZooKeeper server, two C providers
# registered the way Dubbo providers are, and a consumer calling them with
# least-active balancing from three threads. Provider "alpha" is killed
# (SIGKILL) mid-run: the consumer's calls to it fail and move on to
# "beta", and the consumer's cache drops alpha once alpha's session (2 s)
# times out. Everything is
# stopped at the end.
#
#   examples/demo-registry.sh [BUILDDIR]    (default: the current directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
server="$here/../server/zkr-server"
for b in dubbo-provider dubbo-consumer; do
  [ -x "$build/examples/$b" ] || { echo "demo: $build/examples/$b not built (run make first)" >&2; exit 2; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/zkr-demo-registry-XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  "$server" stop --clean --dir "$dir" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hosts=$("$server" start --no-fsync --dir "$dir" --owner-pid $$) || {
  echo "demo: cannot start ZooKeeper (Debian packages zookeeper, default-jre-headless)" >&2; exit 1; }
export ZKR_HOSTS="$hosts"
echo "demo: ZooKeeper at $hosts"

# exec in a subshell: $! is the program itself, so kill reaches it
(exec "$build/examples/dubbo-provider" -n alpha -w 100 -d 30 -t 2000) & alpha=$!
pids="$pids $alpha"
(exec "$build/examples/dubbo-provider" -n beta -w 100 -d 30 -t 2000) & beta=$!
pids="$pids $beta"
sleep 1

(exec "$build/examples/dubbo-consumer" -n 90 -c 3 -i 100) & consumer=$!
pids="$pids $consumer"
sleep 1.5
echo "demo: killing provider alpha (pid $alpha) with SIGKILL"
kill -9 "$alpha"
wait "$consumer"
rc=$?
echo "demo: the consumer exited with status $rc"
kill "$beta"
wait "$beta" 2>/dev/null
exit $rc
