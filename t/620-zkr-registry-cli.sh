#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkr-registry(1): register (stays registered, comes back after a lost
# session, unregisters on SIGTERM), list, watch, both layouts, exit codes.
. "$(dirname "$0")/tap.sh"
bin="$ZKR_TOP_BUILDDIR/examples/zkr-registry"
zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-registry-cli-XXXXXX")
zk_dirs="$zk_dirs $work"
wait_for() { # file pattern: wait up to 20 s for a line
  for i in $(seq 1 200); do grep -q -e "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

"$bin" --help | grep -q "Exit status"; ok $? "--help documents the exit codes"
"$bin" --help >/dev/null; is $? 0 "--help exits 0"

# a provider, registered until killed
url='dubbo://127.0.0.1:20880/org.zkr.Greeter?application=cli&methods=hi,bye'
(exec "$bin" -t 2000 register "$url" > "$work/reg.out" 2>&1) &
reg=$!; bg="$bg $reg"
wait_for "$work/reg.out" registered
ok $? "register prints the path once registered"
case "$(cat "$work/reg.out")" in
  "registered /dubbo/org.zkr.Greeter/providers/dubbo%3A%2F%2F127.0.0.1%3A20880%2Forg.zkr.Greeter%3Fapplication%3Dcli%26dynamic%3Dtrue%26interface%3Dorg.zkr.Greeter%26methods%3Dhi%2Cbye%26pid%3D"*) r=0 ;;
  *) r=1 ;;
esac
ok $r "at the Dubbo path, encoded as Dubbo does"
out=$("$bin" list org.zkr.Greeter)
is $? 0 "list exits 0 when there are instances"
case "$out" in
  "dubbo://127.0.0.1:20880/org.zkr.Greeter?application=cli&dynamic=true&interface=org.zkr.Greeter&methods=hi,bye&pid="*"&side=provider&timestamp="*) r=0 ;;
  *) r=1 ;;
esac
ok $r "list prints the decoded URL ($out)"
"$bin" list -c consumers org.zkr.Greeter > /dev/null
is $? 1 "no consumers: exit 1"
(exec "$bin" register 'consumer://127.0.0.1/org.zkr.Greeter?application=cli' > "$work/cons.out" 2>&1) &
cons=$!; bg="$bg $cons"
wait_for "$work/cons.out" registered
ok $? "a consumer registers"
grep -q '/org.zkr.Greeter/consumers/consumer%3A%2F%2F127.0.0.1%2Forg.zkr.Greeter%3Fapplication%3Dcli%26category%3Dconsumers%26interface' "$work/cons.out"
ok $? "under consumers/ with category=consumers"
out=$("$bin" --category consumers list org.zkr.Greeter)
case "$out" in consumer://127.0.0.1/org.zkr.Greeter\?*side=consumer*) r=0 ;; *) r=1 ;; esac
ok $r "list --category consumers shows it"
kill "$cons"; bg_wait "$cons"

# watch: adds and removals
(exec "$bin" watch org.zkr.Greeter > "$work/watch.out" 2>&1) &
watch=$!; bg="$bg $watch"
wait_for "$work/watch.out" "^+ dubbo://127.0.0.1:20880/"
ok $? "watch lists the current instance"
(exec "$bin" register 'dubbo://127.0.0.1:20881/org.zkr.Greeter?application=two' > "$work/reg2.out" 2>&1) &
reg2=$!; bg="$bg $reg2"
wait_for "$work/watch.out" "^+ dubbo://127.0.0.1:20881/"
ok $? "watch shows a new instance"
kill "$reg2"; bg_wait "$reg2"
is $? 0 "SIGTERM: the registrant exits 0"
wait_for "$work/watch.out" "^- dubbo://127.0.0.1:20881/"
ok $? "watch shows it unregistered"
kill -9 "$reg"; bg_wait "$reg" 2>/dev/null
wait_for "$work/watch.out" "^- dubbo://127.0.0.1:20880/"
ok $? "a killed registrant's instance goes when its session expires"
kill "$watch"; bg_wait "$watch"
is $? 0 "watch exits 0 on SIGTERM"

# registered again after the session is lost (server paused past it)
(exec "$bin" -v -t 1000 register 'dubbo://127.0.0.1:20882/org.zkr.Greeter' > "$work/reg3.out" 2> "$work/reg3.err") &
reg3=$!; bg="$bg $reg3"
wait_for "$work/reg3.out" registered
ok $? "registrant with a 1 s session"
"$ZKR_SERVER" pause 1 --dir "$zk_dir" >/dev/null 2>&1
sleep 2.5
"$ZKR_SERVER" resume 1 --dir "$zk_dir" >/dev/null 2>&1
wait_for "$work/reg3.err" "session lost"
ok $? "it notices the session is lost"
sleep 1
for i in $(seq 1 100); do
  [ "$(grep -c '^zkr-registry: registered' "$work/reg3.err")" -ge 2 ] && break
  sleep 0.1
