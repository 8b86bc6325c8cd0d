# SPDX-License-Identifier: Apache-2.0
"""Tests of the zkr Python binding against a real ZooKeeper server.

Needs ZKR_HOSTS (the server's connect string) and, for the interoperability
tests, ZKR_LOCK_CLI, ZKR_QUEUE_CLI, ZKR_REGISTRY_CLI and ZKR_CONFIG_CLI (the
zkr-lock, zkr-queue, zkr-registry and zkr-config programs). Prints TAP.
"""

import functools
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import zkr

HOSTS = os.environ["ZKR_HOSTS"]
ZKR_LOCK_CLI = os.environ.get("ZKR_LOCK_CLI")
ZKR_QUEUE_CLI = os.environ.get("ZKR_QUEUE_CLI")
ZKR_REGISTRY_CLI = os.environ.get("ZKR_REGISTRY_CLI")
ZKR_CONFIG_CLI = os.environ.get("ZKR_CONFIG_CLI")
BASE = "/py-%d" % os.getpid()
# Upper bound for waits on conditions that should come true at once; a
# failing test then fails instead of hanging.
PATIENCE = 30.0


def wait_for(cond, what):
    """Polls cond() until it is true; fails after PATIENCE seconds."""
    deadline = time.monotonic() + PATIENCE
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for " + what)
        time.sleep(0.01)


class ZkrTestCase(unittest.TestCase):
    """Each test works under its own chroot."""

    def setUp(self):
        self.root = "%s/%s" % (BASE, self._testMethodName)
        self.c = self.client()

    def client(self, **kw):
        kw.setdefault("chroot", self.root)
        c = zkr.Client(HOSTS, **kw)
        self.addCleanup(c.close)
        return c


class ModuleTest(unittest.TestCase):
    def test_constants_and_strerror(self):
        self.assertEqual(zkr.OK, 0)
        self.assertEqual(zkr.ENONODE, -101)
        self.assertEqual(zkr.ENODEEXISTS, -110)
        self.assertEqual(zkr.EINVAL, -1000)
        self.assertEqual(zkr.strerror(zkr.ENONODE), "node does not exist")
        self.assertEqual(zkr.err_name(zkr.ETIMEDOUT), "ETIMEDOUT")
        self.assertEqual(zkr.err_name(12345), "EUNKNOWN")
        self.assertEqual(zkr.strerror(2 ** 80), "unknown error")
        self.assertRaises(TypeError, zkr.strerror, "x")
        self.assertEqual(zkr.State.LOST, 4)
        self.assertEqual(zkr.State(1).name, "CONNECTED")
        self.assertTrue(zkr.__version__)

    def test_exception_hierarchy(self):
        for cls in (zkr.LockTimeout, zkr.ConnectionLost, zkr.SessionExpired,
                    zkr.NoNode, zkr.NodeExists, zkr.BadVersion,
                    zkr.NotEmpty, zkr.NoAuth, zkr.InvalidArgument,
                    zkr.Closed, zkr.Canceled, zkr.Deadlock, zkr.Busy,
                    zkr.NotHeld, zkr.AuthFailed):
            self.assertTrue(issubclass(cls, zkr.Error), cls)
        self.assertTrue(issubclass(zkr.InvalidArgument, ValueError))
        self.assertTrue(issubclass(zkr.NotHeld, RuntimeError))
        self.assertTrue(issubclass(zkr.AuthFailed, zkr.NoAuth))
        e = zkr.Error(zkr.ENONODE, "gone")
        self.assertEqual((e.code, e.message, e.name, str(e)),
                         (-101, "gone", "ENONODE", "gone"))
        e = zkr.NoNode(zkr.ENONODE)
        self.assertEqual(e.message, "node does not exist")
        self.assertIsNone(zkr.Error().code)


class ClientTest(ZkrTestCase):
    def test_connect(self):
        c = self.c
        self.assertEqual(c.state, zkr.State.CONNECTED)
        self.assertNotEqual(c.session_id, 0)
        self.assertEqual(c.session_count, 1)
        self.assertGreater(c.session_timeout, 0)
        self.assertIn(":", c.server)
        self.assertFalse(c.closed)
        self.assertIn("CONNECTED", repr(c))
        self.assertTrue(c.wait_connected(timeout=5))

    def test_crud(self):
        c = self.c
        self.assertEqual(c.create("/a", b"one"), "/a")
        data, st = c.get("/a")
        self.assertEqual(data, b"one")
        self.assertEqual(st.version, 0)
        self.assertEqual(st.data_length, 3)
        st = c.set("/a", bytearray(b"two"), version=0)
        self.assertEqual(st.version, 1)
        self.assertEqual(c.get("/a")[0], b"two")
        self.assertEqual(c.exists("/a").version, 1)
        self.assertIsNone(c.exists("/b"))
        seq = c.create("/a/s-", sequential=True)
        self.assertRegex(seq, r"^/a/s-\d{10}$")
        eph = c.create("/a/e", b"", ephemeral=True)
        self.assertEqual(c.exists(eph).ephemeral_owner, c.session_id)
        c.create("/a/n", None)
        self.assertEqual(c.get("/a/n")[0], b"")
        self.assertEqual(sorted(c.children("/a")),
                         sorted(["e", "n", seq.rsplit("/", 1)[1]]))
        c.delete("/a/n")
        c.delete("/a/e", version=0)
        c.ensure_path("/x/y/z")
        self.assertIsNotNone(c.exists("/x/y/z"))
        c.ensure_path("/x/y/z")
        c.delete_recursive("/x")
        self.assertIsNone(c.exists("/x"))
        c.delete_recursive("/x")
        c.flush()
        c.flush(timeout=5)

    def test_errors(self):
        c = self.c
        c.create("/p", b"v")
        c.create("/p/child")
        with self.assertRaises(zkr.NoNode) as cm:
            c.get("/missing")
        self.assertEqual(cm.exception.code, zkr.ENONODE)
        self.assertIn("/missing", str(cm.exception))
        self.assertRaises(zkr.NoNode, c.create, "/no/parent")
        self.assertRaises(zkr.NoNode, c.delete, "/missing")
        self.assertRaises(zkr.NoNode, c.children, "/missing")
        self.assertRaises(zkr.NodeExists, c.create, "/p")
        self.assertRaises(zkr.BadVersion, c.set, "/p", b"x", 7)
        self.assertRaises(zkr.BadVersion, c.delete, "/p/child", 3)
        self.assertRaises(zkr.NotEmpty, c.delete, "/p")
        for bad in ("relative", "/trailing/", "/a//b", "/a/./b", ""):
            with self.assertRaises(zkr.InvalidArgument) as cm:
                c.exists(bad)
            self.assertEqual(cm.exception.code, zkr.EBADPATH)
            self.assertRaises(ValueError, c.get, bad)
        self.assertRaises(ValueError, c.get, "/nul\0byte")
        with self.assertRaises(zkr.InvalidArgument) as cm:
            c.set("/p", b"x" * (zkr.MAX_DATA + 1))
        self.assertEqual(cm.exception.code, zkr.ETOOBIG)
        self.assertRaises(TypeError, c.create, "/s", "text, not bytes")
        self.assertRaises(TypeError, c.set, "/p", "text")
        self.assertRaises(TypeError, c.get, 5)
        self.assertRaises(ValueError, c.flush, -5)
        self.assertRaises(ValueError, c.flush, float("nan"))

    def test_no_auth(self):
        owner = self.client(digest="alice:secret", acl=zkr.ACL_CREATOR_ALL)
        owner.create("/private", b"s")
        self.addCleanup(owner.delete, "/private")
        with self.assertRaises(zkr.NoAuth) as cm:
            self.c.get("/private")
        self.assertEqual(cm.exception.code, zkr.ENOAUTH)
        self.assertEqual(owner.get("/private")[0], b"s")

    def test_bad_client_arguments(self):
        with self.assertRaises(zkr.InvalidArgument) as cm:
            zkr.Client("nonsense")
        self.assertEqual(cm.exception.code, zkr.EHOSTS)
        self.assertRaises(zkr.InvalidArgument, zkr.Client, HOSTS,
                          chroot="bad")
        self.assertRaises(zkr.InvalidArgument, zkr.Client, HOSTS,
                          digest="nocolon")
        self.assertRaises(zkr.InvalidArgument, zkr.Client, HOSTS, acl=99)
        self.assertRaises(zkr.InvalidArgument, zkr.Client, HOSTS,
                          acl=zkr.ACL_CREATOR_ALL)
        self.assertRaises(ValueError, zkr.Client, HOSTS, session_timeout=0)
        self.assertRaises(ValueError, zkr.Client, HOSTS,
                          connect_timeout=-1)
        self.assertRaises(TypeError, zkr.Client, HOSTS, session_timeout="x")
        with self.assertRaises(zkr.ConnectionLost) as cm:
            zkr.Client("127.0.0.1:1", connect_timeout=0.3)
        self.assertEqual(cm.exception.code, zkr.ECONNECT)

    def test_closed(self):
        c = self.client()
        lock = c.Lock("/l")
        with c:
            c.create("/n", ephemeral=True)
        self.assertTrue(c.closed)
        self.assertEqual(c.state, zkr.State.CLOSED)
        self.assertEqual(c.session_id, 0)
        self.assertIsNone(c.server)
        c.close()
        self.assertRaises(zkr.Closed, c.get, "/n")
        self.assertRaises(zkr.Closed, c.Lock, "/l")
        self.assertRaises(zkr.Closed, c.expire_session)
        with self.assertRaises(zkr.Closed):
            with c:
                pass
        # objects made before outlive the session but can no longer lock
        self.assertRaises(zkr.Closed, lock.acquire)
        self.assertFalse(lock.is_held)
        self.assertIsNone(self.c.exists("/n"))

    def test_objects_keep_the_client_alive(self):
        lock = self.client().Lock("/keep")
        gc.collect()
        with lock as token:
            self.assertGreater(token, 0)

    def test_gc_closes_session(self):
        c = zkr.Client(HOSTS, chroot=self.root)
        c.create("/eph", ephemeral=True)
        # a reference cycle: client -> listener -> client
        c.add_listener(functools.partial(lambda client, state: None, c))
        del c
        gc.collect()
        self.assertIsNone(self.c.exists("/eph"))


