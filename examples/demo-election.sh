#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# demo-election.sh [BUILDDIR]
#
# A short tour of zkr-elect and zkr-config on a throw-away ZooKeeper started
# with server/zkr-server: three replicas of a tiny command elect a leader,
# the leader is killed and another takes over (after the session timeout),
# the next one resigns cleanly (one round trip), then a configuration push
# lands in two watchers' files. BUILDDIR (default: $ZKR_BUILDDIR, then .)
# holds examples/zkr-elect and examples/zkr-config. Everything it starts is
# stopped and its temporary directory removed on exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${ZKR_BUILDDIR:-.}}
elect=$build/examples/zkr-elect
config=$build/examples/zkr-config
server=${ZKR_SERVER:-$top/server/zkr-server}
for b in "$elect" "$config"; do
  [ -x "$b" ] || { echo "demo-election: $b not found: build first, or give the build directory" >&2; exit 2; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/zkr-demo-election-XXXXXX")
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  "$server" stop --clean --dir "$dir/zk" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
dead=""
leader_of() { # prints the live replica whose command runs now
  for r in r1 r2 r3; do
    case " $dead " in *" $r "*) continue ;; esac
    [ "$(grep -c "^\[$r\] leading" "$dir/$r.log")" -gt "$(grep -c "^\[$r\] stopping" "$dir/$r.log")" ] && echo $r
  done
}
wait_leader_not() { # old -> new leader's name
  n=0
  while [ $n -lt 400 ]; do
    l=$(leader_of | grep -v "^$1\$" | head -n 1)
    [ -n "$l" ] && { echo "$l"; return 0; }
    sleep 0.02; n=$((n + 1))
  done
  return 1
}

hosts=$("$server" start --dir "$dir/zk" --owner-pid $$) || exit 1
export ZKR_HOSTS="$hosts"
echo "== ZooKeeper serving at $hosts"

echo "== three replicas: zkr-elect -t 2000 --id rN /demo/leader -- <tiny command>"
cmd='echo "[$ZKR_LEADER_ID] leading, fencing token $ZKR_LEADER_TOKEN"; trap "echo \"[$ZKR_LEADER_ID] stopping\"; exit 0" TERM; while :; do sleep 0.2; done'
for r in r1 r2 r3; do
  (exec "$elect" -t 2000 -g 0.5 --id $r /demo/leader -- sh -c "$cmd" >"$dir/$r.log" 2>&1) &
  eval "pid_$r=$!"
  pids="$pids $!"
  sleep 0.3
done
n=0; while [ -z "$(leader_of)" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
sleep 1.2
old=$(leader_of)
echo "   leader: $old"
grep -h 'standby' "$dir"/r?.log | sed 's/^/   /'

echo "== kill -9 the leader ($old); the others wait for its session to expire"
eval "victim=\$pid_$old"
t0=$(now_ms)
kill -9 "$victim"
dead="$old"
new=$(wait_leader_not "$old") || { echo "no takeover"; exit 1; }
t1=$(now_ms)
echo "   $new took over after $((t1 - t0)) ms (session timeout 2000 ms)"
grep -h 'leading' "$dir/$new.log" | sed 's/^/   /'

echo "== SIGTERM the leader ($new): it stops its command and resigns"
eval "victim=\$pid_$new"
t0=$(now_ms)
kill -TERM "$victim"
dead="$dead $new"
third=$(wait_leader_not "$new") || { echo "no takeover"; exit 1; }
t1=$(now_ms)
echo "   $third took over after $((t1 - t0)) ms (includes stopping the command)"
grep -h 'stopping' "$dir/$new.log" | sed 's/^/   /'

echo "== two zkr-config watchers keep files up to date; push a new config"
for w in w1 w2; do
  (exec "$config" watch -q /demo/config --out "$dir/$w.conf" --exec "echo \"   [$w] reload: version \$ZKR_CONFIG_VERSION\"") &
  pids="$pids $!"
done
printf 'threads=4\nmode=fast\n' > "$dir/new.conf"
t0=$(now_ms)
"$config" push /demo/config "$dir/new.conf" | sed 's/^/   pushed: /'
n=0
until cmp -s "$dir/new.conf" "$dir/w1.conf" && cmp -s "$dir/new.conf" "$dir/w2.conf"; do
  sleep 0.01; n=$((n + 1)); [ $n -lt 500 ] || { echo "watchers did not catch up"; exit 1; }
done
t1=$(now_ms)
echo "   both files hold the new config after $((t1 - t0)) ms (including the push process):"
for w in w1 w2; do sed "s/^/   $w.conf: /" "$dir/$w.conf"; done
sleep 0.3
echo "== done"
