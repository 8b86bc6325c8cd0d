#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interoperability with the real peers on one server: zkr, Apache Curator
# (Debian's libcurator jars) and kazoo (python3-kazoo) holders share a
# mutex, a read/write lock and a semaphore; a checker replays the shared
# holder log and fails on any overlap.
. "$(dirname "$0")/tap.sh"
peers="$(cd "$(dirname "$0")" && pwd)/peers"
zpeer="$ZKR_TOP_BUILDDIR/t/zkr-peer"
cp="/usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar"
for need in /usr/share/java/curator-recipes.jar /usr/share/java/slf4j-nop.jar; do
  [ -r "$need" ] || { echo "Bail out! $need missing: install the Debian packages libcurator-recipes-java and libslf4j-java"; exit 1; }
done
command -v javac >/dev/null || { echo "Bail out! javac missing: install the Debian package default-jdk-headless"; exit 1; }
/usr/bin/python3 -c 'import kazoo' 2>/dev/null || { echo "Bail out! kazoo missing: install the Debian package python3-kazoo"; exit 1; }

zk_start 1
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-interop-XXXXXX")
zk_dirs="$zk_dirs $work"
javac -nowarn -cp "$cp" -d "$work" "$peers/Peer.java" 2>"$work/javac.err"
ok $? "Curator peer compiles"

# exec: run in the background, $! is the peer itself, so kill reaches it
curator() { exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" Peer "$zk_hosts" "$@"; }
kazoo() { exec /usr/bin/python3 "$peers/kazoo_peer.py" "$zk_hosts" "$@"; }
zkr() { exec "$zpeer" "$zk_hosts" "$@"; }
run_all() { # log: waits for every background peer, counts failures
  fails=0
  for p in $pids; do wait "$p" || fails=$((fails + 1)); done
  pids=""
}

# 1. mutexes. Curator orders contenders by the text after "lock-" and so
# does not see kazoo's "__lock__" nodes: Curator and kazoo must not share a
# mutex directly. zkr sees both kinds, so zkr+Curator and zkr+kazoo are
# each safe; all three share one when kazoo names its nodes like Curator's
# (the peer's mutex-curator mode).
mutex_round() { # name, then peers as "kind mode" pairs
  name=$1; shift
  log="$work/$name.log"; pids=""; n=0
  while [ $# -gt 0 ]; do
    (exec_peer "$1" "$2" "/interop/$name" 20 "$log" 3 >/dev/null) & pids="$pids $!"
    shift 2; n=$((n + 20))
  done
  run_all
  is "$fails" 0 "$name: every holder finished"
  is "$(grep -c enter "$log")" "$n" "$name: $n holds logged"
  res=$("$peers/check-log.sh" "$log" exclusive); ok $? "$name: no overlap ($res)"
}
exec_peer() { kind=$1; shift; case $kind in
  zkr) zkr "$@" ;; curator) curator "$@" ;; kazoo) kazoo "$@" ;; esac; }
mutex_round mutex-zkr-curator zkr mutex zkr mutex curator mutex curator mutex
mutex_round mutex-zkr-kazoo zkr mutex zkr mutex kazoo mutex kazoo mutex
mutex_round mutex-all zkr mutex curator mutex kazoo mutex-curator

# 2. read/write lock: zkr and Curator readers and writers
log="$work/rw.log"
(zkr read /interop/rw 15 "$log" 20 >/dev/null) & pids="$pids $!"
(zkr read /interop/rw 15 "$log" 20 >/dev/null) & pids="$pids $!"
(zkr write /interop/rw 10 "$log" 3 >/dev/null) & pids="$pids $!"
(curator read /interop/rw 15 "$log" 20 >/dev/null) & pids="$pids $!"
(curator write /interop/rw 10 "$log" 3 >/dev/null) & pids="$pids $!"
run_all
is "$fails" 0 "rwlock: every holder finished"
res=$("$peers/check-log.sh" "$log" rw); ok $? "rwlock: writers never overlapped anybody ($res)"
case "$res" in *max_concurrency=1\ *) r=1 ;; *) r=0 ;; esac
ok $r "rwlock: readers shared the lock"

# 3. semaphore with 2 leases: zkr and Curator InterProcessSemaphoreV2
log="$work/sem.log"
(zkr sem:2 /interop/sem 15 "$log" 5 >/dev/null) & pids="$pids $!"
(zkr sem:2 /interop/sem 15 "$log" 5 >/dev/null) & pids="$pids $!"
(curator sem:2 /interop/sem 15 "$log" 5 >/dev/null) & pids="$pids $!"
(curator sem:2 /interop/sem 15 "$log" 5 >/dev/null) & pids="$pids $!"
run_all
is "$fails" 0 "semaphore: every holder finished"
res=$("$peers/check-log.sh" "$log" sem 2); ok $? "semaphore: never more than 2 holders ($res)"