class ListenerTest(ZkrTestCase):
    def test_expire_session_lost_then_connected(self):
        events, threads = [], set()

        def listener(state):
            events.append(state)
            threads.add(threading.get_ident())

        self.c.add_listener(listener)
        old = self.c.session_id
        self.c.expire_session()
        wait_for(lambda: zkr.State.LOST in events and
                 zkr.State.CONNECTED in events[events.index(zkr.State.LOST):],
                 "LOST then CONNECTED")
        self.assertIsInstance(events[0], zkr.State)
        self.assertNotIn(threading.get_ident(), threads)
        self.assertNotEqual(self.c.session_id, old)
        self.assertEqual(self.c.session_count, 2)
        self.assertTrue(self.c.remove_listener(listener))
        self.assertFalse(self.c.remove_listener(listener))
        self.c.close()
        self.assertNotIn(zkr.State.CLOSED, events)

    def test_close_reports_closed(self):
        events = []
        c = self.client()
        c.add_listener(events.append)
        c.close()
        self.assertEqual(events, [zkr.State.CLOSED])
        c.close()
        self.assertEqual(events, [zkr.State.CLOSED])

    def test_listener_errors_and_blocking_calls(self):
        seen, failures = [], []
        lock = self.c.Lock("/dl")

        def blocking(state):
            try:
                self.c.get("/")
            except zkr.Deadlock as e:
                seen.append(("get", e.code))
            try:
                lock.acquire()
            except zkr.Deadlock as e:
                seen.append(("acquire", e.code))
            try:
                lock.acquire(blocking=False)
            except zkr.Deadlock as e:
                seen.append(("try", e.code))

        def failing(state):
            raise RuntimeError("listener failure")

        old_hook = sys.unraisablehook
        sys.unraisablehook = lambda u: failures.append(u.exc_value)
        self.addCleanup(setattr, sys, "unraisablehook", old_hook)
        self.c.add_listener(failing)
        self.c.add_listener(blocking)
        self.assertRaises(TypeError, self.c.add_listener, 42)
        self.c.expire_session()
        wait_for(lambda: len(seen) >= 3, "the listener's calls")
        self.assertEqual(seen[:3], [("get", zkr.EDEADLK),
                                    ("acquire", zkr.EDEADLK),
                                    ("try", zkr.EDEADLK)])
        self.assertTrue(failures)
        self.assertIsInstance(failures[0], RuntimeError)
        self.assertFalse(lock.is_held)
        self.c.remove_listener(blocking)
        self.c.remove_listener(failing)

    def test_close_from_listener_during_a_call(self):
        # The listener closes the client while another thread is inside
        # expire_session(): the native client must outlive that call.
        c = self.client()
        c.create("/eph", ephemeral=True)
        seen, errors = [], []

        def listener(state):
            seen.append(state)
            if state == zkr.State.SUSPENDED:
                c.close()

        def expire():
            try:
                c.expire_session()
            except zkr.Error as e:
                errors.append(e)

        c.add_listener(listener)
        t = threading.Thread(target=expire)
        t.start()
        t.join(PATIENCE)
        self.assertFalse(t.is_alive())
        self.assertTrue(c.closed)
        self.assertEqual(seen, [zkr.State.SUSPENDED, zkr.State.CLOSED])
        self.assertRaises(zkr.Closed, c.get, "/")
        wait_for(lambda: self.c.exists("/eph") is None, "the session's end")

    def test_lock_lost_with_session(self):
        lock = self.c.Lock("/lost")
        with lock:
            self.assertTrue(lock.is_held)
            self.c.expire_session()
            wait_for(lambda: lock.token is None, "the lock to be lost")
            self.assertFalse(lock.is_held)
        # leaving the block after the loss is no error
        self.assertTrue(lock.acquire(timeout=PATIENCE))
        lock.release()


