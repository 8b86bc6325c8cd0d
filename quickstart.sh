#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install what zkr needs (Debian 12), build it, start a local ZooKeeper on a
# free loopback port and run the demo against it. The server is stopped at
# the end.
set -eu
cd "$(dirname "$0")"
pkgs="build-essential autoconf automake libtool pkg-config libzookeeper-mt-dev
  uthash-dev libjansson-dev python3-dev help2man zookeeper default-jre-headless default-jdk-headless
  libcurator-recipes-java libcurator-framework-java libcurator-discovery-java libslf4j-java
  python3-kazoo netcat-openbsd stunnel4 openssl valgrind cppcheck gnuplot-nox"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
[ -x configure ] || ./autogen.sh
mkdir -p build
[ -f build/Makefile ] || (cd build && ../configure)
make -C build -j"$(nproc)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/zkr-demo-XXXXXX")
trap 'server/zkr-server stop --clean --dir "$dir" >/dev/null 2>&1 || true; rmdir "$dir" 2>/dev/null || true' EXIT INT TERM
hosts=$(server/zkr-server start --dir "$dir" --owner-pid $$)
echo "ZooKeeper serving at $hosts"
ZKR_SERVER_DIR=$dir ZKR_SERVER=server/zkr-server build/examples/demo "$hosts"
echo
examples/demo-election.sh build
echo
examples/demo-registry.sh build
