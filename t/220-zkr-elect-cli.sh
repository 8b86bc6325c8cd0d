#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkr-elect(1): runs the command only while leading, passes the fencing
# token, hands over when the leader is killed or stops, stops the command
# when leadership is uncertain (SIGTERM, then SIGKILL after the grace
# period for a command that ignores SIGTERM), --rejoin, exit codes.
. "$(dirname "$0")/tap.sh"
bin="$ZKR_TOP_BUILDDIR/examples/zkr-elect"
zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-elect-XXXXXX")
zk_dirs="$zk_dirs $work"
# On an early exit, stop what this test started (only by PID).
trap 'for p in $pa $pb $pc $pk $r1 $r2; do kill -9 "$p" 2>/dev/null; done; zk_cleanup' EXIT

# usage errors
"$bin" >/dev/null 2>&1; is $? 2 "no arguments: exit 2"
"$bin" /e -- true 2>/dev/null; is $? 2 "no --id: exit 2"
"$bin" --id a /e 2>/dev/null; is $? 2 "no command: exit 2"
"$bin" --id a e -- true 2>/dev/null; is $? 2 "relative path: exit 2"
"$bin" --id a -t x /e -- true 2>/dev/null; is $? 2 "bad -t: exit 2"
"$bin" --id a -g -1 /e -- true 2>/dev/null; is $? 2 "bad --grace: exit 2"
"$bin" --id a --bogus /e -- true 2>/dev/null; is $? 2 "unknown option: exit 2"
"$bin" --id a -s nonsense /e -- true 2>/dev/null; is $? 2 "bad connect string: exit 2"
"$bin" --help | grep -q "Exit status"; ok $? "--help documents the exit codes"
"$bin" --help | grep -q "not guaranteed"; ok $? "--help says what is not guaranteed"
"$bin" --id a -s 127.0.0.1:1 -t 1000 /e -- true 2>/dev/null; is $? 3 "unreachable server: exit 3"

# a single replica runs the command and exits with its status
out=$("$bin" -q --id solo /cli/one -- sh -c 'echo "$ZKR_LEADER_ID $ZKR_LEADER_TOKEN $ZKR_LEADER_PATH"; exit 7')
is $? 7 "exits with the command's status"
case "$out" in "solo "[1-9]*" /cli/one") r=0 ;; *) r=1 ;; esac
ok $r "command sees ZKR_LEADER_ID, ZKR_LEADER_TOKEN and ZKR_LEADER_PATH ($out)"
"$bin" -q --id solo /cli/one -- /nonexistent/program 2>/dev/null
is $? 127 "127 when the command does not exist"

# three replicas; the command logs start and stop
log="$work/log"
cmd='echo "start $ZKR_LEADER_ID $ZKR_LEADER_TOKEN $$" >> "$LOG"; trap "echo stop $ZKR_LEADER_ID >> \"\$LOG\"; exit 0" TERM; while :; do sleep 0.1; done'
export LOG="$log"
replica() { # name
  (exec "$bin" -t 2000 -g 0.5 --id "$1" /cli/ha -- sh -c "$cmd" 2>"$work/$1.err") &
}
wait_for() { # pattern file [tenths]
  n=0
  while [ $n -lt "${3:-200}" ]; do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; n=$((n + 1)); done
  return 1
}
replica A; pa=$!
wait_for "start A" "$log"; ok $? "first replica leads and runs the command"
replica B; pb=$!
sleep 0.5
replica C; pc=$!
wait_for "leader is A" "$work/B.err"; ok $? "a standby prints who leads"
wait_for "leader is A" "$work/C.err"; ok $? "the other standby too"
is "$(grep -c start "$log")" 1 "only the leader runs the command"
cpid=$(awk '/^start A/ {print $4}' "$log")
tokA=$(awk '/^start A/ {print $3}' "$log")