class LockTest(ZkrTestCase):
    def test_context_manager_returns_token(self):
        lock = self.c.Lock("/locks/x")
        self.assertFalse(lock.is_held)
        self.assertIsNone(lock.token)
        with lock as token:
            self.assertIsInstance(token, int)
            self.assertGreater(token, 0)
            self.assertTrue(lock.is_held)
            self.assertEqual(lock.token, token)
            node = lock.node
            self.assertRegex(node, r"^_c_[0-9a-f-]{36}-lock-\d{10}$")
            self.assertEqual(self.c.exists("/locks/x/" + node).czxid, token)
        self.assertFalse(lock.is_held)
        self.assertIsNone(lock.node)
        other = self.client().Lock("/locks/x")
        with other as token2:
            self.assertGreater(token2, token)
        self.assertEqual(lock.path, "/locks/x")
        self.assertIn("/locks/x", repr(lock))

    def test_data(self):
        lock = self.c.Lock("/d", data=b"me")
        with lock:
            self.assertEqual(self.c.get("/d/" + lock.node)[0], b"me")
        self.assertRaises(TypeError, self.c.Lock, "/d", data="text")
        self.assertRaises(zkr.InvalidArgument, self.c.Lock, "/d",
                          data=b"x" * (zkr.MAX_DATA + 1))
        self.assertRaises(zkr.InvalidArgument, self.c.Lock, "bad")
        self.assertRaises(TypeError, zkr.Lock, object(), "/d")

    def test_timeout(self):
        holder = self.c.Lock("/t")
        waiter = self.client().Lock("/t", timeout=0.2)
        self.assertTrue(holder.acquire())
        self.assertFalse(waiter.acquire(timeout=0.2))
        self.assertFalse(waiter.acquire(blocking=False))
        self.assertFalse(waiter.acquire(timeout=0))
        with self.assertRaises(zkr.LockTimeout) as cm:
            with waiter:
                self.fail("entered a held lock")
        self.assertEqual(cm.exception.code, zkr.ETIMEDOUT)
        self.assertRaises(ValueError, waiter.acquire, False, 1.0)
        self.assertRaises(ValueError, waiter.acquire, timeout=-2)
        self.assertFalse(waiter.is_held)
        # a timed-out waiter leaves no node behind
        self.c.flush()
        self.assertEqual(len(self.c.children("/t")), 1)
        holder.release()
        self.assertTrue(waiter.acquire(timeout=PATIENCE))
        waiter.release()

    def test_reentrancy_and_release_errors(self):
        lock = self.c.Lock("/r")
        self.assertRaises(zkr.NotHeld, lock.release)
        self.assertTrue(lock.acquire())
        self.assertTrue(lock.acquire())
        lock.release()
        self.assertTrue(lock.is_held)
        lock.release()
        self.assertFalse(lock.is_held)
        with self.assertRaises(RuntimeError):
            lock.release()
        strict = self.c.Lock("/r2", reentrant=False)
        with strict:
            with self.assertRaises(zkr.Busy) as cm:
                strict.acquire()
            self.assertEqual(cm.exception.code, zkr.EBUSY)

    def test_cancel_from_another_thread(self):
        holder = self.c.Lock("/c")
        waiter = self.client().Lock("/c")
        self.assertFalse(waiter.cancel())
        result = []

        def run():
            try:
                waiter.acquire()
                result.append("acquired")
            except zkr.Canceled as e:
                result.append(e.code)

        with holder:
            t = threading.Thread(target=run)
            t.start()
            wait_for(lambda: len(self.c.children("/c")) == 2, "the waiter")
            self.assertTrue(waiter.cancel())
            t.join(PATIENCE)
        self.assertEqual(result, [zkr.ECANCELED])

    def test_close_while_acquiring(self):
        holder = self.c.Lock("/cw")
        waiter = self.client().Lock("/cw")
        result = []

        def run():
            try:
                waiter.acquire()
            except zkr.Closed:
                result.append("closed")

        with holder:
            t = threading.Thread(target=run)
            t.start()
            wait_for(lambda: len(self.c.children("/cw")) == 2, "the waiter")
            waiter.close()
            t.join(PATIENCE)
        self.assertEqual(result, ["closed"])
        self.assertTrue(waiter.closed)
        self.assertRaises(zkr.Closed, waiter.acquire)
        waiter.close()

    def test_client_closed_while_acquiring(self):
        holder = self.c.Lock("/cc")
        other = self.client()
        waiter = other.Lock("/cc")
        result = []

        def run():
            try:
                waiter.acquire()
            except zkr.Error as e:
                result.append(type(e))

        with holder:
            t = threading.Thread(target=run)
            t.start()
            wait_for(lambda: len(self.c.children("/cc")) == 2, "the waiter")
            other.close()
            t.join(PATIENCE)
        self.assertEqual(result, [zkr.Closed])

    def test_gil_released_while_waiting(self):
        holder = self.c.Lock("/g")
        waiter = self.client().Lock("/g")
        progress = {"work": 0, "inside": False, "seen_inside": None}
        self.assertTrue(holder.acquire())

        def helper():
            # Runs Python code while the main thread is blocked in acquire:
            # impossible if acquire held the GIL.
            wait_for(lambda: len(self.c.children("/g")) == 2, "the waiter")
            for _ in range(10000):
                progress["work"] += 1
            progress["seen_inside"] = progress["inside"]
            holder.release()

        t = threading.Thread(target=helper)
        t.start()
        progress["inside"] = True
        got = waiter.acquire(timeout=PATIENCE)
        progress["inside"] = False
        t.join(PATIENCE)
        self.assertTrue(got)
        self.assertEqual(progress["work"], 10000)
        self.assertTrue(progress["seen_inside"])
        waiter.release()

    def test_keyboard_interrupt_cancels(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals reach the main thread only")
        holder = self.client().Lock("/ki")
        waiter = self.c.Lock("/ki")

        def interrupt():
            wait_for(lambda: len(self.c.children("/ki")) == 2, "the waiter")
            os.kill(os.getpid(), signal.SIGINT)

        with holder:
            t = threading.Thread(target=interrupt)
            t.start()
            with self.assertRaises(KeyboardInterrupt):
                waiter.acquire()
            t.join(PATIENCE)
            self.assertFalse(waiter.is_held)
            self.c.flush()
            self.assertEqual(len(self.c.children("/ki")), 1)


class RWLockTest(ZkrTestCase):
    def test_readers_share_writers_exclude(self):
        rw1 = self.c.RWLock("/rw")
        rw2 = self.client().RWLock("/rw")
        rw3 = self.client().RWLock("/rw", timeout=0.1)
        self.assertIs(rw1.read_lock, rw1.read_lock)
        with rw1.read_lock as token:
            self.assertGreater(token, 0)
            self.assertTrue(rw2.read_lock.acquire(blocking=False))
            self.assertFalse(rw3.write_lock.acquire(blocking=False))
            with self.assertRaises(zkr.LockTimeout):
                with rw3.write_lock:
                    pass
            names = self.c.children("/rw")
            self.assertEqual(sum("__READ__" in n for n in names), 2)
            rw2.read_lock.release()
        self.assertTrue(rw3.write_lock.acquire(timeout=PATIENCE))
        self.assertIn("__WRIT__", rw3.write_lock.node)
        self.assertFalse(rw1.read_lock.acquire(blocking=False))
        self.assertFalse(rw2.write_lock.acquire(timeout=0.1))
        rw3.write_lock.release()
        self.assertTrue(rw1.read_lock.acquire(timeout=PATIENCE))
        rw1.read_lock.release()
        self.assertIn("write side", repr(rw1.write_lock))
        self.assertEqual(rw1.path, "/rw")

    def test_close(self):
        rw = self.c.RWLock("/rwc")
        side = rw.write_lock
        self.assertTrue(side.acquire())
        side.close()
        self.assertTrue(rw.closed)
        self.assertTrue(rw.read_lock.closed)
        self.assertFalse(side.is_held)
        self.assertRaises(zkr.Closed, rw.read_lock.acquire)
        rw.close()
        self.c.flush()
        self.assertEqual(self.c.children("/rwc"), [])
        del rw
        gc.collect()
        self.assertTrue(side.closed)


class SemaphoreTest(ZkrTestCase):
    def test_counts(self):
        s1 = self.c.Semaphore("/sem", 3)
        s2 = self.client().Semaphore("/sem", 3)
        self.assertEqual((s1.held, s1.max_leases), (0, 3))
        self.assertTrue(s1.acquire(2))
        self.assertEqual(s1.held, 2)
        self.assertFalse(s2.acquire(2, blocking=False))
        self.assertFalse(s2.acquire(2, timeout=0.2))
        self.assertTrue(s2.acquire(1, blocking=False))
        self.assertFalse(s2.acquire(timeout=0.1))
        self.c.flush()
        self.assertEqual(len(self.c.children("/sem/leases")), 3)
        s1.release()
        self.assertTrue(s2.acquire(timeout=PATIENCE))
        self.assertEqual((s1.held, s2.held), (1, 2))
        self.assertRaises(zkr.NotHeld, s2.release, 3)
        s2.release(2)
        with s1:
            self.assertEqual(s1.held, 2)
        self.assertEqual(s1.held, 1)
        s1.release()
        self.assertIn("held=0 of 3", repr(s1))

    def test_bad_arguments(self):
        self.assertRaises(zkr.InvalidArgument, self.c.Semaphore, "/s", 0)
        self.assertRaises(zkr.InvalidArgument, self.c.Semaphore, "bad", 1)
        s = self.c.Semaphore("/s", 2, data=b"me", timeout=0.1)
        self.assertRaises(zkr.InvalidArgument, s.acquire, 3)
        self.assertRaises(zkr.InvalidArgument, s.acquire, 0)
        self.assertRaises(zkr.InvalidArgument, s.release, 0)
        self.assertFalse(s.cancel())
        other = self.client().Semaphore("/s", 2)
        self.assertTrue(other.acquire(2))
        with self.assertRaises(zkr.LockTimeout):
            with s:
                pass
        other.close()
        self.assertTrue(other.closed)
        self.assertRaises(zkr.Closed, other.acquire)
        self.assertTrue(s.acquire(2, timeout=PATIENCE))
        s.close()

    def test_gil_released_and_cancel(self):
        s1 = self.c.Semaphore("/sg", 1)
        s2 = self.client().Semaphore("/sg", 1)
        self.assertTrue(s1.acquire())
        result = []

        def run():
            try:
                s2.acquire()
            except zkr.Canceled:
                result.append("canceled")

        t = threading.Thread(target=run)
        t.start()
        wait_for(lambda: s2.cancel(), "a pending acquire to cancel")
        t.join(PATIENCE)
        self.assertEqual(result, ["canceled"])
        self.assertEqual(s2.held, 0)


@unittest.skipUnless(ZKR_LOCK_CLI, "ZKR_LOCK_CLI not set")
class InteropTest(unittest.TestCase):
    """A Python holder and the C zkr-lock command share one lock."""

    def setUp(self):
        self.c = zkr.Client(HOSTS)
        self.addCleanup(self.c.close)
        self.path = BASE + "/cli/x"

    def cli(self, *args, **kw):
        return subprocess.run([ZKR_LOCK_CLI, "-s", HOSTS] + list(args),
                              timeout=PATIENCE, **kw)

    def test_python_holder_excludes_c(self):
        lock = self.c.Lock(self.path)
        with lock as token:
            self.assertEqual(self.cli("-n", self.path, "--", "true")
                             .returncode, 1)
        self.c.flush()  # the release's delete is not waited for
        out = self.cli("-n", self.path, "--", "sh", "-c",
                       'echo "$ZKR_LOCK_TOKEN"', capture_output=True,
                       text=True)
        self.assertEqual(out.returncode, 0)
        self.assertGreater(int(out.stdout), token)

    def test_c_holder_excludes_python(self):
        holder = subprocess.Popen(
            [ZKR_LOCK_CLI, "-s", HOSTS, self.path, "--", "sh", "-c",
             'echo "$ZKR_LOCK_TOKEN"; read line'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            c_token = int(holder.stdout.readline())
            lock = self.c.Lock(self.path)
            self.assertFalse(lock.acquire(blocking=False))
            self.assertFalse(lock.acquire(timeout=0.2))
            holder.stdin.write("done\n")
            holder.stdin.flush()
            self.assertTrue(lock.acquire(timeout=PATIENCE))
            self.assertGreater(lock.token, c_token)
            lock.release()
            self.assertEqual(holder.wait(PATIENCE), 0)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            holder.stdin.close()
            holder.stdout.close()


class QueueTest(ZkrTestCase):
    def test_fifo_put_take(self):
        q = self.c.Queue("/q")
        self.assertEqual((q.path, q.shards, len(q), q.size()), ("/q", 0, 0, 0))
        self.assertIsNone(q.peek())
        q.put(b"one")
        q.put(bytearray(b"two"))
        q.put_batch([b"three", memoryview(b"four"), b""])
        q.put_batch([])
        self.assertEqual(len(q), 5)
        self.assertEqual(q.peek(), b"one")
        names = sorted(self.c.children("/q"))
        self.assertEqual(len(names), 5)
        for n in names:
            self.assertRegex(n, r"^qn-\d{10}$")
        # another client's queue object sees the same items, in order
        other = self.client().Queue("/q")
        self.assertEqual(other.take(), b"one")
        got = [q.take(timeout=PATIENCE) for _ in range(4)]
        self.assertEqual(got, [b"two", b"three", b"four", b""])
        self.assertIsNone(q.take(blocking=False))
        self.assertEqual(len(q), 0)
        self.assertIn("/q", repr(q))

    def test_bad_arguments(self):
        q = self.c.Queue("/qb")
        self.assertRaises(TypeError, q.put, "text")
        self.assertRaises(TypeError, q.put, None)
        self.assertRaises(TypeError, q.put_batch, [b"a", "text"])
        self.assertRaises(TypeError, q.put_batch, 5)
        with self.assertRaises(zkr.InvalidArgument) as cm:
            q.put(b"x" * (zkr.MAX_DATA + 1))
        self.assertEqual(cm.exception.code, zkr.ETOOBIG)
        self.assertRaises(zkr.InvalidArgument, q.put_batch,
                          [b"x" * (zkr.MAX_DATA // 2)] * 3)
        self.assertEqual(len(q), 0)  # all or nothing
        self.assertRaises(zkr.InvalidArgument, self.c.Queue, "bad")
        self.assertRaises(zkr.InvalidArgument, self.c.Queue, "/")
        self.assertRaises(zkr.InvalidArgument, self.c.Queue, "/q",
                          shards=-1)
        self.assertRaises(ValueError, q.take, False, 1.0)
        self.assertRaises(ValueError, q.take, timeout=-3)

    def test_take_timeout(self):
        q = self.c.Queue("/qt")
        self.assertIsNone(q.take(timeout=0.2))
        self.assertIsNone(q.take(timeout=0))
        self.assertIsNone(q.take(blocking=False))
        self.assertIsNone(q.take_lease(timeout=0.2))
        self.assertIsNone(q.take_lease(blocking=False))
        q.put(b"late")
        self.assertEqual(q.take(timeout=PATIENCE), b"late")

    def test_blocking_take_woken_by_put(self):
        q = self.c.Queue("/qw")
        producer = self.client().Queue("/qw")
        progress = {"work": 0, "inside": False, "seen_inside": None}

        def produce():
            # Runs Python code while the main thread is blocked in take:
            # impossible if take held the GIL.
            wait_for(lambda: progress["inside"], "the taker")
            for _ in range(10000):
                progress["work"] += 1
            progress["seen_inside"] = progress["inside"]
            producer.put(b"wake up")

        t = threading.Thread(target=produce)
        t.start()
        progress["inside"] = True
        got = q.take()
        progress["inside"] = False
        t.join(PATIENCE)
        self.assertEqual(got, b"wake up")
        self.assertEqual(progress["work"], 10000)
        self.assertTrue(progress["seen_inside"])

    def test_timeout_of_one_thread_spares_another(self):
        # Two threads take through one Queue object: the first one's
        # timeout must not end the other's take.
        q = self.c.Queue("/qs")
        results = {}

        def take(name, timeout):
            results[name] = q.take(timeout=timeout)

        long = threading.Thread(target=take, args=("long", PATIENCE))
        long.start()
        take("short", 0.2)
        self.assertIsNone(results["short"])
        self.client().Queue("/qs").put(b"for the long one")
        long.join(PATIENCE)
        self.assertEqual(results["long"], b"for the long one")

    def test_cancel_while_taking(self):
        q = self.c.Queue("/qc")
        self.assertFalse(q.cancel())
        result = []

        def run():
            try:
                result.append(q.take())
            except zkr.Error as e:
                result.append(type(e))

        t = threading.Thread(target=run)
        t.start()
        wait_for(lambda: q.cancel(), "a pending take to cancel")
        t.join(PATIENCE)
        self.assertEqual(result, [zkr.Canceled])
        self.assertEqual(q.take(blocking=False), None)

    def test_close_wakes_taker(self):
        q = self.c.Queue("/qcl")
        result = []

        def run():
            try:
                result.append(q.take())
            except zkr.Closed:
                result.append("closed")

        t = threading.Thread(target=run)
        t.start()
        # close() ends a take pending in another thread with Closed
        wait_for(lambda: t.is_alive(), "the taker")
        q.close()
        t.join(PATIENCE)
        self.assertEqual(result, ["closed"])

    def test_lease_nack_redelivers_ack_removes(self):
        q = self.c.Queue("/ql")
        other = self.client().Queue("/ql")
        q.put(b"job")
        lease = q.take_lease(timeout=PATIENCE)
        self.assertIsInstance(lease, zkr.Lease)
        self.assertEqual(lease.data, b"job")
        self.assertRegex(lease.name, r"^qn-\d{10}$")
        self.assertIs(lease.queue, q)
        self.assertFalse(lease.done)
        # leased: hidden from other lease takers, still in the queue
        self.assertIsNone(other.take_lease(timeout=0.2))
        self.assertEqual(len(q), 1)
        self.assertEqual(self.c.children("/ql/leases"), [lease.name])
        lease.nack()
        self.assertTrue(lease.done)
        self.assertRaises(zkr.NotHeld, lease.nack)
        self.assertRaises(zkr.NotHeld, lease.ack)
        # given back: delivered again
        again = other.take_lease(timeout=PATIENCE)
        self.assertEqual((again.data, again.name), (b"job", lease.name))
        again.ack()
        self.assertTrue(again.done)
        self.assertEqual(len(q), 0)
        self.assertIsNone(q.take_lease(blocking=False))

    def test_lease_context_manager(self):
        q = self.c.Queue("/qm")
        q.put(b"work")
        with self.assertRaises(RuntimeError):
            with q.take_lease(timeout=PATIENCE) as lease:
                self.assertEqual(lease.data, b"work")
                raise RuntimeError("processing failed")
        self.assertTrue(lease.done)
        self.assertEqual(len(q), 1)  # nacked: still there
        with q.take_lease(timeout=PATIENCE) as lease:
            self.assertEqual(lease.data, b"work")
        self.assertTrue(lease.done)
        self.assertEqual(len(q), 0)  # acked
        with self.assertRaises(zkr.NotHeld):
            with lease:
                pass
        # a lease dropped unended is given back
        q.put(b"dropped")
        lease = q.take_lease(timeout=PATIENCE)
        del lease
        gc.collect()
        lease = q.take_lease(timeout=PATIENCE)
        self.assertEqual(lease.data, b"dropped")
        lease.ack()

    def test_lease_lost_with_session_is_redelivered(self):
        c = self.client()
        q = c.Queue("/qx")
        q.put(b"at least once")
        lease = q.take_lease(timeout=PATIENCE)
        c.expire_session()
        other = self.client().Queue("/qx")
        again = other.take_lease(timeout=PATIENCE)
        self.assertEqual(again.data, b"at least once")
        with self.assertRaises(zkr.SessionExpired) as cm:
            lease.ack()
        self.assertEqual(cm.exception.code, zkr.ELOCKLOST)
        again.ack()
        self.assertEqual(len(other), 0)

    def test_sharded_and_prefetch(self):
        q = self.c.Queue("/qsh", shards=3, prefetch=2)
        self.assertEqual(q.shards, 3)
        items = [b"item-%d" % i for i in range(6)]
        for item in items:
            q.put(item)
        self.assertEqual(len(q), 6)
        self.assertTrue(all(n.startswith("s-")
                            for n in self.c.children("/qsh")))
        got = [q.take(timeout=PATIENCE) for _ in items]
        self.assertEqual(sorted(got), items)
        q.close()
        self.assertEqual(self.c.Queue("/qsh", shards=3).size(), 0)

    def test_keyboard_interrupt_cancels_take(self):
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals reach the main thread only")
        q = self.c.Queue("/qk")
        state = {"inside": False}

        def interrupt():
            wait_for(lambda: state["inside"], "the taker")
            os.kill(os.getpid(), signal.SIGINT)

        t = threading.Thread(target=interrupt)
        t.start()
        state["inside"] = True
        with self.assertRaises(KeyboardInterrupt):
            q.take()
        t.join(PATIENCE)
        q.put(b"after")
        self.assertEqual(q.take(timeout=PATIENCE), b"after")


class ElectionTest(ZkrTestCase):
    def test_first_is_leader_resign_passes_leadership(self):
        events = []
        e1 = self.c.Election(
            "/el", id="one",
            on_leader=lambda tok: events.append(("leader1", tok)),
            on_lost=lambda code: events.append(("lost1", code)))
        self.assertTrue(e1.wait_leader(timeout=PATIENCE))
        wait_for(lambda: ("leader1", e1.token) in events, "on_leader")
        e2 = self.client().Election(
            "/el", id="two",
            on_leader=lambda tok: events.append(("leader2", tok)),
            on_lost=lambda code: events.append(("lost2", code)))
        self.assertTrue(e1.is_leader)
        self.assertFalse(e2.is_leader)
        self.assertIsNone(e2.token)
        self.assertFalse(e2.wait_leader(timeout=0.2))
        self.assertFalse(e2.wait_leader(timeout=0))
        self.assertEqual(e1.leader(), "one")
        self.assertEqual(e2.leader(), "one")
        ps = e2.participants()
        self.assertEqual([(p.id, p.is_leader) for p in ps],
                         [("one", True), ("two", False)])
        self.assertEqual(ps[0].token, e1.token)
        self.assertEqual(ps[0].node, e1.node)
        self.assertRegex(e1.node, r"^_c_[0-9a-f-]{36}-latch-\d{10}$")
        self.assertEqual(ps[1].session_id,
                         self.c.exists("/el/" + e2.node).ephemeral_owner)
        token1 = e1.token
        self.assertTrue(e1.resign())
        self.assertFalse(e1.resign())
        self.assertFalse(e1.is_leader)
        # on_lost runs in resign(), or just after on a thread delivering
        # the election's callbacks
        wait_for(lambda: ("lost1", zkr.ECANCELED) in events, "on_lost")
        self.assertTrue(e2.wait_leader(timeout=PATIENCE))
        wait_for(lambda: any(ev[0] == "leader2" for ev in events),
                 "the second on_leader")
        self.assertGreater(e2.token, token1)
        self.assertIn(("leader2", e2.token), events)
        self.assertEqual(e1.leader(), "two")
        # rejoining puts e1 at the end of the line
        self.assertTrue(e1.join(timeout=PATIENCE))
        self.assertEqual([p.id for p in e1.participants()], ["two", "one"])
        e2.close()
        wait_for(lambda: ("lost2", zkr.ECANCELED) in events, "on_lost")
        self.assertTrue(e1.wait_leader(timeout=PATIENCE))
        self.assertIn("/el", repr(e1))

    def test_wait_leader_released_gil_and_woken(self):
        e1 = self.c.Election("/ew", id="first")
        e2 = self.client().Election("/ew", id="second")
        progress = {"work": 0, "inside": False, "seen_inside": None}

        def resign_later():
            wait_for(lambda: progress["inside"], "the waiter")
            for _ in range(10000):
                progress["work"] += 1
            progress["seen_inside"] = progress["inside"]
            e1.resign()

        t = threading.Thread(target=resign_later)
        t.start()
        progress["inside"] = True
        got = e2.wait_leader()
        progress["inside"] = False
        t.join(PATIENCE)
        self.assertTrue(got)
        self.assertEqual(progress["work"], 10000)
        self.assertTrue(progress["seen_inside"])

    def test_callbacks_on_zookeeper_thread_while_main_waits(self):
        # The main thread blocks in wait_leader (GIL released) while the
        # callback of the same election runs on a ZooKeeper thread and
        # takes the GIL; blocking calls there raise Deadlock.
        other = self.client()
        e1 = other.Election("/ec", id="a")
        calls = []

        def on_leader(token):
            calls.append(("thread", threading.get_ident()))
            calls.append(("is_leader", e2.is_leader))
            for blocking in (lambda: e2.wait_leader(timeout=1),
                             lambda: e2.join(timeout=1),
                             lambda: e2.participants()):
                try:
                    blocking()
                    calls.append(("no error",))
                except zkr.Deadlock as e:
                    calls.append(("deadlock", e.code))

        e2 = self.c.Election("/ec", id="b", on_leader=on_leader)
        threading.Timer(0.05, other.close).start()  # removes e1's node
        self.assertTrue(e2.wait_leader(timeout=PATIENCE))
        wait_for(lambda: len(calls) >= 5, "the callback")
        self.assertNotEqual(calls[0][1], threading.get_ident())
        self.assertEqual(calls[1:], [("is_leader", True)] +
                         [("deadlock", zkr.EDEADLK)] * 3)
        e1.close()

    def test_session_loss_reported_and_rejoined(self):
        events = []
        e = self.c.Election("/es", on_lost=events.append,
                            on_leader=lambda tok: events.append(tok))
        self.assertTrue(e.wait_leader(timeout=PATIENCE))
        token = e.token
        self.c.expire_session()
        wait_for(lambda: any(x in events for x in
                             (zkr.ECONNLOSS, zkr.ESESSIONEXPIRED)),
                 "on_lost")
        # the only candidate rejoins on the new session and leads again
        self.assertTrue(e.wait_leader(timeout=PATIENCE))
        wait_for(lambda: e.token is not None and e.token > token,
                 "a new term")
        # on_leader runs on the library's thread, after the token is set
        wait_for(lambda: e.token in events, "on_leader of the new term")

    def test_join_false_and_errors(self):
        e = self.c.Election("/ej", id="x", join=False)
        self.assertIsNone(e.node)
        self.assertIsNone(e.leader())
        self.assertEqual(e.participants(), [])
        self.assertRaises(zkr.NotHeld, e.wait_leader, 0)
        self.assertRaises(zkr.NotHeld, e.wait_leader, 1)
        self.assertFalse(e.resign())
        self.assertTrue(e.join())
        with self.assertRaises(zkr.Busy):
            e.join()
        self.assertTrue(e.wait_leader(timeout=PATIENCE))
        self.assertRaises(TypeError, self.c.Election, "/ej", on_leader=5)
        self.assertRaises(zkr.InvalidArgument, self.c.Election, "bad")
        self.assertRaises(ValueError, self.c.Election, "/ej", id="a\0b")
        with self.c.Election("/ej2") as e2:
            self.assertTrue(e2.wait_leader(timeout=PATIENCE))
            self.assertEqual(e2.leader(), "%s:%d" % (os.uname().nodename,
                                                     os.getpid()))
        self.assertTrue(e2.closed)
        self.assertRaises(zkr.Closed, e2.join)
        self.assertFalse(e2.is_leader)
        self.c.flush()
        self.assertEqual(self.c.children("/ej2"), [])

    def test_close_while_waiting(self):
        e1 = self.c.Election("/ecw")
        other = self.client()
        e2 = other.Election("/ecw")
        result = []

        def run():
            try:
                result.append(e2.wait_leader())
            except zkr.Error as e:
                result.append(type(e))

        t = threading.Thread(target=run)
        t.start()
        wait_for(lambda: t.is_alive(), "the waiter")
        e2.close()
        t.join(PATIENCE)
        self.assertIn(result, ([zkr.Closed], [False]))
        other.flush()  # resigning does not wait for the delete's reply
        self.assertEqual(len(self.c.children("/ecw")), 1)
        e1.close()

    def test_close_and_drop_from_own_callback(self):
        # The election's own callback closes it and drops the last
        # reference: neither may free it under the callback.
        box, seen = {}, []

        def on_leader(token):
            e = box.pop("e")
            e.close()
            seen.append(token)

        leader = self.client()
        held = leader.Election("/eo")
        box["e"] = self.c.Election("/eo", on_leader=on_leader)
        self.assertTrue(held.is_leader)
        leader.close()  # the callback runs on a ZooKeeper thread
        wait_for(lambda: seen, "the callback")
        gc.collect()
        wait_for(lambda: self.c.children("/eo") == [], "the node's removal")
        self.assertNotIn("e", box)


class ConfigTest(ZkrTestCase):
    def test_value_and_callback(self):
        seen = []
        cfg = self.c.Config("/cfg/app", lambda v, ver: seen.append((v, ver)))
        self.assertIsNone(cfg.value)
        self.assertIsNone(cfg.version)
        self.assertIsNone(cfg.stat)
        self.assertEqual(cfg.get(), (None, None))
        wait_for(lambda: (None, None) in seen, "the first load")
        other = self.client()
        st = other.push_config("/cfg/app", b"v1")
        self.assertEqual(st.version, 0)
        wait_for(lambda: (b"v1", 0) in seen, "the change callback")
        self.assertEqual((cfg.value, cfg.version), (b"v1", 0))
        other.set("/cfg/app", b"v2")
        wait_for(lambda: cfg.value == b"v2", "the second change")
        self.assertEqual(cfg.version, 1)
        self.assertEqual(seen[-1], (b"v2", 1))
        value, stat = cfg.get()
        self.assertEqual((value, stat.version), (b"v2", 1))
        other.delete("/cfg/app")
        wait_for(lambda: seen[-1] == (None, None), "the deletion")
        self.assertTrue(cfg.wait_synced(timeout=PATIENCE))
        self.assertIn("/cfg/app", repr(cfg))

    def test_cas_conflict(self):
        cfg = self.c.Config("/cas")
        st = cfg.push(b"base", version=zkr.CONFIG_ABSENT)
        wait_for(lambda: cfg.version == st.version, "the cache")
        with self.assertRaises(zkr.BadVersion) as cm:
            cfg.push(b"again", version=zkr.CONFIG_ABSENT)
        self.assertEqual(cm.exception.code, zkr.EBADVERSION)
        # two editors based on the same version: the second one loses
        base = cfg.version
        other = self.client()
        other.push_config("/cas", b"editor 1", version=base)
        with self.assertRaises(zkr.BadVersion):
            cfg.push(b"editor 2", version=base)
        wait_for(lambda: cfg.value == b"editor 1", "the winner's value")
        st = cfg.push(b"editor 2", version=cfg.version)
        self.assertEqual(st.version, base + 2)
        self.assertEqual(self.c.push_config("/cas", b"forced").version,
                         base + 3)
        with self.assertRaises(zkr.NoNode):
            self.c.push_config("/cas-missing", b"x", version=3)
        self.assertEqual(self.c.push_config("/new/deep/node", None).version,
                         0)
        self.assertRaises(TypeError, self.c.push_config, "/cas", "text")
        self.assertRaises(zkr.InvalidArgument, self.c.push_config, "bad",
                          b"x")
        # version=None: what an absent node's cache says; create-only
        absent = self.c.Config("/cas-none")
        self.assertIsNone(absent.version)
        st = self.c.push_config("/cas-none", b"first", version=absent.version)
        self.assertEqual(st.version, 0)
        with self.assertRaises(zkr.BadVersion):
            absent.push(b"second", version=None)
        absent.close()
        self.assertRaises(TypeError, self.c.push_config, "/cas", b"x",
                          version="1")

    def test_children(self):
        self.c.create("/kids")
        self.c.create("/kids/a", b"1")
        cfg = self.c.Config("/kids", children=True)
        self.assertEqual(cfg.children(), {"a": b"1"})
        self.c.create("/kids/b", b"2")
        wait_for(lambda: cfg.children() == {"a": b"1", "b": b"2"},
                 "the new child")
        plain = self.c.Config("/kids")
        self.assertRaises(ValueError, plain.children)

    def test_close_stops_callbacks(self):
        seen = []
        cfg = self.c.Config("/cc", lambda v, ver: seen.append(v))
        wait_for(lambda: seen, "the first load")
        cfg.close()
        self.assertTrue(cfg.closed)
        self.assertRaises(zkr.Closed, lambda: cfg.value)
        n = len(seen)
        self.c.push_config("/cc", b"after close")
        # a second cache sees the change: the closed one stays silent
        with self.c.Config("/cc") as check:
            wait_for(lambda: check.value == b"after close", "the change")
        self.assertEqual(len(seen), n)
        self.assertRaises(TypeError, self.c.Config, "/cc", 5)

    def test_callback_on_zookeeper_thread(self):
        threads, errors = [], []

        def cb(value, version):
            if cfg_box[0] is None:
                return  # the first load, before the constructor returned
            threads.append(threading.get_ident())
            try:
                cfg_box[0].wait_synced(timeout=1)
            except zkr.Deadlock:
                errors.append("deadlock")
            # non-blocking reads are fine here
            errors.append(cfg_box[0].value)

        cfg_box = [None]
        cfg_box[0] = cfg = self.c.Config("/ct", cb, timeout=PATIENCE)
        self.client().push_config("/ct", b"x")
        wait_for(lambda: b"x" in errors, "the callback")
        self.assertNotIn(threading.get_ident(), threads)
        self.assertIn("deadlock", errors)
        cfg.close()


class RegistryTest(ZkrTestCase):
    def test_register_service_then_discover(self):
        changes = []
        d = self.c.discover("orders", lambda inst: changes.append(
            sorted(i.service["id"] for i in inst)))
        self.assertEqual((len(d), d.instances()), (0, []))
        self.assertIsNone(d.pick())
        self.assertEqual(d.path, "/services/orders")
        other = self.client()
        reg = other.register_service("orders", "10.0.0.7", 8080, id="i-1",
                                     payload={"zone": "a"},
                                     uri_spec="{scheme}://{address}:{port}")
        self.assertTrue(reg.registered)
        self.assertEqual(reg.path, "/services/orders/i-1")
        wait_for(lambda: ["i-1"] in changes, "the change callback")
        self.assertEqual(len(d), 1)
        inst = d.instances()[0]
        self.assertEqual((inst.name, inst.host, inst.port, inst.weight),
                         ("i-1", "10.0.0.7", 8080, 100))
        svc = inst.service
        self.assertEqual((svc["name"], svc["id"], svc["address"],
                          svc["port"], svc["ssl_port"], svc["payload"],
                          svc["service_type"], svc["enabled"]),
                         ("orders", "i-1", "10.0.0.7", 8080, None,
                          {"zone": "a"}, "DYNAMIC", True))
        self.assertGreater(svc["registration_time_utc"], 0)
        self.assertIsNone(inst.url)
        self.assertIsNone(inst.params)
        self.assertEqual(json.loads(inst.data)["id"], "i-1")
        self.assertEqual(self.c.exists(reg.path).ephemeral_owner,
                         other.session_id)
        self.assertEqual(d.pick(), inst)
        self.assertEqual(d.pick(zkr.LB_CONSISTENT_HASH, key="k"), inst)
        with d.pick(zkr.LB_LEAST_ACTIVE) as busy:
            self.assertEqual(busy.active, 1)
        self.assertEqual(inst.active, 0)
        reg2 = other.register_service("orders", "10.0.0.8", 8081)
        wait_for(lambda: len(d) == 2, "the second instance")
        self.assertEqual(len({i.name for i in d.instances()}), 2)
        reg.close()
        self.assertTrue(reg.closed)
        wait_for(lambda: [reg2.path.rsplit("/", 1)[1]] == changes[-1],
                 "the removal")
        with reg2:
            pass
        wait_for(lambda: changes[-1] == [], "the last removal")
        self.assertEqual(len(d), 0)
        self.assertGreater(d.version, 0)
        self.assertEqual(d.error, 0)
        # instances outlive the discovery
        d.close()
        self.assertEqual(inst.host, "10.0.0.7")
        self.assertRaises(zkr.Closed, d.instances)

    def test_raw_registration_survives_expiry_and_deletion(self):
        states = []
        reg = self.c.register("/reg/me", b"hello", on_state=states.append)
        self.assertEqual(self.c.get("/reg/me")[0], b"hello")
        self.assertEqual(self.c.exists("/reg/me").ephemeral_owner,
                         self.c.session_id)
        self.assertEqual(reg.count, 1)
        wait_for(lambda: zkr.OK in states, "on_state OK")
        self.client().delete("/reg/me")
        wait_for(lambda: reg.count == 2, "the re-creation")
        self.assertIn(zkr.ENONODE, states)
        self.c.expire_session()
        wait_for(lambda: reg.count >= 3 and reg.registered,
                 "the registration on the new session")
        self.assertTrue(reg.wait(timeout=PATIENCE))
        self.assertEqual(self.c.exists("/reg/me").ephemeral_owner,
                         self.c.session_id)
        reg.set_data(b"updated")
        self.assertEqual(self.c.get("/reg/me")[0], b"updated")
        reg.close()
        reg.close()
        self.c.flush()
        self.assertIsNone(self.c.exists("/reg/me"))
        self.assertRaises(zkr.Closed, reg.set_data, b"x")
        persistent = self.c.register("/reg/p", persistent=True, keep=True)
        persistent.close()
        self.assertEqual(self.c.exists("/reg/p").ephemeral_owner, 0)
        self.assertRaises(TypeError, self.c.register, "/reg/x",
                          on_state=3)
        self.assertRaises(zkr.InvalidArgument, self.c.register, "bad")

    def test_dubbo_provider_and_consumer(self):
        url = zkr.dubbo_provider_url("10.0.0.5", 20880, "org.example.Greeter",
                                     application="demo", weight=7)
        self.assertTrue(url.startswith(
            "dubbo://10.0.0.5:20880/org.example.Greeter?"))
        self.assertIn("side=provider", url)
        self.assertIn("weight=7", url)
        seen = []
        d = self.c.discover_dubbo("org.example.Greeter",
                                  lambda inst: seen.append(len(inst)))
        self.assertEqual(d.path, "/dubbo/org.example.Greeter/providers")
        self.assertEqual(d.layout, zkr.LAYOUT_DUBBO)
        reg = self.client().register_dubbo(url)
        self.assertTrue(reg.path.startswith(
            "/dubbo/org.example.Greeter/providers/dubbo%3A%2F%2F10.0.0.5"
            "%3A20880%2Forg.example.Greeter%3F"))
        wait_for(lambda: len(d) == 1, "the provider")
        inst = d.instances()[0]
        self.assertEqual((inst.host, inst.port, inst.weight, inst.url),
                         ("10.0.0.5", 20880, 7, url))
        self.assertEqual(inst.params["application"], "demo")
        self.assertIsNone(inst.service)
        consumer = zkr.dubbo_consumer_url("10.0.0.6", "org.example.Greeter")
        self.assertTrue(consumer.startswith("consumer://10.0.0.6/"))
        creg = self.c.register_dubbo(consumer)
        self.assertIn("/consumers/", creg.path)
        self.assertEqual(len(d), 1)
        reg.close()
        wait_for(lambda: len(d) == 0, "the provider's removal")
        self.assertEqual(seen[-1], 0)
        self.assertRaises(zkr.InvalidArgument, self.c.register_dubbo,
                          "not a url")
        self.assertRaises(TypeError, zkr.dubbo_provider_url, "h", "port",
                          "i")

    def test_raw_layout_discovery(self):
        d = self.c.Discovery("/raw", zkr.LAYOUT_RAW)
        with self.c.register("/raw/n1", b"d1"):
            wait_for(lambda: len(d) == 1, "the node")
            inst = d.instances()[0]
            # the raw layout lists names; it does not read node data
            self.assertEqual(inst.name, "n1")
            self.assertIsNone(inst.service)
            self.assertIsNone(inst.url)
            self.assertTrue(d.refresh(timeout=PATIENCE))
        wait_for(lambda: len(d) == 0, "the removal")


class RecipeAclTest(ZkrTestCase):
    """acl= of the recipes: nodes made with ACL_CREATOR_ALL are readable
    only with their creator's digest; None keeps the client's acl."""

    URL = "dubbo://10.0.0.5:20880/org.example.Greeter?side=provider"

    def setUp(self):
        super().setUp()
        # both with the client default ACL_OPEN: only acl= makes it private
        self.a = self.client(digest="alice:secret")
        self.b = self.client(digest="bob:secret")

    def private(self, *paths):
        # Only alice can list her private nodes, so she removes them before
        # the clients close (cleanups run last first); the recipe objects
        # are closed by then.
        for path in paths:
            self.addCleanup(self.a.delete_recursive, path)

    def assert_private(self, node):
        with self.assertRaises(zkr.NoAuth) as cm:
            self.b.get(node)
        self.assertEqual(cm.exception.code, zkr.ENOAUTH)
        self.assertRaises(zkr.NoAuth, self.c.get, node)  # no digest at all
        self.a.get(node)  # the creator reads it

    def test_lock(self):
        self.private("/la")
        lock = self.a.Lock("/la", data=b"alice", acl=zkr.ACL_CREATOR_ALL)
        with lock:
            self.assert_private("/la/" + lock.node)
            self.assertEqual(self.a.get("/la/" + lock.node)[0], b"alice")
            # the lock directory the lock created has the acl as well
            self.assertRaises(zkr.NoAuth, self.b.children, "/la")
        lock.close()
        # bob's lock with the default acl (and with acl=None) is open
        for path, kw in (("/lb", {}), ("/lc", {"acl": None})):
            other = self.b.Lock(path, data=b"bob", **kw)
            with other:
                self.assertEqual(self.a.get(path + "/" + other.node)[0],
                                 b"bob")
            other.close()
        # acl= overrides a client default of ACL_CREATOR_ALL both ways
        carol = self.client(digest="carol:secret", acl=zkr.ACL_CREATOR_ALL)
        self.addCleanup(carol.delete_recursive, "/lp")
        opened = zkr.Lock(carol, "/lo", data=b"o", acl=zkr.ACL_OPEN)
        closed = carol.Lock("/lp", acl=None)
        with opened, closed:
            self.assertEqual(self.b.get("/lo/" + opened.node)[0], b"o")
            self.assertRaises(zkr.NoAuth, self.b.get,
                              "/lp/" + closed.node)
        opened.close()
        closed.close()

    def test_rwlock(self):
        self.private("/rwa")
        rw = self.a.RWLock("/rwa", acl=zkr.ACL_CREATOR_ALL)
        with rw.read_lock:
            self.assert_private("/rwa/" + rw.read_lock.node)
        with rw.write_lock:
            self.assert_private("/rwa/" + rw.write_lock.node)
        rw.close()
        rw = zkr.RWLock(self.b, "/rwb", data=b"bob")
        with rw.write_lock:
            self.assertEqual(self.a.get("/rwb/" + rw.write_lock.node)[0],
                             b"bob")
        rw.close()

    def test_queue(self):
        self.private("/qa", "/qs")
        q = self.a.Queue("/qa", acl=zkr.ACL_CREATOR_ALL)
        q.put(b"secret")
        q.put_batch([b"one", b"two"])
        items = sorted(self.a.children("/qa"))
        self.assertEqual(len(items), 3)
        for item in items:
            self.assert_private("/qa/" + item)
        self.assertRaises(zkr.NoAuth, self.b.children, "/qa")
        # a lease node is the queue's too
        lease = q.take_lease(timeout=PATIENCE)
        self.assertEqual(lease.data, b"secret")
        self.assert_private("/qa/leases/" + items[0])
        lease.ack()
        self.assertEqual(q.take(timeout=PATIENCE), b"one")
        q.close()
        # sharded: the shard buckets and their items
        qs = zkr.Queue(self.a, "/qs", shards=2, acl=zkr.ACL_CREATOR_ALL)
        qs.put(b"s")
        for shard in self.a.children("/qs"):
            self.assert_private("/qs/" + shard)
            for item in self.a.children("/qs/" + shard):
                self.assert_private("/qs/%s/%s" % (shard, item))
        self.assertEqual(qs.take(timeout=PATIENCE), b"s")
        qs.close()
        # bob's queue with the default acl is open to alice
        qb = self.b.Queue("/qb")
        qb.put(b"open")
        [item] = self.a.children("/qb")
        self.assertEqual(self.a.get("/qb/" + item)[0], b"open")
        self.assertEqual(self.a.Queue("/qb").take(timeout=PATIENCE),
                         b"open")
        qb.close()

    def test_election(self):
        self.private("/ea")
        e = self.a.Election("/ea", id="alice", acl=zkr.ACL_CREATOR_ALL)
        self.assertTrue(e.wait_leader(timeout=PATIENCE))
        self.assert_private("/ea/" + e.node)
        self.assertEqual(self.a.get("/ea/" + e.node)[0], b"alice")
        self.assertRaises(zkr.NoAuth, self.b.children, "/ea")
        e.close()
        with zkr.Election(self.b, "/eb", id="bob") as eb:
            self.assertEqual(self.a.get("/eb/" + eb.node)[0], b"bob")

    def test_registration(self):
        self.private("/ra", "/services", "/dubbo")
        with self.a.register("/ra/me", b"a",
                             acl=zkr.ACL_CREATOR_ALL) as reg:
            self.assertEqual(reg.path, "/ra/me")
            self.assert_private("/ra/me")
            # the missing parent it created has the acl too
            self.assertRaises(zkr.NoAuth, self.b.children, "/ra")
        with self.a.register_service("svc", "10.0.0.1", 80, id="i-1",
                                     acl=zkr.ACL_CREATOR_ALL) as reg:
            self.assertEqual(reg.path, "/services/svc/i-1")
            self.assert_private(reg.path)
            self.assertRaises(zkr.NoAuth, self.b.children, "/services")
        with self.a.register_dubbo(self.URL,
                                   acl=zkr.ACL_CREATOR_ALL) as reg:
            self.assertTrue(reg.path.startswith(
                "/dubbo/org.example.Greeter/providers/"))
            self.assert_private(reg.path)
        # default acl: open
        with zkr.Registration(self.b, "/rb", b"bob") as reg:
            self.assertEqual(self.a.get("/rb")[0], b"bob")
        # ACL_READ_ONLY: everybody reads, nobody writes
        with self.a.register("/ro", b"r", acl=zkr.ACL_READ_ONLY):
            self.assertEqual(self.b.get("/ro")[0], b"r")
            self.assertRaises(zkr.NoAuth, self.b.set, "/ro", b"x")
            self.assertRaises(zkr.NoAuth, self.a.set, "/ro", b"x")

    def test_bad_acl(self):
        url = self.URL
        makers = {
            "Lock": lambda c, **kw: c.Lock("/x", **kw),
            "RWLock": lambda c, **kw: c.RWLock("/x", **kw),
            "Queue": lambda c, **kw: c.Queue("/x", **kw),
            "Election": lambda c, **kw: c.Election("/x", **kw),
            "register": lambda c, **kw: c.register("/x", **kw),
            "register_service": lambda c, **kw: c.register_service(
                "svc", "10.0.0.1", 80, **kw),
            "register_dubbo": lambda c, **kw: c.register_dubbo(url, **kw),
        }
        for name, make in makers.items():
            for bad in (99, -1, 2 ** 80):
                with self.assertRaises(zkr.InvalidArgument,
                                       msg="%s acl=%r" % (name, bad)) as cm:
                    make(self.a, acl=bad)
                self.assertEqual(cm.exception.code, zkr.EINVAL)
            for bad in ("x", 1.0, b"\x01"):
                with self.assertRaises(TypeError,
                                       msg="%s acl=%r" % (name, bad)):
                    make(self.a, acl=bad)
            # ACL_CREATOR_ALL needs a digest: the C call's EINVAL
            with self.assertRaises(zkr.InvalidArgument,
                                   msg="%s without digest" % name) as cm:
                make(self.c, acl=zkr.ACL_CREATOR_ALL)
            self.assertEqual(cm.exception.code, zkr.EINVAL)
        # nothing was created by the refused calls
        for path in ("/x", "/services", "/dubbo"):
            self.assertIsNone(self.c.exists(path), path)
        # acl is keyword-only
        self.assertRaises(TypeError, self.a.Lock, "/x", None, True, None,
                          zkr.ACL_OPEN)
        self.assertRaises(TypeError, self.a.Queue, "/x", 0, 0, zkr.ACL_OPEN)
        # the open ACLs need no digest
        self.private("/ok")
        for acl in (zkr.ACL_OPEN, zkr.ACL_READ_ONLY, None):
            self.c.Queue("/ok/q", acl=acl).close()
            self.c.Election("/ok/e", join=False, acl=acl).close()


@unittest.skipUnless(ZKR_QUEUE_CLI and ZKR_REGISTRY_CLI and ZKR_CONFIG_CLI,
                     "ZKR_QUEUE_CLI, ZKR_REGISTRY_CLI, ZKR_CONFIG_CLI not set")
class RecipeInteropTest(unittest.TestCase):
    """Python objects and the C command-line tools on the same paths."""

    def setUp(self):
        self.c = zkr.Client(HOSTS)
        self.addCleanup(self.c.close)
        self.base = BASE + "/cli-" + self._testMethodName

    def run_cli(self, prog, *args, **kw):
        kw.setdefault("capture_output", True)
        # the programs connect to $ZKR_HOSTS
        return subprocess.run([prog] + list(args), timeout=PATIENCE, **kw)

    def test_queue_python_and_c(self):
        path = self.base + "/q"
        q = self.c.Queue(path)
        q.put(b"from python")
        r = self.run_cli(ZKR_QUEUE_CLI, "take", path, "-w", str(PATIENCE))
        self.assertEqual((r.returncode, r.stdout), (0, b"from python"))
        r = self.run_cli(ZKR_QUEUE_CLI, "put", path, "from C")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(q.take(timeout=PATIENCE), b"from C")

    def test_config_pushed_by_c(self):
        path = self.base + "/cfg"
        seen = []
        cfg = self.c.Config(path, lambda v, ver: seen.append(v))
        r = self.run_cli(ZKR_CONFIG_CLI, "push", "--force", path, "-",
                         input=b"pushed by C")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: b"pushed by C" in seen, "the callback")
        self.assertEqual(cfg.value, b"pushed by C")
        cfg.push(b"from python", version=cfg.version)
        r = self.run_cli(ZKR_CONFIG_CLI, "get", path)
        self.assertEqual(r.stdout, b"from python")

    def test_registry_python_and_c(self):
        root = self.base + "/dubbo"
        url = zkr.dubbo_provider_url("10.1.2.3", 20880, "org.example.Py")
        with self.c.register_dubbo(url, root=root):
            r = self.run_cli(ZKR_REGISTRY_CLI, "-r", root, "list",
                             "org.example.Py")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode().strip(), url)
        d = self.c.discover_dubbo("org.example.C", root=root)
        peer = subprocess.Popen(
            [ZKR_REGISTRY_CLI, "-r", root, "register",
             "dubbo://10.9.8.7:20881/org.example.C?weight=3"],
            stdout=subprocess.PIPE, text=True)
        try:
            self.assertTrue(peer.stdout.readline().startswith("registered"))
            wait_for(lambda: len(d) == 1, "the C provider")
            inst = d.instances()[0]
            self.assertEqual((inst.host, inst.port, inst.weight),
                             ("10.9.8.7", 20881, 3))
        finally:
            peer.terminate()
            peer.wait(PATIENCE)
            peer.stdout.close()
        wait_for(lambda: len(d) == 0, "the C provider's removal")


class ShutdownTest(unittest.TestCase):
    """The interpreter exits cleanly with clients left open, callbacks
    arriving and threads blocked in zkr calls."""

    def run_child(self, body):
        script = textwrap.dedent("""
            import os, sys, threading, time
            import zkr
            hosts = os.environ["ZKR_HOSTS"]
        """) + textwrap.dedent(body)
        r = subprocess.run([sys.executable, "-X", "dev", "-c", script],
                           capture_output=True, text=True, timeout=120)
        return r

    def test_exit_with_open_client_and_waiters(self):
        path = BASE + "/shutdown"
        r = self.run_child("""
            c = zkr.Client(hosts)
            c.add_listener(lambda s: time.sleep(0.01))
            held = c.Lock(%r)
            held.acquire()
            other = zkr.Client(hosts).Lock(%r)
            threading.Thread(target=other.acquire, daemon=True).start()
            while len(c.children(%r)) < 2:
                time.sleep(0.01)
            print("ready", flush=True)
        """ % (path, path, path))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "ready\n")
        self.assertNotIn("Fatal", r.stderr)
        # the sessions were closed at exit, not left to expire
        with zkr.Client(HOSTS) as c:
            self.assertEqual(c.children(path), [])

    def test_exit_with_recipes_and_waiters(self):
        path = BASE + "/shutdown-recipes"
        r = self.run_child("""
            c = zkr.Client(hosts)
            other = zkr.Client(hosts)
            events = []
            lead = c.Election(%(p)r + "/e", on_leader=events.append,
                              on_lost=events.append)
            follower = other.Election(%(p)r + "/e", on_leader=events.append)
            cfg = c.Config(%(p)r + "/cfg", lambda v, ver: events.append(v))
            disc = c.discover("svc", events.append, base=%(p)r)
            reg = other.register_service("svc", "127.0.0.1", 1, base=%(p)r)
            q = other.Queue(%(p)r + "/q")
            threading.Thread(target=q.take, daemon=True).start()
            threading.Thread(target=follower.wait_leader,
                             daemon=True).start()
            while len(disc) < 1 or not lead.is_leader:
                time.sleep(0.01)
            c.push_config(%(p)r + "/cfg", b"v")
            print("ready", flush=True)
        """ % {"p": path})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "ready\n")
        self.assertNotIn("Fatal", r.stderr)
        with zkr.Client(HOSTS) as c:
            self.assertEqual(c.children(path + "/e"), [])
            self.assertEqual(c.children(path + "/svc"), [])

    def test_exit_during_callbacks(self):
        r = self.run_child("""
            c = zkr.Client(hosts, session_timeout=2.0)
            events = []
            c.add_listener(events.append)
            def churn():
                while True:
                    try:
                        c.expire_session()
                    except zkr.Error:
                        pass
            threading.Thread(target=churn, daemon=True).start()
            while zkr.State.LOST not in events:
                time.sleep(0.01)
            print("exiting", flush=True)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "exiting\n")
        self.assertNotIn("Fatal", r.stderr)


def test_name(test):
    return test.id().replace(__name__ + ".", "", 1)


class TapResult(unittest.TestResult):
    """Prints one TAP line per test."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0

    def _line(self, ok, test, directive="", diag=None):
        self.n += 1
        self.stream.write("%s %d - %s%s\n" % ("ok" if ok else "not ok", self.n,
                                              test_name(test), directive))
        if diag:
            for line in diag.rstrip().splitlines():
                self.stream.write("# %s\n" % line)
        self.stream.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test, diag=self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test, diag=self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])
    if len(sys.argv) > 1:
        suite = unittest.TestSuite(
            t for t in unittest.defaultTestLoader.loadTestsFromNames(
                sys.argv[1:], sys.modules[__name__]))
    result = TapResult(sys.stdout)
    suite.run(result)
    sys.stdout.write("1..%d\n" % result.n)
    try:
        with zkr.Client(HOSTS) as c:
            c.delete_recursive(BASE)
    except zkr.Error as e:
        sys.stdout.write("# cleanup: %s\n" % e)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
