#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkr-queue(1): put from an argument and from stdin, take, peek, size,
# waiting, exit codes.
. "$(dirname "$0")/tap.sh"
bin="$ZKR_TOP_BUILDDIR/examples/zkr-queue"
zk_start 1
export ZKR_HOSTS="$zk_hosts"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkr-qcli-XXXXXX")
zk_dirs="$zk_dirs $work"

is "$("$bin" size /cli/q)" 0 "size of a queue not yet created: 0"
"$bin" put /cli/q first; ok $? "put from an argument"
echo "second line" | "$bin" put /cli/q -; ok $? "put from stdin with -"
printf 'third' | "$bin" put /cli/q; ok $? "put from stdin without DATA"
is "$("$bin" size /cli/q)" 3 "size 3"
is "$("$bin" peek /cli/q)" first "peek shows the oldest"
is "$("$bin" size /cli/q)" 3 "peek removes nothing"
is "$("$bin" take /cli/q)" first "take: first"
"$bin" take /cli/q >"$work/second"
printf 'second line\n' | cmp -s - "$work/second"; ok $? "take writes the exact bytes (newline kept)"
is "$("$bin" take /cli/q -w 1)" third "take -w after PATH"
"$bin" take /cli/q -w 0.3 >/dev/null; is $? 1 "take -w 0.3 on an empty queue: exit 1"
"$bin" -w 0 take /cli/q >/dev/null; is $? 1 "take -w 0 on an empty queue: exit 1"
"$bin" peek /cli/q >/dev/null; is $? 1 "peek on an empty queue: exit 1"

# binary data round trip
head -c 5000 /dev/urandom >"$work/bin"
"$bin" put /cli/bin - <"$work/bin"; ok $? "put binary data"
"$bin" take /cli/bin >"$work/bin.out"
cmp -s "$work/bin" "$work/bin.out"; ok $? "binary data come back unchanged"

# a waiting take gets an item put later
("$bin" take /cli/wait -w 20 >"$work/waited"; echo $? >"$work/waited.rc") &
waiter=$!
sleep 1
"$bin" put /cli/wait late
wait $waiter
is "$(cat "$work/waited.rc")" 0 "a waiting take exits 0 once an item arrives"
is "$(cat "$work/waited")" late "with that item"

# sharded queues
"$bin" --shards 4 put /cli/sh a && "$bin" --shards 4 put /cli/sh b
ok $? "put into a sharded queue"
is "$("$bin" --shards 4 size /cli/sh)" 2 "sharded size"
got="$("$bin" --shards 4 take /cli/sh)$("$bin" --shards 4 take /cli/sh)"
case "$got" in ab|ba) r=0 ;; *) r=1 ;; esac
ok $r "both sharded items taken ($got)"

# too big
head -c 1100000 /dev/zero | "$bin" put /cli/big -; is $? 2 "an item over the limit: exit 2"

# usage errors
"$bin" >/dev/null 2>&1; is $? 2 "no arguments: exit 2"
"$bin" put >/dev/null 2>&1; is $? 2 "no PATH: exit 2"
"$bin" frob /cli/q 2>/dev/null; is $? 2 "unknown command: exit 2"
"$bin" take bad/path 2>/dev/null; is $? 2 "relative path: exit 2"
"$bin" take / 2>/dev/null; is $? 2 "root: exit 2"
"$bin" take /cli/q -w abc 2>/dev/null; is $? 2 "bad -w: exit 2"
"$bin" size /cli/q -w 1 2>/dev/null; is $? 2 "-w with size: exit 2"
"$bin" put /cli/q a b 2>/dev/null; is $? 2 "too many arguments: exit 2"
"$bin" --shards 0 size /cli/q 2>/dev/null; is $? 2 "bad --shards: exit 2"
"$bin" --bogus size /cli/q 2>/dev/null; is $? 2 "unknown option: exit 2"
"$bin" -s nonsense size /cli/q 2>/dev/null; is $? 2 "bad connect string: exit 2"
"$bin" --help | grep -q "Exit status"; ok $? "--help documents the exit codes"
"$bin" -s 127.0.0.1:1 -t 2000 size /cli/q 2>/dev/null; is $? 3 "unreachable server: exit 3"
done_testing
