#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# check-log.sh LOGFILE KIND [N]
#
# Check a lock-holder log written by the interop peers (t/peers/Peer.java,
# t/peers/kazoo_peer.py, zkr's own peers): one line per event,
#     <pid> enter <mode>
#     <pid> leave <mode>
# in the order the events happened (all writers append with O_APPEND).
#
# KIND:
#   exclusive  no two holders ever overlap: after an "enter" the next event
#              must be the "leave" of the same pid
#   rw         modes are "read" or "write": readers may overlap each other,
#              a writer overlaps nobody
#   sem N      never more than N holders at once
#
# Also a violation: a malformed line (e.g. two lines interleaved), a pid
# entering while it already holds, a "leave" without a matching "enter".
# A hold still open at the end of the log (a killed holder) is reported but
# is no violation; a test that kills a holder and lets another take over
# should append "<pid> leave killed" for it once it is dead.
#
# Prints one summary line. Exit 0 ok, 1 violation (with the line number),
# 2 usage error or unreadable log.
set -euo pipefail

usage() {
  echo "usage: check-log.sh LOGFILE exclusive|rw|sem [N]" >&2
  exit 2
}

[[ $# -ge 2 && $# -le 3 ]] || usage
log=$1 kind=$2 max=${3:-}
case $kind in
  exclusive | rw) [[ -z $max ]] || usage ;;
  sem) [[ $max =~ ^[1-9][0-9]*$ ]] || usage ;;
  *) usage ;;
esac
[[ -r $log ]] || { echo "check-log: cannot read $log" >&2; exit 2; }

exec /usr/bin/python3 - "$log" "$kind" "${max:-0}" <<'PY'
import re
import sys

log, kind, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "exclusive":
    limit = 1
line_re = re.compile(r"^(\d+) (enter|leave) (\S+)$")

holders = {}        # pid -> mode of its current hold
pids = set()
entries = 0
max_conc = 0
switches = 0        # enters by a pid other than the previous enterer
last_enter_pid = None


def fail(lineno, text, why):
    sys.stdout.write("check-log: VIOLATION %s line %d: %s (%r)\n"
                     % (log, lineno, why, text))
    sys.exit(1)


with open(log, "r", encoding="utf-8", errors="replace") as f:
    lines = f.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
else:
    if lines:
        fail(len(lines), lines[-1], "last line not terminated")

for lineno, text in enumerate(lines, 1):
    m = line_re.match(text)
    if not m:
        fail(lineno, text, "malformed line")
    pid, event, mode = m.group(1), m.group(2), m.group(3)
    if event == "enter":
        if pid in holders:
            fail(lineno, text, "pid %s enters while already holding" % pid)
        if kind == "rw":
            if mode not in ("read", "write"):
                fail(lineno, text, "mode must be read or write")
            writers = [p for p, md in holders.items() if md == "write"]
            if mode == "write" and holders:
                fail(lineno, text, "writer %s enters while held by %s"
                     % (pid, ",".join("%s(%s)" % kv
                                      for kv in sorted(holders.items()))))
            if mode == "read" and writers:
                fail(lineno, text, "reader %s enters while writer %s holds"
                     % (pid, ",".join(writers)))
        elif len(holders) >= limit:
            fail(lineno, text, "%s enters while held by %s (limit %d)"
                 % (pid, ",".join(sorted(holders)), limit))
        holders[pid] = mode
        pids.add(pid)
        entries += 1
        if last_enter_pid is not None and last_enter_pid != pid:
            switches += 1
        last_enter_pid = pid
        max_conc = max(max_conc, len(holders))
    else:
        if pid not in holders:
            fail(lineno, text, "leave without enter by pid %s" % pid)
        del holders[pid]

summary = ("check-log: OK %s kind=%s%s holders=%d entries=%d "
           "max_concurrency=%d switches=%d open=%d"
           % (log, kind, (" N=%d" % limit) if kind == "sem" else "",
              len(pids), entries, max_conc, switches, len(holders)))
sys.stdout.write(summary + "\n")
PY
