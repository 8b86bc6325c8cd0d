#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interoperability with Apache Curator's service discovery (Debian's
# curator-x-discovery jar) on one server: Java sees instances zkr
# registers and zkr sees instances Java registers, both ways, with their
# removal; zkr writes the bytes Curator's serializer writes; and Curator's
# DistributedAtomicLong and SharedCount share counters with zkr.
. "$(dirname "$0")/tap.sh"
peers="$(cd "$(dirname "$0")" && pwd)/peers"
cli="$ZKR_TOP_BUILDDIR/examples/zkr-registry"
zpeer="$ZKR_TOP_BUILDDIR/t/zkr-registry-peer"
cp="/usr/share/java/curator-x-discovery.jar:/usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar"
for need in /usr/share/java/curator-x-discovery.jar /usr/share/java/curator-recipes.jar /usr/share/java/slf4j-nop.jar; do
  [ -r "$need" ] || { echo "Bail out! $need missing: install the Debian packages libcurator-discovery-java, libcurator-recipes-java and libslf4j-java"; exit 1; }
done
command -v javac >/dev/null || { echo "Bail out! javac missing: install the Debian package default-jdk-headless"; exit 1; }

zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-discovery-XXXXXX")
zk_dirs="$zk_dirs $work"
javac -nowarn -cp "$cp" -d "$work" "$peers/DiscoveryPeer.java" 2>"$work/javac.err"
ok $? "Curator discovery peer compiles (manifests bring jackson along)"

java_peer() { java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" DiscoveryPeer "$zk_hosts" "$@" 2>>"$work/java.err"; }
wait_for() { # file pattern: wait up to 20 s for a line
  for i in $(seq 1 200); do grep -q -e "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# 1. zkr registers, Curator discovers
(exec "$cli" -l curator register "http://127.0.0.1:7001/orders?id=zkr-1&payload=%22from-c%22" > "$work/zkr1.out" 2>&1) &
zkr1=$!; bg="$bg $zkr1"
wait_for "$work/zkr1.out" registered
ok $? "zkr registered a Curator instance ($(cat "$work/zkr1.out"))"
out=$(java_peer list /services orders)
is "$out" "zkr-1 127.0.0.1:7001 from-c" "Curator's queryForInstances reads zkr's instance and payload"
out=$(java_peer provider /services orders)
is "$out" "zkr-1" "Curator's ServiceProvider returns it"
out=$(java_peer reserialize /services/orders/zkr-1)
is "$out" "same" "Curator's serializer writes the very bytes zkr wrote"

# 2. Curator registers, zkr discovers
(exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" DiscoveryPeer "$zk_hosts" register /services orders java-1 7002 from-java > "$work/java1.out" 2>>"$work/java.err") &
java1=$!; bg="$bg $java1"
wait_for "$work/java1.out" registered
ok $? "Curator registered an instance"
out=$("$cli" -l curator list orders)
is "$out" "java-1 127.0.0.1:7002
zkr-1 127.0.0.1:7001" "zkr lists both instances"
out=$(java_peer await /services orders 2 20)
is "$out" "java-1 zkr-1" "Curator's ServiceCache holds both"

# 3. changes seen both ways: a zkr watch and a Curator cache
(exec "$cli" -l curator watch orders > "$work/watch.out" 2>&1) &
watcher=$!; bg="$bg $watcher"
wait_for "$work/watch.out" "+ java-1"
ok $? "zkr watch shows the Curator instance"
kill "$zkr1"; bg_wait "$zkr1"
is $? 0 "zkr registrant exits 0 on SIGTERM (unregisters)"
out=$(java_peer await /services orders 1 20)
is "$out" "java-1" "Curator's cache sees the zkr instance go"
wait_for "$work/watch.out" "- zkr-1"
ok $? "zkr watch sees it go too"
kill "$java1"; bg_wait "$java1" 2>/dev/null
wait_for "$work/watch.out" "- java-1"
ok $? "zkr watch sees the Curator instance unregister"
(exec java -Xmx64m -XX:TieredStopAtLevel=1 -cp "$work:$cp" DiscoveryPeer "$zk_hosts" register /services orders java-2 7003 x > "$work/java2.out" 2>>"$work/java.err") &
java2=$!; bg="$bg $java2"
wait_for "$work/watch.out" "+ java-2"
ok $? "zkr watch sees a new Curator instance"
kill -9 "$java2"; bg_wait "$java2" 2>/dev/null
wait_for "$work/watch.out" "- java-2"
ok $? "and its end when the killed JVM's session expires"
kill "$watcher"; bg_wait "$watcher"
is $? 0 "zkr watch exits 0 on SIGTERM"
ZKR_PEER_SESSION_MS=2000 "$zpeer" "$zk_hosts" - node /services/orders/raw-1 '{"name":"orders","id":"raw-1","address":"10.1.1.1","port":9,"sslPort":null,"payload":null,"registrationTimeUTC":5,"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false}]}}' > "$work/raw.out" &
raw=$!; bg="$bg $raw"
wait_for "$work/raw.out" registered
out=$(java_peer list /services orders)
is "$out" "raw-1 10.1.1.1:9 null" "Curator parses JSON zkr stored verbatim (uriSpec parts)"
kill "$raw"; bg_wait "$raw" 2>/dev/null

# 4. counters: DistributedAtomicLong (8 bytes) and SharedCount (4 bytes)
out=$("$zpeer" "$zk_hosts" - counter long /counters/long 40)
is "$out" 40 "zkr adds 40 to a long counter"
out=$(java_peer atomiclong /counters/long 2)
is "$out" 42 "Curator's DistributedAtomicLong adds 2 to it: 42"
out=$("$zpeer" "$zk_hosts" - counter long /counters/long -50)
is "$out" -8 "zkr reads Curator's value and adds -50: -8"
out=$(java_peer atomiclong /counters/long)
is "$out" -8 "Curator reads -8"
out=$(java_peer sharedcount /counters/int 1000)
is "$out" 1000 "Curator's SharedCount sets 1000"
out=$("$zpeer" "$zk_hosts" - counter int /counters/int 7)
is "$out" 1007 "zkr's int counter adds 7: 1007"
out=$(java_peer sharedcount /counters/int)
is "$out" 1007 "SharedCount reads 1007"
if [ -s "$work/java.err" ]; then sed 's/^/# java: /' "$work/java.err" | head -20; fi
done_testing