done
is "$(grep -c '^zkr-registry: registered' "$work/reg3.err")" 2 "and registers again on the new session"
"$bin" list org.zkr.Greeter | grep -q '127.0.0.1:20882'
ok $? "the instance is listed again"
kill "$reg3"; bg_wait "$reg3"

# Curator layout
(exec "$bin" --layout curator register 'http://127.0.0.1:9000/orders?id=i1' > "$work/cur.out" 2>&1) &
cur=$!; bg="$bg $cur"
wait_for "$work/cur.out" registered
grep -q "registered /services/orders/i1" "$work/cur.out"
ok $? "Curator layout: ROOT/NAME/ID"
out=$("$bin" -l curator list orders)
is "$out" "i1 127.0.0.1:9000" "Curator layout list"
(exec "$bin" -l curator -r /svc register 'http://127.0.0.1:9001/orders' > "$work/cur2.out" 2>&1) &
cur2=$!; bg="$bg $cur2"
wait_for "$work/cur2.out" registered
grep -Eq "registered /svc/orders/[0-9a-f-]{36}$" "$work/cur2.out"
ok $? "--root, and a random UUID id"
kill "$cur" "$cur2"; bg_wait "$cur" "$cur2"
"$bin" -l curator list orders >/dev/null
is $? 1 "unregistered on exit"

# options may follow the URL: "register URL --layout curator", and -s HOSTS
(exec env -u ZKR_HOSTS "$bin" -s "$zk_hosts" register 'http://127.0.0.1:9002/orders?id=i3' --layout curator > "$work/cur3.out" 2>&1) &
cur3=$!; bg="$bg $cur3"
wait_for "$work/cur3.out" registered
grep -q "registered /services/orders/i3$" "$work/cur3.out"
ok $? "register URL --layout curator, with -s HOSTS"
out=$(env -u ZKR_HOSTS "$bin" list orders -s "$zk_hosts" -l curator)
is "$out" "i3 127.0.0.1:9002" "list SERVICE with the options after it"
kill "$cur3"; bg_wait "$cur3"
is $? 0 "and it unregisters on SIGTERM"

# the demo: two C providers, a least-active consumer, one provider killed
# mid-run; the consumer moves on and every call gets a reply
demo="$(cd "$(dirname "$0")/.." && pwd)/examples/demo-registry.sh"
(exec sh "$demo" "$ZKR_TOP_BUILDDIR" > "$work/demo.out" 2>&1) &
dm=$!; bg="$bg $dm"
bg_wait "$dm"
is $? 0 "demo-registry.sh: the consumer got a reply to every call"
grep -q "killing provider alpha" "$work/demo.out"
ok $? "one provider was killed mid-run"
sed -n '/killing provider alpha/,$p' "$work/demo.out" | grep -q ' replied "beta call-'
ok $? "calls after the kill are answered by the other provider"
diag "demo: $(grep -c 'failed; trying another' "$work/demo.out") call(s) moved on from the killed provider"

# usage errors and connection failure
"$bin" >/dev/null 2>&1; is $? 2 "no arguments: exit 2"
"$bin" list >/dev/null 2>&1; is $? 2 "missing SERVICE: exit 2"
"$bin" frob x >/dev/null 2>&1; is $? 2 "unknown command: exit 2"
"$bin" --layout zk list x >/dev/null 2>&1; is $? 2 "unknown layout: exit 2"
"$bin" register 'not a url' >/dev/null 2>&1; is $? 2 "malformed URL: exit 2"
"$bin" register 'dubbo://h:1' >/dev/null 2>&1; is $? 2 "URL without interface: exit 2"
"$bin" list a/b >/dev/null 2>&1; is $? 2 "'/' in SERVICE: exit 2"
"$bin" -r relative list x >/dev/null 2>&1; is $? 2 "relative --root: exit 2"
"$bin" -t 0 list x >/dev/null 2>&1; is $? 2 "bad --session-timeout: exit 2"
"$bin" --bogus list x >/dev/null 2>&1; is $? 2 "unknown option: exit 2"
"$bin" -s nonsense list x >/dev/null 2>&1; is $? 2 "bad connect string: exit 2"
"$bin" -s 127.0.0.1:1 -t 1500 list x >/dev/null 2>&1; is $? 3 "unreachable server: exit 3"
done_testing
