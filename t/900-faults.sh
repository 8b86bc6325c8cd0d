#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fault rounds on a 3-node ensemble behind fault proxies. In each round 8
# client processes hammer one lock, 4 candidates pass leadership of one
# election around, and two queues are fed by one producer each and
# emptied by two consumers each (plain takes: exactly once; leases with
# ack: at least once) while a fault is injected: kill the
# leader, kill a follower, pause a server past the session timeout, cut
# client connections (also in the middle of creates), partition clients
# until their sessions expire, restart the whole ensemble. The holder log
# is replayed after each round: holds never overlap, fencing tokens only
# grow, and no lock node is left once the clients have exited. The queues
# are drained by one more client once the others have exited; then no
# surely put item (its put returned ZKR_OK) is lost, no item of the plain
# queue is delivered twice, nothing is delivered that was not put, and no
# node is left in either queue but its leases/ directory.
#   ZKR_CHAOS_ROUNDS (default 6: one of each fault)
#   ZKR_CHAOS_ITEMS  items each producer puts at most per round (default 120)
#   ZKR_CHAOS_FAULTS the fault kinds to cycle through (default all six)
#   ZKR_CHAOS_KEEP   a directory to copy the client logs of every round into
. "$(dirname "$0")/tap.sh"
rounds=${ZKR_CHAOS_ROUNDS:-6}
[ -n "$rounds" ] || rounds=6
items=${ZKR_CHAOS_ITEMS:-120}
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
trap 'kill $proxy_pids 2>/dev/null; [ -z "${ZKR_CHAOS_KEEP:-}" ] || cp "$work"/*.log "$ZKR_CHAOS_KEEP"/; zk_cleanup' EXIT
ctl() { # port command
  printf '%s\n' "$2" | nc -q1 127.0.0.1 "$1" >/dev/null 2>&1 || \
    /usr/bin/python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall((sys.argv[2]+"\n").encode()); s.recv(64)' "$1" "$2"
}
all_ctl() { for c in $ctls; do ctl "$c" "$1"; done; }
follower() { for i in 1 2 3; do [ "$i" != "$("$ZKR_SERVER" leader --dir "$zk_dir")" ] && { echo "$i"; return; }; done; }

# qcheck LOG: "surely-put maybe-put deliveries lost duplicates phantoms"
# (duplicates: deliveries beyond the first of an item; phantoms: deliveries
# of items nobody put)
qcheck() {
  awk '$2 == "put" { put[$3] = 1; np++ } $2 == "maybe" { maybe[$3] = 1; nm++ }
       $2 == "take" { got[$3]++; nd++ }
       END { for (i in put) if (!(i in got)) lost++
             for (i in got) { if (got[i] > 1) dup += got[i] - 1
                              if (!(i in put) && !(i in maybe)) ph++ }
             printf "%d %d %d %d %d %d\n", np, nm, nd, lost, dup, ph }' "$1"
}

