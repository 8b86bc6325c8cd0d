# SPDX-License-Identifier: Apache-2.0
"""Tests of the zkr Python binding against a real ZooKeeper server.

Needs ZKR_HOSTS (the server's connect string) and, for the interoperability
test, ZKR_LOCK_CLI (the zkr-lock program). Prints TAP.
"""

import functools
import gc
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