kill -9 $pa; wait $pa 2>/dev/null
wait_for "start B" "$log" 150; ok $? "the next replica in join order takes over after the leader is killed"
sleep 0.2
kill -0 "$cpid" 2>/dev/null; is $? 1 "the killed leader's command died with it"
tokB=$(awk '/^start B/ {print $3}' "$log")
[ "$tokB" -gt "$tokA" ]; ok $? "fencing token grows ($tokA < $tokB)"
grep -q "start C" "$log"; is $? 1 "C still waits"

kill -TERM $pb; wait $pb; is $? 0 "SIGTERM: the leader exits 0"
grep -q "stop B" "$log"; ok $? "its command got SIGTERM"
wait_for "start C" "$log" 50; ok $? "C takes over after a clean resign"

# A command that ignores SIGTERM (ignored signals stay ignored across exec)
# leads its own election, to show SIGKILL after the grace period, both when
# leadership becomes uncertain and on SIGTERM. One process, so that no
# orphan is left for init to reap.
klog="$work/klog"
(exec "$bin" -t 2000 -g 0.3 --id K /cli/stubborn -- sh -c 'trap "" TERM; echo $$ >> "$0"; exec sleep 1000' "$klog" 2>"$work/K.err") &
pk=$!
wait_for . "$klog"; ok $? "a command that ignores SIGTERM leads"
kpid1=$(head -n 1 "$klog")
group_gone() { # pgid [tenths]
  n=0
  while [ $n -lt "${2:-200}" ]; do kill -0 "-$1" 2>/dev/null || return 0; sleep 0.1; n=$((n + 1)); done
  return 1
}

# leadership uncertain: the server goes away under the leader
"$ZKR_SERVER" kill 1 --dir "$zk_dir" >/dev/null 2>&1
wait_for "stop C" "$log" 100; ok $? "command stopped when the connection is suspended"
kill -0 $pc; ok $? "zkr-elect keeps running"
group_gone "$kpid1"; ok $? "a command ignoring SIGTERM gets SIGKILL after the grace period"
kill -0 $pk; ok $? "and its zkr-elect keeps running"
"$ZKR_SERVER" restart 1 --dir "$zk_dir" >/dev/null 2>&1
n=0; while [ $n -lt 200 ] && [ "$(grep -c 'start C' "$log")" -lt 2 ]; do sleep 0.1; n=$((n + 1)); done
is "$(grep -c 'start C' "$log")" 2 "command started again once leading again"
kill -TERM $pc; wait $pc; is $? 0 "SIGTERM: exit 0"
n=0; while [ $n -lt 200 ] && [ "$(wc -l < "$klog")" -lt 2 ]; do sleep 0.1; n=$((n + 1)); done
kpid2=$(sed -n 2p "$klog")
[ -n "$kpid2" ]; ok $? "the stubborn command runs again once leading again"
kill -TERM $pk; wait $pk; is $? 0 "SIGTERM to zkr-elect with a command ignoring SIGTERM: exit 0"
kill -0 "$kpid2" 2>/dev/null; is $? 1 "its command was killed (SIGKILL) and reaped before zkr-elect exited"
is "$(grep -c '^start' "$log")" "$(($(grep -c '^stop' "$log") + 1))" "every start but the killed one's was followed by a stop"

# --rejoin: replicas take turns when the command exits by itself
rlog="$work/rlog"
(exec "$bin" -q -r -t 2000 --id R1 /cli/turns -- sh -c 'echo R1 >> "$0"; sleep 0.2' "$rlog") & r1=$!
(exec "$bin" -q -r -t 2000 --id R2 /cli/turns -- sh -c 'echo R2 >> "$0"; sleep 0.2' "$rlog") & r2=$!
n=0; while [ $n -lt 100 ] && [ "$(wc -l 2>/dev/null < "$rlog" || echo 0)" -lt 6 ]; do sleep 0.1; n=$((n + 1)); done
kill -TERM $r1 $r2; wait $r1; s1=$?; wait $r2; s2=$?
is "$s1$s2" 00 "both exit 0 on SIGTERM"
grep -q R1 "$rlog" && grep -q R2 "$rlog"; ok $? "with --rejoin both replicas got turns"
done_testing
