# SPDX-License-Identifier: Apache-2.0
# TAP helpers and a private server for shell tests. Source it.
tap_n=0
tap_failed=0
ok() { # cond-status description
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else
    echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
is() { # got want description
  tap_n=$((tap_n + 1))
  if [ "$1" = "$2" ]; then echo "ok $tap_n - $3"; else
    echo "not ok $tap_n - $3"; echo "#   got: '$1'"; echo "#   expected: '$2'"
    tap_failed=$((tap_failed + 1)); fi
}
diag() { echo "# $*"; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }

: "${ZKR_SERVER:=$(dirname "$0")/../server/zkr-server}"
: "${ZKR_TOP_BUILDDIR:=.}"
zk_dirs=""
bg="" # PIDs of background programs: add with bg="$bg $!"; killed at exit
bg_wait() { # PID...: wait for them and forget them; status of the last
  for p; do bg=$(echo " $bg " | sed "s/ $p / /g"); done
  wait "$@"
}
zk_cleanup() {
  for p in $bg; do kill "$p" 2>/dev/null; done
  for d in $zk_dirs; do "$ZKR_SERVER" stop --clean --dir "$d" >/dev/null 2>&1; rm -rf "$d"; done
}
trap zk_cleanup EXIT
trap 'exit 130' INT TERM
zk_start() { # [members [extra start options]] -> sets zk_hosts, zk_dir
  zk_members=${1:-1}
  [ $# -gt 0 ] && shift
  zk_dir=$(mktemp -d "${TMPDIR:-/tmp}/zkr-sh-XXXXXX")
  zk_dirs="$zk_dirs $zk_dir"
  if ! zk_hosts=$("$ZKR_SERVER" start --no-fsync --dir "$zk_dir" --ensemble "$zk_members" --owner-pid $$ "$@" 2>"$zk_dir.err"); then
    sed 's/^/# /' "$zk_dir.err"
    echo "Bail out! cannot start ZooKeeper: install the Debian packages zookeeper and default-jre-headless"
    exit 1
  fi
  rm -f "$zk_dir.err"
}
