#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fault rounds on a 3-node ensemble behind fault proxies. In each round 8
# client processes hammer one lock and 4 candidates pass leadership of one
# election around while a fault is injected: kill the
# leader, kill a follower, pause a server past the session timeout, cut
# client connections (also in the middle of creates), partition clients
# until their sessions expire, restart the whole ensemble. The holder log
# is replayed after each round: holds never overlap, fencing tokens only
# grow, and no lock node is left once the clients have exited.
#   ZKR_CHAOS_ROUNDS (default 6: one of each fault)
. "$(dirname "$0")/tap.sh"
rounds=${ZKR_CHAOS_ROUNDS:-6}
[ -n "$rounds" ] || rounds=6
worker="$ZKR_TOP_BUILDDIR/t/zkr-chaos-worker"
proxy="$ZKR_TOP_BUILDDIR/t/zkr-faultproxy"
check="$(cd "$(dirname "$0")" && pwd)/peers/check-log.sh"
session=1500
zk_start 3
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-chaos-XXXXXX")
zk_dirs="$zk_dirs $work"
srv() { "$ZKR_SERVER" "$@" --dir "$zk_dir" >/dev/null 2>&1; }

# one proxy in front of each member; clients only see the proxies
via=""; ctls=""; proxy_pids=""
for i in 1 2 3; do
  port=$("$ZKR_SERVER" port "$i" --dir "$zk_dir")
  ("$proxy" "$port" > "$work/proxy$i" & echo $! > "$work/proxy$i.pid"; wait) &
  for _ in $(seq 50); do [ -s "$work/proxy$i" ] && break; sleep 0.1; done
  read -r pp cp < "$work/proxy$i"
  via="${via:+$via,}127.0.0.1:$pp"; ctls="$ctls $cp"
  proxy_pids="$proxy_pids $(cat "$work/proxy$i.pid")"
done
trap 'kill $proxy_pids 2>/dev/null; zk_cleanup' EXIT
ctl() { # port command
  printf '%s\n' "$2" | nc -q1 127.0.0.1 "$1" >/dev/null 2>&1 || \
    /usr/bin/python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall((sys.argv[2]+"\n").encode()); s.recv(64)' "$1" "$2"
}
all_ctl() { for c in $ctls; do ctl "$c" "$1"; done; }
follower() { for i in 1 2 3; do [ "$i" != "$("$ZKR_SERVER" leader --dir "$zk_dir")" ] && { echo "$i"; return; }; done; }

faults="kill-leader kill-follower pause-server cut partition restart-all"
total_violations=0; total_orphans=0; table=""
r=1
while [ "$r" -le "$rounds" ]; do
  set -- $faults
  shift $(( (r - 1) % 6 )); kind=$1
  log="$work/round$r.log"; : > "$log"
  elog="$work/elect$r.log"; : > "$elog"
  pids=""
  for w in 1 2 3 4 5 6 7 8; do
    (exec "$worker" "$via" /chaos/lock "$log" 7000 "$session" > /dev/null) & pids="$pids $!"
  done
  for w in 1 2 3 4; do
    (exec "$worker" elect "$via" /chaos/elect "$elog" 7000 "$session" > /dev/null) & pids="$pids $!"
  done
  sleep 1.5
  case $kind in
    kill-leader) l=$("$ZKR_SERVER" leader --dir "$zk_dir"); srv kill "$l"; sleep 1.5; srv restart "$l" ;;
    kill-follower) f=$(follower); srv kill "$f"; sleep 1.5; srv restart "$f" ;;
    pause-server) m=$(( (r % 3) + 1 )); srv pause "$m"; sleep 2.5; srv resume "$m" ;;
    cut) for _ in 1 2 3 4 5 6; do all_ctl cut; sleep 0.4; done ;;
    partition) ctl "$(echo $ctls | cut -d' ' -f1)" "blackhole both"; sleep 2.5
               ctl "$(echo $ctls | cut -d' ' -f1)" "blackhole off"; ctl "$(echo $ctls | cut -d' ' -f1)" cut ;;
    restart-all) for m in 1 2 3; do srv kill "$m"; done; sleep 0.5
                 for m in 1 2 3; do srv restart "$m"; done ;;
  esac
  fails=0
  for p in $pids; do wait "$p" || fails=$((fails + 1)); done
  violations=0
  "$check" "$log" exclusive > "$work/check$r" || violations=$((violations + 1))
  # fencing tokens only grow from one hold to the next
  awk '$2 == "enter" { t = substr($3, 2) + 0; if (t <= last) bad++; last = t }
       END { exit bad ? 1 : 0 }' "$log" || violations=$((violations + 1))
  "$check" "$elog" exclusive > "$work/echeck$r" || violations=$((violations + 1))
  awk '$2 == "enter" { t = substr($3, 2) + 0; if (t <= last) bad++; last = t }
       END { exit bad ? 1 : 0 }' "$elog" || violations=$((violations + 1))
  orphans=-1
  for _ in $(seq 40); do
    o1=$("$worker" count "$via" /chaos/lock 2>/dev/null)
    o2=$("$worker" count "$via" /chaos/elect 2>/dev/null)
    orphans=$((o1 + o2))
    [ "$orphans" = 0 ] && break; sleep 0.25
  done
  holds=$(grep -c ' enter ' "$log")
  terms=$(grep -c ' enter ' "$elog")
  ok "$violations" "round $r ($kind): $holds holds, $terms leader terms, no overlap, tokens grow"
  is "$orphans" 0 "round $r ($kind): no orphan lock node"
  is "$fails" 0 "round $r ($kind): every client ran to the end"
  total_violations=$((total_violations + violations))
  [ "$orphans" = 0 ] || total_orphans=$((total_orphans + 1))
  table="$table$(printf '\n# %5d  %-14s %6d %6d %10d %8s' "$r" "$kind" "$holds" "$terms" "$violations" "$orphans")"
  r=$((r + 1))
done
diag "round  fault          holds  terms violations  orphans$table"
diag "rounds: $rounds, violations: $total_violations, rounds with orphans: $total_orphans"
done_testing
