#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Election interoperability with Apache Curator's LeaderLatch (Debian's
# jars): Java candidates (t/peers/LatchPeer.java) and zkr-elect replicas
# take turns on one election path with no two leaders at once (replayed
# from a shared log), each side sees the other's leader and participants,
# and leadership passes both ways.
. "$(dirname "$0")/tap.sh"
peers="$(cd "$(dirname "$0")" && pwd)/peers"
elect="$ZKR_TOP_BUILDDIR/examples/zkr-elect"
cp="/usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar"
for need in /usr/share/java/curator-recipes.jar /usr/share/java/slf4j-nop.jar; do
  [ -r "$need" ] || { echo "Bail out! $need missing: install the Debian packages libcurator-recipes-java and libslf4j-java"; exit 1; }
done
command -v javac >/dev/null || { echo "Bail out! javac missing: install the Debian package default-jdk-headless"; exit 1; }

zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-elect-interop-XXXXXX")
zk_dirs="$zk_dirs $work"
# On an early exit, stop what this test started (only by PID).
trap 'for p in $j1 $j2 $z1 $z2 $jh $zs $jw; do kill -9 "$p" 2>/dev/null; done; zk_cleanup' EXIT
javac -nowarn -cp "$cp" -d "$work" "$peers/LatchPeer.java" 2>"$work/javac.err"
ok $? "LatchPeer compiles"
latch() { exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" LatchPeer "$zk_hosts" "$@"; }
wait_for() { # pattern file [tenths]
  n=0
  while [ $n -lt "${3:-300}" ]; do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; n=$((n + 1)); done
  return 1
}

# 1. Java and zkr candidates take turns on one path
log="$work/turns.log"
turn='trap "echo \"$$ leave zkr\" >> \"$0\"; exit 0" TERM; echo "$$ enter zkr" >> "$0"; sleep 0.2 & wait $!; echo "$$ leave zkr" >> "$0"'
(latch /interop/turns java1 turns "$log" 200 6 >/dev/null) & j1=$!
(latch /interop/turns java2 turns "$log" 200 6 >/dev/null) & j2=$!
(exec "$elect" -q -r -t 4000 -g 0.5 --id zkr1 /interop/turns -- sh -c "$turn" "$log") & z1=$!
(exec "$elect" -q -r -t 4000 -g 0.5 --id zkr2 /interop/turns -- sh -c "$turn" "$log") & z2=$!
wait $j1; s1=$?; wait $j2; s2=$?
is "$s1$s2" 00 "both Java candidates got leadership 6 times and finished"
kill -TERM $z1 $z2; wait $z1; t1=$?; wait $z2; t2=$?
is "$t1$t2" 00 "zkr-elect replicas stop cleanly"
is "$(grep -c 'enter latch' "$log")" 12 "12 Java leaderships logged"
[ "$(grep -c 'enter zkr' "$log")" -ge 2 ]; ok $? "zkr replicas led too ($(grep -c 'enter zkr' "$log") times)"
res=$("$peers/check-log.sh" "$log" exclusive); ok $? "never two leaders at once ($res)"

# 2. Java leads; a zkr standby sees it and takes over when it leaves
(latch /interop/hold javaboss hold > "$work/hold.out") & jh=$!
wait_for leader "$work/hold.out"; ok $? "Java LeaderLatch leads"
(exec "$elect" -t 4000 -g 0.5 --id zkrstandby /interop/hold -- sh -c 'echo "$ZKR_LEADER_TOKEN" > "$0"; while :; do sleep 0.1; done' "$work/ztoken" 2>"$work/z.err") & zs=$!
wait_for "leader is javaboss" "$work/z.err"; ok $? "zkr standby prints the Java leader's id"
[ ! -e "$work/ztoken" ]; ok $? "zkr does not run its command while Java leads"
kill -TERM $jh; wait $jh 2>/dev/null
wait_for . "$work/ztoken" 100; ok $? "zkr takes over when the Java leader closes its latch"

# 3. zkr leads; Curator sees zkr's participant id as leader
out=$(latch /interop/hold javainfo info 2>/dev/null)
echo "$out" | grep -q "^leader zkrstandby$"; ok $? "Curator's getLeader() is the zkr replica ($(echo $out))"
(latch /interop/hold javawaiter hold > "$work/waiter.out") & jw=$!
sleep 2
out=$(latch /interop/hold javainfo info 2>/dev/null)
echo "$out" | grep -q "^participants zkrstandby,javawaiter$"; ok $? "participants in join order as Curator sees them ($(echo $out))"
grep -q leader "$work/waiter.out"; is $? 1 "a Java candidate waits while zkr leads"
kill -TERM $zs; wait $zs; is $? 0 "zkr leader resigns on SIGTERM"
wait_for leader "$work/waiter.out" 100; ok $? "the Java candidate leads next"
kill -TERM $jw; wait $jw 2>/dev/null
done_testing
