#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kazoo lock client for zkr's interoperability tests.

Usage: kazoo_peer.py HOSTS MODE PATH COUNT LOGFILE HOLD_MS

MODE:
  mutex        kazoo Lock with extra_lock_patterns=("-lock-",), so Curator's
               and zkr's "_c_<uuid>-lock-<seq>" nodes count as contenders.
               Curator does NOT see kazoo's "<hex>__lock__<seq>" nodes (it
               sorts them after its own), so a Curator and a kazoo holder on
               one mutex can overlap, whatever zkr does.
  mutex-curator  as mutex, but the kazoo node is named "<hex>-lock-<seq>"
               (a Lock subclass overriding kazoo's private _NODE_NAME), which
               Curator orders correctly: safe together with Curator and zkr
  read, write  kazoo ReadLock / WriteLock (kazoo layout, not Curator's).
               kazoo 2.8 can deadlock when readers and writers mix: a reader
               waits for ANY writer node, even a later one (kazoo #649, fixed
               after 2.8); readers-only or writers-only runs are fine
  sem:N        kazoo Semaphore with max_leases=N (kazoo layout, NOT
               compatible with Curator's InterProcessSemaphoreV2)
  holdforever  like mutex: acquire once, log "enter", print "held", then
               sleep until killed (COUNT and HOLD_MS are ignored)

Prints "ready" once connected. Then COUNT times: acquire, append
"<pid> enter <MODE>", sleep HOLD_MS, append "<pid> leave <MODE>", release.
Each line is one os.write() on an O_APPEND descriptor. Exit 0 when done,
1 with a message on stderr on any error, 2 on a usage error.
"""

import inspect
import os
import sys
import time

SESSION_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 30.0
CURATOR_LOCK_PATTERN = "-lock-"


def usage(why):
    sys.stderr.write("kazoo_peer: %s\n" % why)
    sys.stderr.write("usage: kazoo_peer.py HOSTS MODE PATH COUNT LOGFILE "
                     "HOLD_MS\n  MODE: mutex | mutex-curator | read | write | "
                     "sem:N | holdforever\n")
    sys.exit(2)


def non_negative(what, text):
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if value < 0:
        usage("%s must be a non-negative integer: %r" % (what, text))
    return value


def lock_supports_extra_patterns(lock_class):
    """True when this kazoo's Lock takes extra_lock_patterns (>= 2.7.1)."""
    try:
        params = inspect.signature(lock_class.__init__).parameters
    except (TypeError, ValueError):
        return False
    return "extra_lock_patterns" in params


class Holder(object):
    """acquire()/release() around one kazoo recipe object."""

    def __init__(self, recipe):
        self.recipe = recipe

    def acquire(self):
        if not self.recipe.acquire():
            raise RuntimeError("acquire returned False")

    def release(self):
        self.recipe.release()


def make_holder(client, mode, path):
    from kazoo.recipe.lock import Lock, ReadLock, WriteLock, Semaphore

    ident = "%s:%d" % (os.uname()[1], os.getpid())
    if mode in ("mutex", "holdforever", "mutex-curator"):
        if not lock_supports_extra_patterns(Lock):
            raise RuntimeError(
                "this kazoo's Lock has no extra_lock_patterns parameter "
                "(needs kazoo >= 2.7.1); refusing mode %s because it could "
                "not see Curator/zkr contenders" % mode)
        lock_class = Lock
        if mode == "mutex-curator":
            class CuratorNamedLock(Lock):
                _NODE_NAME = CURATOR_LOCK_PATTERN
            lock_class = CuratorNamedLock
        return Holder(lock_class(client, path, ident,
                                 extra_lock_patterns=(CURATOR_LOCK_PATTERN,)))
    if mode == "read":
        return Holder(ReadLock(client, path, ident))
    if mode == "write":
        return Holder(WriteLock(client, path, ident))
    if mode.startswith("sem:"):
        max_leases = non_negative("sem:N", mode[4:])
        if max_leases < 1:
            usage("sem:N needs N >= 1")
        return Holder(Semaphore(client, path, ident, max_leases=max_leases))
    usage("unknown MODE %r" % mode)
    return None


def log_line(fd, text):
    data = text.encode("utf-8")
    if os.write(fd, data) != len(data):
        raise IOError("short write to log")


def main(argv):
    if len(argv) != 7:
        usage("expected 6 arguments, got %d" % (len(argv) - 1))
    hosts, mode, path = argv[1], argv[2], argv[3]
    count = non_negative("COUNT", argv[4])
    log_file = argv[5]
    hold_ms = non_negative("HOLD_MS", argv[6])
    if not path.startswith("/") or (len(path) > 1 and path.endswith("/")):
        usage("PATH must be an absolute ZooKeeper path: %r" % path)
    if not (mode in ("mutex", "mutex-curator", "read", "write", "holdforever")
            or mode.startswith("sem:")):
        usage("unknown MODE %r" % mode)

    import logging
    logging.basicConfig(level=logging.CRITICAL)
    from kazoo.client import KazooClient

    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S)
    rc = 0
    try:
        client.start(timeout=CONNECT_TIMEOUT_S)
        holder = make_holder(client, mode, path)
        sys.stdout.write("ready\n")
        sys.stdout.flush()

        pid = os.getpid()
        if mode == "holdforever":
            holder.acquire()
            log_line(fd, "%d enter %s\n" % (pid, mode))
            sys.stdout.write("held\n")
            sys.stdout.flush()
            while True:
                time.sleep(3600)

        enter = "%d enter %s\n" % (pid, mode)
        leave = "%d leave %s\n" % (pid, mode)
        for _ in range(count):
            holder.acquire()
            log_line(fd, enter)
            if hold_ms:
                time.sleep(hold_ms / 1000.0)
            log_line(fd, leave)
            holder.release()
    except Exception as exc:  # report any failure, exit non-zero
        sys.stderr.write("kazoo_peer: %s on %s: %s: %s\n"
                         % (mode, path, type(exc).__name__, exc))
        rc = 1
    finally:
        try:
            client.stop()
            client.close()
        except Exception as exc:
            sys.stderr.write("kazoo_peer: close: %s\n" % exc)
            rc = 1
        os.close(fd)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