# 4. who holds is respected both ways, and the node names are Curator's
log="$work/hold.log"
(curator holdforever /interop/hold 1 "$log" 0 > "$work/held.out") &
jholder=$!
for i in $(seq 1 100); do grep -q held "$work/held.out" && break; sleep 0.1; done
ZKR_HOSTS=$zk_hosts "$ZKR_TOP_BUILDDIR/examples/zkr-lock" -n /interop/hold -- true
is $? 1 "zkr cannot take a lock Curator holds"
kill "$jholder"; wait "$jholder" 2>/dev/null
ZKR_HOSTS=$zk_hosts "$ZKR_TOP_BUILDDIR/examples/zkr-lock" -w 20 /interop/hold -- true
is $? 0 "zkr takes it once the Curator holder is gone"

(zkr holdforever /interop/hold2 1 "$log" 0 > "$work/zheld.out") &
zholder=$!
for i in $(seq 1 100); do grep -q held "$work/zheld.out" && break; sleep 0.1; done
cat > "$work/Try.java" <<'JAVA'
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;
public final class Try {
  public static void main(String[] a) throws Exception {
    var c = CuratorFrameworkFactory.newClient(a[0], new RetryOneTime(100));
    c.start();
    c.blockUntilConnected();
    var nodes = c.getChildren().forPath(a[1]);
    System.out.println(nodes.get(0));
    boolean got = new InterProcessMutex(c, a[1]).acquire(300, TimeUnit.MILLISECONDS);
    System.out.println(got ? "acquired" : "busy");
    c.close();
  }
}
JAVA
javac -nowarn -cp "$cp" -d "$work" "$work/Try.java" 2>>"$work/javac.err"
out=$(java -cp "$work:$cp" Try "$zk_hosts" /interop/hold2 2>/dev/null)
case "$out" in *busy*) r=0 ;; *) r=1 ;; esac
ok $r "Curator cannot take a lock zkr holds"
node=$(echo "$out" | head -1)
echo "$node" | grep -Eq '^_c_[0-9a-f-]{36}-lock-[0-9]{10}$'
ok $? "zkr's node has Curator's protected name ($node)"
kill "$zholder"; wait "$zholder" 2>/dev/null
# 5. grants follow the order of arrival, whatever the kind of peer: while a
# zkr holder keeps the lock, waiters of the three kinds queue one at a time
# (each starts once the one before has its node), then the holder dies.
wait_nodes() { # path, count: until the lock directory has count children
  /usr/bin/python3 - "$zk_hosts" "$1" "$2" <<'PY'
import sys, time
from kazoo.client import KazooClient
k = KazooClient(hosts=sys.argv[1])
k.start(timeout=30)
n, end = -1, time.monotonic() + 60
while time.monotonic() < end:
    n = len(k.get_children(sys.argv[2])) if k.exists(sys.argv[2]) else 0
    if n >= int(sys.argv[3]):
        break
    time.sleep(0.05)
k.stop()
sys.exit(0 if n >= int(sys.argv[3]) else 1)
PY
}
log="$work/fifo.log"; pids=""; order=""
(ZKR_PEER_SESSION_MS=4000; export ZKR_PEER_SESSION_MS
 zkr holdforever /interop/fifo 1 "$log" 0 > "$work/fheld.out") &
fholder=$!
for i in $(seq 1 100); do grep -q held "$work/fheld.out" && break; sleep 0.1; done
n=1; queued=0
for kind in curator zkr kazoo zkr curator kazoo; do
  mode=mutex; [ "$kind" = kazoo ] && mode=mutex-curator
  (exec_peer "$kind" "$mode" /interop/fifo 1 "$log" 20 >/dev/null) &
  pids="$pids $!"; order="${order:+$order }$!"; n=$((n + 1))
  wait_nodes /interop/fifo "$n" && queued=$((queued + 1))
done
is "$queued" 6 "fifo: six waiters of three kinds queued one by one"
kill -9 "$fholder"; wait "$fholder" 2>/dev/null
echo "$fholder leave killed" >> "$log" # its session lives on a while
run_all
is "$fails" 0 "fifo: every waiter got the lock"
granted=$(grep ' enter ' "$log" | grep -v holdforever | cut -d' ' -f1 | tr '\n' ' ')
is "${granted% }" "$order" "fifo: granted in arrival order (curator zkr kazoo zkr curator kazoo)"
res=$("$peers/check-log.sh" "$log" exclusive); ok $? "fifo: no overlap ($res)"
done_testing