faults=${ZKR_CHAOS_FAULTS:-kill-leader kill-follower pause-server cut partition restart-all}
nkinds=$(echo $faults | wc -w)
total_violations=0; total_orphans=0; table=""
total_puts=0; total_maybe=0; total_lost=0; total_dup1=0; total_dup2=0
for k in $faults; do eval "nfault_$(echo $k | tr - _)=0"; done
r=1
while [ "$r" -le "$rounds" ]; do
  set -- $faults
  shift $(( (r - 1) % nkinds )); kind=$1
  log="$work/round$r.log"; : > "$log"
  elog="$work/elect$r.log"; : > "$elog"
  q1log="$work/queue$r.log"; : > "$q1log"; q1=/chaos/queue/r$r
  q2log="$work/lqueue$r.log"; : > "$q2log"; q2=/chaos/lqueue/r$r
  eval "nfault_$(echo $kind | tr - _)=\$((nfault_$(echo $kind | tr - _) + 1))"
  pids=""
  for w in 1 2 3 4 5 6 7 8; do
    (exec "$worker" "$via" /chaos/lock "$log" 7000 "$session" > /dev/null) & pids="$pids $!"
  done
  for w in 1 2 3 4; do
    (exec "$worker" elect "$via" /chaos/elect "$elog" 7000 "$session" > /dev/null) & pids="$pids $!"
  done
  (exec "$worker" put "$via" "$q1" "$q1log" 7000 "$session" "$items" > /dev/null) & pids="$pids $!"
  (exec "$worker" put "$via" "$q2" "$q2log" 7000 "$session" "$items" > /dev/null) & pids="$pids $!"
  for w in 1 2; do
    (exec "$worker" take "$via" "$q1" "$q1log" 7000 "$session" > /dev/null) & pids="$pids $!"
    (exec "$worker" lease "$via" "$q2" "$q2log" 7000 "$session" > /dev/null) & pids="$pids $!"
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
                 # all at once: a restart waits until its member serves,
                 # which a lone member of three never does
                 rp=""; for m in 1 2 3; do srv restart "$m" & rp="$rp $!"; done
                 wait $rp ;;
  esac
  fails=0
  for p in $pids; do wait "$p" || fails=$((fails + 1)); done
  # everybody has exited: one more client takes what is left
  "$worker" drain take "$via" "$q1" "$q1log" > /dev/null || fails=$((fails + 1))
  "$worker" drain lease "$via" "$q2" "$q2log" > /dev/null || fails=$((fails + 1))
  violations=0
  "$check" "$log" exclusive > "$work/check$r" 2>&1 || { violations=$((violations + 1)); sed 's/^/# lock: /' "$work/check$r"; }
  # fencing tokens only grow from one hold to the next
  awk '$2 == "enter" { t = substr($3, 2) + 0
                       if (t <= last) { bad++; printf "# lock token %.0f after %.0f\n", t, last }
                       last = t }
       END { exit bad ? 1 : 0 }' "$log" || violations=$((violations + 1))
  "$check" "$elog" exclusive > "$work/echeck$r" 2>&1 || { violations=$((violations + 1)); sed 's/^/# election: /' "$work/echeck$r"; }
  # a leader that was suspended and kept its node (same session) resumes
  # its term with the same token; nobody led in between (checked above)
  awk '$2 == "enter" { t = substr($3, 2) + 0
                       if (t < last || (t == last && $1 != who)) { bad++; printf "# term token %.0f after %.0f\n", t, last }
                       last = t; who = $1 }
       END { exit bad ? 1 : 0 }' "$elog" || violations=$((violations + 1))
  orphans=-1
  for _ in $(seq 40); do
    o1=$("$worker" count "$via" /chaos/lock 2>/dev/null)
    o2=$("$worker" count "$via" /chaos/elect 2>/dev/null)
    # a queue keeps only its own node and its leases/ directory (where
    # plain takes make their claim markers)
    o3=$("$worker" count "$via" "$q1" leases 2>/dev/null)
    o4=$("$worker" count "$via" "$q2" leases 2>/dev/null)
    o5=$("$worker" count "$via" "$q1/leases" 2>/dev/null)
    o6=$("$worker" count "$via" "$q2/leases" 2>/dev/null)
    orphans=$((o1 + o2 + o3 + o4 + o5 + o6))
    [ "$orphans" = 0 ] && break; sleep 0.25
  done
  if [ "$orphans" != 0 ]; then
    for d in /chaos/lock /chaos/elect "$q1" "$q2" "$q1/leases" "$q2/leases"; do
      "$worker" count "$via" "$d" leases 2>&1 >/dev/null | sed "s/^/# round $r ($kind): left over: /"
    done
  fi
  holds=$(grep -c ' enter ' "$log")
  terms=$(grep -c ' enter ' "$elog")
  ok "$violations" "round $r ($kind): $holds holds, $terms leader terms, no overlap, tokens grow"
  # exactly once: no surely put item lost, none delivered twice
  set -- $(qcheck "$q1log"); p1=$1 m1=$2 d1=$3 l1=$4 dup1=$5 ph1=$6
  ok $((l1 + dup1 + ph1)) "round $r ($kind): plain queue: $p1 put, $m1 maybe put, $d1 delivered, $l1 lost, $dup1 twice, $ph1 unknown"
  [ "$dup1" = 0 ] || diag "round $r ($kind): delivered more than once: $(awk '$2 == "take" { n[$3]++ } END { for (i in n) if (n[i] > 1) printf " %s", i }' "$q1log")"
  [ "$l1" = 0 ] || diag "round $r ($kind): lost:$(awk '$2 == "put" { p[$3] = 1 } $2 == "take" { g[$3] = 1 } END { for (i in p) if (!(i in g)) printf " %s", i }' "$q1log")"
  # at least once: no surely put item lost; duplicates are counted
  set -- $(qcheck "$q2log"); p2=$1 m2=$2 d2=$3 l2=$4 dup2=$5 ph2=$6
  ok $((l2 + ph2)) "round $r ($kind): lease queue: $p2 put, $m2 maybe put, $d2 delivered, $l2 lost, $dup2 again, $ph2 unknown"
  [ "$l2" = 0 ] || diag "round $r ($kind): lost:$(awk '$2 == "put" { p[$3] = 1 } $2 == "take" { g[$3] = 1 } END { for (i in p) if (!(i in g)) printf " %s", i }' "$q2log")"
  violations=$((violations + l1 + dup1 + ph1 + l2 + ph2))
  [ $((l1 + dup1 + ph1 + l2 + ph2)) = 0 ] || grep -h ' lib ' "$q1log" "$q2log" | head -5 | sed 's/^/# /'
  is "$orphans" 0 "round $r ($kind): no orphan lock, election or queue node"
  is "$fails" 0 "round $r ($kind): every client ran to the end"
  total_violations=$((total_violations + violations))
  [ "$orphans" = 0 ] || total_orphans=$((total_orphans + 1))
  total_puts=$((total_puts + p1 + p2)); total_maybe=$((total_maybe + m1 + m2))
  total_lost=$((total_lost + l1 + l2)); total_dup1=$((total_dup1 + dup1))
  total_dup2=$((total_dup2 + dup2))
  table="$table$(printf '\n# %5d  %-14s %6d %6d %6d %6d %5d %5d %5d %10d %8s' "$r" "$kind" "$holds" "$terms" \
    $((p1 + p2)) $((m1 + m2)) $((l1 + l2)) "$dup1" "$dup2" "$violations" "$orphans")"
  r=$((r + 1))
done
diag "round  fault          holds  terms   puts  maybe  lost dup1x dupal violations  orphans$table"
diag "(puts: items surely put in both queues; maybe: puts with an unknown outcome; lost: surely put, never delivered;"
diag " dup1x: second deliveries in the exactly-once queue (violations); dupal: redeliveries in the at-least-once queue)"
kinds=""; for k in $faults; do eval "kinds=\"\$kinds \$k \$nfault_$(echo $k | tr - _)\""; done
diag "rounds: $rounds, faults:$kinds"
diag "violations: $total_violations, rounds with orphans: $total_orphans, puts: $total_puts, maybe: $total_maybe, lost: $total_lost, exactly-once duplicates: $total_dup1, at-least-once duplicates: $total_dup2"
done_testing
