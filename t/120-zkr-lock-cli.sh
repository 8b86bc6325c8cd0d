#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkr-lock(1): runs the command under the lock, passes the token, exit codes.
. "$(dirname "$0")/tap.sh"
bin="$ZKR_TOP_BUILDDIR/examples/zkr-lock"
zk_start 1
export ZKR_HOSTS="$zk_hosts"

out=$("$bin" /cli/a -- sh -c 'echo "token=$ZKR_LOCK_TOKEN path=$ZKR_LOCK_PATH"')
ok $? "runs the command"
case "$out" in token=[1-9]*" path=/cli/a") r=0 ;; *) r=1 ;; esac
ok $r "command sees ZKR_LOCK_TOKEN and ZKR_LOCK_PATH ($out)"

"$bin" /cli/a -- sh -c 'exit 7'
is $? 7 "exits with the command's status"

"$bin" /cli/a -- sh -c 'kill -TERM $$'
is $? 143 "128+signal when the command is killed"

"$bin" /cli/a -- /nonexistent/program 2>/dev/null
is $? 127 "127 when the command does not exist"

# a holder in the background
"$bin" /cli/b -- sleep 3 &
holder=$!
sleep 1
"$bin" -n /cli/b -- true
is $? 1 "-n: exit 1 while held elsewhere"
"$bin" -w 0.3 /cli/b -- true
is $? 1 "-w 0.3: exit 1 when not acquired in time"
"$bin" -w 10 /cli/b -- true
is $? 0 "-w 10: acquired once the holder is done"
wait $holder
is $? 0 "the background holder exited cleanly"

# tokens grow from holder to holder
t1=$("$bin" /cli/c -- sh -c 'echo $ZKR_LOCK_TOKEN')
t2=$("$bin" /cli/c -- sh -c 'echo $ZKR_LOCK_TOKEN')
[ "$t2" -gt "$t1" ]; ok $? "fencing token grows ($t1 < $t2)"

# shared and exclusive
"$bin" --shared /cli/rw -- sleep 2 &
reader=$!
sleep 1
"$bin" --shared -n /cli/rw -- true
is $? 0 "a second shared holder gets in"
"$bin" -x -n /cli/rw -- true
is $? 1 "an exclusive holder does not"
wait $reader

# usage errors
"$bin" >/dev/null 2>&1; is $? 2 "no arguments: exit 2"
"$bin" /cli/x >/dev/null 2>&1; is $? 2 "no command: exit 2"
"$bin" -n -w 1 /cli/x -- true 2>/dev/null; is $? 2 "-n with -w: exit 2"
"$bin" --shared -x /cli/x -- true 2>/dev/null; is $? 2 "--shared with -x: exit 2"
"$bin" -w abc /cli/x -- true 2>/dev/null; is $? 2 "bad -w: exit 2"
"$bin" bad/path -- true 2>/dev/null; is $? 2 "relative path: exit 2"
"$bin" --bogus /cli/x -- true 2>/dev/null; is $? 2 "unknown option: exit 2"
"$bin" -s nonsense /cli/x -- true 2>/dev/null; is $? 2 "bad connect string: exit 2"
"$bin" --help | grep -q "Exit status"; ok $? "--help documents the exit codes"
"$bin" -s 127.0.0.1:1 -t 2000 /cli/x -- true 2>/dev/null; is $? 3 "unreachable server: exit 3"

# lock lost while the command runs: stop the server under it
"$bin" -t 1000 /cli/lost -- sleep 60 2>/dev/null &
victim=$!
sleep 1.5
"$ZKR_SERVER" stop --dir "$zk_dir" >/dev/null 2>&1
wait $victim
is $? 4 "exit 4 and the command is terminated when the lock is lost"
done_testing
