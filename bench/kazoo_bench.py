#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kazoo side of zkr's lock and queue benchmarks.

Usage: kazoo_bench.py HOSTS SCENARIO N

SCENARIO:
  uncontended   one client, one kazoo Lock on a fresh path: 200 untimed
                warm-up cycles, then N acquire+release cycles
  contended:K   K client sessions (one thread each), each with its own Lock
                on one shared path, looping acquire/release; timed until N
                acquires in total (after an untimed warm-up round)
  queue-put     kazoo Queue: put N items of 16 bytes
  queue-take    fill N items untimed, then get N items
  queue-take:K  fill N items untimed, then K client sessions (one thread
                each), each with its own Queue on the same path, get them
                together until the queue is empty; timed from the common
                start to the N-th get
(queue scenarios run 200 untimed warm-up operations on a separate path
first, as the Curator bench does.)

Prints exactly one line on stdout:  RESULT kazoo <scenario> <value> <unit>
Exit 0 on success; 1 with a message on stderr on any error; 2 on usage.
"""

import logging
import os
import sys
import threading
import time

SESSION_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 30.0
WARMUP = 200
ITEM_SIZE = 16


def usage(why):
    sys.stderr.write("kazoo_bench: %s\n" % why)
    sys.stderr.write("usage: kazoo_bench.py HOSTS SCENARIO N\n  SCENARIO: "
                     "uncontended | contended:K | queue-put | queue-take | "
                     "queue-take:K\n")
    sys.exit(2)


def positive(what, text):
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        usage("%s must be a positive integer: %r" % (what, text))
    return value


def connect(hosts):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S)
    client.start(timeout=CONNECT_TIMEOUT_S)
    return client


def close(client):
    try:
        client.stop()
        client.close()
    except Exception:
        pass


def uncontended(hosts, base, n):
    client = connect(hosts)
    try:
        lock = client.Lock(base + "/uncontended")
        for _ in range(WARMUP):
            lock.acquire()
            lock.release()
        t0 = time.perf_counter()
        for _ in range(n):
            lock.acquire()
            lock.release()
        return n / (time.perf_counter() - t0)
    finally:
        close(client)


def race(workers, target, step, what):
    """Run step(w) in a loop on one thread per worker, all started together,
    until `target` steps succeeded in total; a step returning False ends its
    worker early (nothing left). Returns (seconds from the common start to
    the target-th step, steps done). Raises the first worker's failure."""
    state = {"done": 0, "end": None, "error": None}
    guard = threading.Lock()
    go = threading.Event()

    def worker(w):
        try:
            go.wait()
            while True:
                with guard:
                    if state["done"] >= target or state["error"]:
                        return
                if not step(w):
                    return
                with guard:
                    state["done"] += 1
                    if state["done"] == target:
                        state["end"] = time.perf_counter()
        except Exception as exc:
            with guard:
                if state["error"] is None:
                    state["error"] = exc

    threads = [threading.Thread(target=worker, args=(w,), daemon=True)
               for w in workers]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    if state["error"] is not None:
        raise RuntimeError("%s failed: %r" % (what, state["error"]))
    end = state["end"] if state["end"] is not None else time.perf_counter()
    return end - t0, state["done"]


def contended_round(locks, target):
    """Every lock loops acquire/release until `target` acquires in total.

    Returns seconds from the common start to the target-th hold."""
    def hold(lock):
        lock.acquire()
        lock.release()
        return True

    return race(locks, target, hold, "contender")[0]


def contended(hosts, base, k, n):
    clients = []
    try:
        path = base + "/contended"
        locks = []
        for _ in range(k):
            client = connect(hosts)
            clients.append(client)
            locks.append(client.Lock(path))
        contended_round(locks, max(WARMUP, 2 * k))  # warm-up, untimed
        return n / contended_round(locks, n)
    finally:
        for client in clients:
            close(client)


def item(i):
    data = ("item-%011d" % i).encode("ascii")
    assert len(data) == ITEM_SIZE
    return data


def warm_queue(client, base):
    """Untimed warm-up of the queue code paths on a separate path."""
    warm = client.Queue(base + "/warmup")
    for i in range(WARMUP):
        warm.put(item(i))
    for i in range(WARMUP):
        if warm.get() is None:
            raise RuntimeError("warm-up queue ran dry")


def queue(hosts, base, n, take):
    client = connect(hosts)
    try:
        warm_queue(client, base)
        q = client.Queue(base + "/queue")
        items = [item(i) for i in range(n)]
        t0 = time.perf_counter()
        for data in items:
            q.put(data)
        put_s = time.perf_counter() - t0
        if not take:
            return n / put_s
        t0 = time.perf_counter()
        for i in range(n):
            data = q.get()
            if data is None or len(data) != ITEM_SIZE:
                raise RuntimeError("bad item %d: %r" % (i, data))
        return n / (time.perf_counter() - t0)
    finally:
        close(client)


def queue_take_many(hosts, base, k, n):
    """K sessions drain one pre-filled queue together.

    No producer runs, so get() returning None means every item is gone.
    Returns items/s from the common start to the n-th get."""
    clients = []
    try:
        client = connect(hosts)
        clients.append(client)
        warm_queue(client, base)
        path = base + "/queue"
        filler = client.Queue(path)
        for i in range(n):
            filler.put(item(i))
        queues = []
        for _ in range(k):
            consumer = connect(hosts)
            clients.append(consumer)
            queues.append(consumer.Queue(path))
        def take(q):
            data = q.get()
            if data is None:
                return False    # empty: the others took the rest
            if len(data) != ITEM_SIZE:
                raise RuntimeError("bad item: %r" % (data,))
            return True

        secs, taken = race(queues, n, take, "consumer")
        if taken != n:
            raise RuntimeError("took %d of %d items" % (taken, n))
        return n / secs
    finally:
        for client in clients:
            close(client)


def cleanup(hosts, base):
    try:
        client = connect(hosts)
        try:
            client.delete(base, recursive=True)
        finally:
            close(client)
    except Exception as exc:
        from kazoo.exceptions import NoNodeError
        if not isinstance(exc, NoNodeError):
            sys.stderr.write("kazoo_bench: cleanup of %s failed: %s\n"
                             % (base, exc))


def main(argv):
    if len(argv) != 4:
        usage("expected 3 arguments, got %d" % (len(argv) - 1))
    hosts, scenario = argv[1], argv[2]
    n = positive("N", argv[3])
    if not (scenario in ("uncontended", "queue-put", "queue-take")
            or scenario.startswith("contended:")
            or scenario.startswith("queue-take:")):
        usage("unknown SCENARIO %r" % scenario)
    k = 0
    if ":" in scenario:
        k = positive("K", scenario.split(":", 1)[1])
    logging.basicConfig(level=logging.CRITICAL)
    base = "/bench/kazoo-%d-%d" % (int(time.time() * 1000), os.getpid())

    try:
        if scenario == "uncontended":
            value, unit = uncontended(hosts, base, n), "cycles/s"
        elif k and scenario.startswith("contended:"):
            value, unit = contended(hosts, base, k, n), "handoffs/s"
        elif k:
            value, unit = queue_take_many(hosts, base, k, n), "items/s"
        else:
            value = queue(hosts, base, n, scenario == "queue-take")
            unit = "items/s"
    except Exception as exc:
        sys.stderr.write("kazoo_bench: %s: %s: %s\n"
                         % (scenario, type(exc).__name__, exc))
        cleanup(hosts, base)
        return 1
    cleanup(hosts, base)
    sys.stdout.write("RESULT kazoo %s %.1f %s\n" % (scenario, value, unit))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
