#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkr-config(1): push with compare-and-swap, get, and watchers that keep
# files up to date (atomic replacement, reload hooks, bursts, a server
# restart), exit codes.
. "$(dirname "$0")/tap.sh"
bin="$ZKR_TOP_BUILDDIR/examples/zkr-config"
zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-config-XXXXXX")
zk_dirs="$zk_dirs $work"
# On an early exit, stop what this test started (only by PID).
trap 'for p in $w1 $w2 $target; do kill -9 "$p" 2>/dev/null; done; zk_cleanup' EXIT

# usage errors
"$bin" >/dev/null 2>&1; is $? 2 "no arguments: exit 2"
"$bin" frob /x >/dev/null 2>&1; is $? 2 "unknown command: exit 2"
"$bin" push /x 2>/dev/null; is $? 2 "push without FILE: exit 2"
"$bin" push --force -e 1 /x "$work/none" 2>/dev/null; is $? 2 "--force with --expect-version: exit 2"
"$bin" push -e abc /x "$work/none" 2>/dev/null; is $? 2 "bad --expect-version: exit 2"
"$bin" watch /x 2>/dev/null; is $? 2 "watch without --out: exit 2"
"$bin" watch /x --out "$work/o" --signal nopid 2>/dev/null; is $? 2 "bad --signal: exit 2"
"$bin" watch /x --out "$work/o" --signal "$work/p:BOGUS" 2>/dev/null; is $? 2 "unknown signal name: exit 2"
"$bin" get x 2>/dev/null; is $? 2 "relative path: exit 2"
"$bin" --help | grep -q "Exit status"; ok $? "--help documents the exit codes"
"$bin" get -s 127.0.0.1:1 -t 1000 /x 2>/dev/null; is $? 3 "unreachable server: exit 3"

# push and get
printf 'alpha=1\n' > "$work/v1"
out=$("$bin" push /app/conf "$work/v1"); is $? 0 "push creates the node"
is "$out" "/app/conf version 0" "and prints its version"
is "$("$bin" get /app/conf)" "alpha=1" "get prints the data"
printf 'alpha=2\n' > "$work/v2"
out=$("$bin" push /app/conf "$work/v2"); is "$out" "/app/conf version 1" "a second push (compare-and-swap on the version read)"
"$bin" push -e 0 /app/conf "$work/v1" 2>"$work/err"; is $? 4 "push based on a stale version: exit 4"
grep -q "conflict: /app/conf is at version 1, not 0" "$work/err"; ok $? "the conflict is explained ($(cat "$work/err"))"
is "$("$bin" get /app/conf)" "alpha=2" "nothing was written"
out=$("$bin" push -e 1 /app/conf "$work/v1"); is "$out" "/app/conf version 2" "push based on the current version"
out=$(printf 'from-stdin' | "$bin" push --force /app/conf -); is "$out" "/app/conf version 3" "--force from standard input"
is "$("$bin" get /app/conf)" "from-stdin" "stdin data stored"
"$bin" get -V /app/conf 2>&1 >/dev/null | grep -q "version 3"; ok $? "get -V prints the version"
"$bin" push -e 0 /app/missing "$work/v1" 2>/dev/null; is $? 4 "a version expected on a missing node: exit 4"
"$bin" get /app/missing 2>/dev/null; is $? 1 "get of a missing node: exit 1"
"$bin" push /app/conf "$work/does-not-exist" 2>/dev/null; is $? 1 "unreadable FILE: exit 1"

# watch --once
"$bin" watch -q --once /app/conf --out "$work/once"; is $? 0 "watch --once"
is "$(cat "$work/once")" "from-stdin" "wrote the current value"
"$bin" watch -q --once /app/missing --out "$work/once2"; is $? 1 "watch --once of a missing node: exit 1"
[ ! -e "$work/once2" ]; ok $? "and wrote nothing"

# two watchers with reload hooks
export HOOKLOG="$work/hooks"
(exec sh -c 'trap "echo hup >> \"$0\"" USR1; while :; do sleep 0.1; done' "$work/sigs") &
target=$!
echo $target > "$work/pidfile"
(exec "$bin" watch /app/conf --out "$work/w1" --exec 'echo "$ZKR_CONFIG_VERSION $ZKR_CONFIG_PATH" >> "$HOOKLOG"' 2>"$work/w1.err") &
w1=$!
(exec "$bin" watch /app/conf --out "$work/w2" --signal "$work/pidfile:USR1" 2>"$work/w2.err") &
w2=$!
wait_eq() { # file content
  n=0
  while [ $n -lt 200 ]; do [ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0; sleep 0.1; n=$((n + 1)); done
  return 1
}
wait_eq "$work/w1" "from-stdin"; ok $? "watcher 1 wrote the current value"
wait_eq "$work/w2" "from-stdin"; ok $? "watcher 2 too"
ino1=$(stat -c %i "$work/w1")
printf 'beta=1\n' | "$bin" push /app/conf - >/dev/null
wait_eq "$work/w1" "beta=1"; ok $? "a push lands in watcher 1's file"
ino2=$(stat -c %i "$work/w1")
# a temporary file created beside the old one and renamed over it has
# another inode; a rewrite in place would keep it
[ -n "$ino1" ] && [ "$ino1" != "$ino2" ]; ok $? "written atomically: a new file renamed over the old one (inode $ino1 -> $ino2)"
wait_eq "$work/w2" "beta=1"; ok $? "and in watcher 2's"
sleep 0.3
grep -q "^4 /app/conf$" "$HOOKLOG"; ok $? "--exec ran with ZKR_CONFIG_VERSION and ZKR_CONFIG_PATH"
[ "$(grep -c hup "$work/sigs")" -ge 2 ]; ok $? "--signal sent SIGUSR1 after each write"

i=1
while [ $i -le 30 ]; do printf 'burst=%d\n' $i | "$bin" push --force /app/conf - >/dev/null; i=$((i + 1)); done
wait_eq "$work/w1" "burst=30"; ok $? "after a burst of 30 pushes watcher 1 has the last"
wait_eq "$work/w2" "burst=30"; ok $? "and watcher 2"

"$ZKR_SERVER" kill 1 --dir "$zk_dir" >/dev/null 2>&1
sleep 1
"$ZKR_SERVER" restart 1 --dir "$zk_dir" >/dev/null 2>&1
printf 'after-restart\n' | "$bin" push --force /app/conf - >/dev/null
is $? 0 "push after a server restart"
wait_eq "$work/w1" "after-restart"; ok $? "watcher 1 rode through the restart"
wait_eq "$work/w2" "after-restart"; ok $? "watcher 2 too"
ls "$work" | grep -q '\.tmp\.'; is $? 1 "no temporary files left behind"

kill -TERM $w1 $w2; wait $w1; s1=$?; wait $w2; s2=$?
is "$s1$s2" 00 "watchers exit 0 on SIGTERM"
kill $target; wait $target 2>/dev/null
done_testing
