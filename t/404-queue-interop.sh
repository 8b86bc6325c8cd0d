#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Queue interoperability with Apache Curator's SimpleDistributedQueue
# (Debian's libcurator jars): a Curator producer and a zkr consumer, the
# reverse, and both kinds of producers and consumers on one queue at once.
. "$(dirname "$0")/tap.sh"
peers="$(cd "$(dirname "$0")" && pwd)/peers"
zpeer="$ZKR_TOP_BUILDDIR/t/zkr-queue-peer"
zq="$ZKR_TOP_BUILDDIR/examples/zkr-queue"
cp="/usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar"
for need in /usr/share/java/curator-recipes.jar /usr/share/java/slf4j-nop.jar; do
  [ -r "$need" ] || { echo "Bail out! $need missing: install the Debian packages libcurator-recipes-java and libslf4j-java"; exit 1; }
done
command -v javac >/dev/null || { echo "Bail out! javac missing: install the Debian package default-jdk-headless"; exit 1; }

zk_start 1
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-qinterop-XXXXXX")
zk_dirs="$zk_dirs $work"
javac -nowarn -cp "$cp" -d "$work" "$peers/QueuePeer.java" 2>"$work/javac.err"
ok $? "Curator queue peer compiles"

curator() { java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" QueuePeer "$zk_hosts" "$@"; }
zkr() { "$zpeer" "$zk_hosts" "$@"; }
seq_items() { i=0; while [ "$i" -lt "$2" ]; do echo "$1-$i"; i=$((i + 1)); done; }

# 1. Curator puts, zkr takes: same items, same order
out=$(curator put /interop/q1 java 100); is "$out" done "Curator put 100 items"
ZKR_HOSTS=$zk_hosts "$zq" size /interop/q1 >"$work/size1"
is "$(cat "$work/size1")" 100 "zkr-queue size counts Curator's items"
zkr take /interop/q1 100 >"$work/t1"; ok $? "zkr took 100 items"
seq_items java 100 >"$work/want1"
cmp -s "$work/t1" "$work/want1"; ok $? "zkr took Curator's items in put order"

# 2. zkr puts, Curator takes
out=$(zkr put /interop/q2 zkr 100); is "$out" done "zkr put 100 items"
curator take /interop/q2 100 >"$work/t2"; ok $? "Curator took 100 items"
seq_items zkr 100 >"$work/want2"
cmp -s "$work/t2" "$work/want2"; ok $? "Curator took zkr's items in put order"
ZKR_HOSTS=$zk_hosts "$zq" size /interop/q2 >"$work/size2"
is "$(cat "$work/size2")" 0 "queue empty afterwards"

# 3. one queue, both producers and both consumers at once
pids=""
(exec "$zpeer" "$zk_hosts" drain /interop/q3 4 >"$work/zc") & pids="$pids $!"
(exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" QueuePeer "$zk_hosts" drain /interop/q3 4 >"$work/jc") & pids="$pids $!"
(exec "$zpeer" "$zk_hosts" put /interop/q3 zp 150 >/dev/null) & pids="$pids $!"
(exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" QueuePeer "$zk_hosts" put /interop/q3 jp 150 >/dev/null) & pids="$pids $!"
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
is "$fails" 0 "two producers and two consumers finished"
{ seq_items zp 150; seq_items jp 150; } | sort >"$work/want3"
sort "$work/zc" "$work/jc" >"$work/got3"
is "$(wc -l <"$work/got3" | tr -d ' ')" 300 "300 items taken in all"
cmp -s "$work/got3" "$work/want3"; ok $? "each item taken exactly once"
diag "zkr consumer took $(wc -l <"$work/zc" | tr -d ' '), Curator consumer $(wc -l <"$work/jc" | tr -d ' ')"
# Curator's consumer always takes the oldest item it can: it sees each
# producer's items in put order (zkr's may not after a collision, see
# zkr/queue.h)
order=0
for p in zp jp; do
  grep "^$p-" "$work/jc" | sed "s/^$p-//" >"$work/o"
  sort -n "$work/o" | cmp -s - "$work/o" || order=1
done
ok $order "the Curator consumer saw each producer's items in put order"
done_testing
