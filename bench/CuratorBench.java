// SPDX-License-Identifier: Apache-2.0
//
// CuratorBench: Curator side of zkr's lock and queue benchmarks.
//
//   javac -cp CP -d OUTDIR bench/CuratorBench.java
//   java -cp OUTDIR:CP CuratorBench HOSTS SCENARIO N
//
// CP = /usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar
//
// SCENARIO:
//   uncontended   one client, one InterProcessMutex on a fresh path:
//                 200 untimed warm-up cycles, then N acquire+release cycles
//   contended:K   K client sessions, each with its own InterProcessMutex on
//                 one shared path, each looping acquire/release; timed until
//                 N acquires in total (after an untimed warm-up round)
//   queue-put     SimpleDistributedQueue: offer N items of 16 bytes
//   queue-take    fill N items untimed, then take N items
//   queue-take:K  fill N items untimed, then K client sessions, each with
//                 its own SimpleDistributedQueue on the same path, take
//                 them together (non-blocking poll() until the queue is
//                 empty); timed from the common start to the N-th take
// (queue scenarios run 200 untimed warm-up operations on a separate path
// first, so the JIT is warm as in the lock scenarios.)
//
// Prints exactly one line on stdout:
//   RESULT curator <scenario> <value> <unit>
// Exit 0 on success; 1 with a message on stderr on any error; 2 on usage.

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class CuratorBench {
    private static final int SESSION_TIMEOUT_MS = 10_000;
    private static final int CONNECTION_TIMEOUT_MS = 10_000;
    private static final int CONNECT_WAIT_S = 30;
    private static final int WARMUP = 200;
    private static final int ITEM_SIZE = 16;

    private static void usage(String why) {
        System.err.println("CuratorBench: " + why);
        System.err.println("usage: java CuratorBench HOSTS SCENARIO N");
        System.err.println("  SCENARIO: uncontended | contended:K | queue-put | queue-take"
                + " | queue-take:K");
        System.exit(2);
    }

    private static int positive(String what, String s) {
        int v = 0;
        try {
            v = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            // reported below
        }
        if (v < 1) {
            usage(what + " must be a positive integer: " + s);
        }
        return v;
    }

    private static CuratorFramework connect(String hosts) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, SESSION_TIMEOUT_MS,
                CONNECTION_TIMEOUT_MS, new ExponentialBackoffRetry(100, 10));
        c.start();
        if (!c.blockUntilConnected(CONNECT_WAIT_S, TimeUnit.SECONDS)) {
            c.close();
            throw new IllegalStateException("could not connect to " + hosts);
        }
        return c;
    }

    private static double uncontended(String hosts, String base, int n) throws Exception {
        try (CuratorFramework c = connect(hosts)) {
            InterProcessMutex m = new InterProcessMutex(c, base + "/uncontended");
            for (int i = 0; i < WARMUP; i++) {
                m.acquire();
                m.release();
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                m.acquire();
                m.release();
            }
            long t1 = System.nanoTime();
            return n / ((t1 - t0) / 1e9);
        }
    }

    /** One unit of work of a worker; false when it has nothing left. */
    private interface Step<T> {
        boolean run(T worker) throws Exception;
    }

    /**
     * Runs {@code step} in a loop on one thread per worker, all released at
     * once, until {@code target} steps succeeded in total (a worker whose step
     * returns false stops early). Returns {ns from the common start to the
     * target-th step, steps done}; rethrows the first worker's failure.
     */
    private static <T> long[] race(List<T> workers, int target, Step<T> step,
                                   String what) throws Exception {
        final AtomicInteger done = new AtomicInteger();
        final AtomicLong endNs = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CountDownLatch ready = new CountDownLatch(workers.size());
        final CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>(workers.size());
        for (final T w : workers) {
            Thread t = new Thread(() -> {
                try {
                    ready.countDown();
                    go.await();
                    while (done.get() < target && failure.get() == null) {
                        if (!step.run(w)) {
                            return;
                        }
                        if (done.incrementAndGet() == target) {
                            endNs.set(System.nanoTime());
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        ready.await();
        long t0 = System.nanoTime();
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new Exception(what + " failed: " + failure.get(), failure.get());
        }
        long end = endNs.get() != 0 ? endNs.get() : System.nanoTime();
        return new long[] {end - t0, done.get()};
    }

    /**
     * One contended round: every client loops acquire/release on its own
     * mutex until `target` holds happened in total. Returns elapsed ns
     * from the common start to the target-th hold.
     */
    private static long contendedRound(List<InterProcessMutex> locks, int target)
            throws Exception {
        return race(locks, target, m -> {
            m.acquire();
            m.release();
            return true;
        }, "contender")[0];
    }

    private static double contended(String hosts, String base, int k, int n) throws Exception {
        List<CuratorFramework> clients = new ArrayList<>(k);
        try {
            List<InterProcessMutex> locks = new ArrayList<>(k);
            String path = base + "/contended";
            for (int i = 0; i < k; i++) {
                CuratorFramework c = connect(hosts);
                clients.add(c);
                locks.add(new InterProcessMutex(c, path));
            }
            contendedRound(locks, Math.max(WARMUP, 2 * k)); // warm-up, untimed
            long ns = contendedRound(locks, n);
            return n / (ns / 1e9);
        } finally {
            for (CuratorFramework c : clients) {
                c.close();
            }
        }
    }

    private static byte[] item(int i) {
        byte[] b = new byte[ITEM_SIZE];
        byte[] s = String.format(Locale.ROOT, "item-%011d", i).getBytes();
        System.arraycopy(s, 0, b, 0, ITEM_SIZE);
        return b;
    }

    /** Untimed warm-up of the queue code paths on a separate path. */
    private static void warmQueue(CuratorFramework c, String base) throws Exception {
        SimpleDistributedQueue warm = new SimpleDistributedQueue(c, base + "/warmup");
        for (int i = 0; i < WARMUP; i++) {
            warm.offer(item(i));
        }
        for (int i = 0; i < WARMUP; i++) {
            warm.take();
        }
    }

    private static double queue(String hosts, String base, int n, boolean take)
            throws Exception {
        try (CuratorFramework c = connect(hosts)) {
            warmQueue(c, base);
            SimpleDistributedQueue q = new SimpleDistributedQueue(c, base + "/queue");
            byte[][] items = new byte[n][];
            for (int i = 0; i < n; i++) {
                items[i] = item(i);
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                q.offer(items[i]);
            }
            long t1 = System.nanoTime();
            if (!take) {
                return n / ((t1 - t0) / 1e9);
            }
            t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                byte[] got = q.take();
                if (got == null || got.length != ITEM_SIZE) {
                    throw new IllegalStateException("bad item " + i);
                }
            }
            t1 = System.nanoTime();
            return n / ((t1 - t0) / 1e9);
        }
    }

    /**
     * K sessions drain one pre-filled queue together. No producer runs, so
     * a null poll() means every item is gone (each listed one deleted by
     * some consumer). Returns items/s from the common start to the N-th
     * take.
     */
    private static double queueTakeMany(String hosts, String base, int k, int n)
            throws Exception {
        List<CuratorFramework> clients = new ArrayList<>(k);
        try (CuratorFramework c = connect(hosts)) {
            warmQueue(c, base);
            String path = base + "/queue";
            SimpleDistributedQueue filler = new SimpleDistributedQueue(c, path);
            for (int i = 0; i < n; i++) {
                filler.offer(item(i));
            }
            List<SimpleDistributedQueue> queues = new ArrayList<>(k);
            for (int i = 0; i < k; i++) {
                CuratorFramework ci = connect(hosts);
                clients.add(ci);
                queues.add(new SimpleDistributedQueue(ci, path));
            }
            long[] r = race(queues, n, q -> {
                byte[] got = q.poll();
                if (got == null) {
                    return false;       // empty: the others took the rest
                }
                if (got.length != ITEM_SIZE) {
                    throw new IllegalStateException("bad item");
                }
                return true;
            }, "consumer");
            if (r[1] != n) {
                throw new IllegalStateException("took " + r[1] + " of " + n + " items");
            }
            return n / (r[0] / 1e9);
        } finally {
            for (CuratorFramework ci : clients) {
                ci.close();
            }
        }
    }

    private static void cleanup(String hosts, String base) {
        try (CuratorFramework c = connect(hosts)) {
            if (c.checkExists().forPath(base) != null) {
                c.delete().deletingChildrenIfNeeded().forPath(base);
            }
        } catch (Throwable e) {
            System.err.println("CuratorBench: cleanup of " + base + " failed: " + e);
        }
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            usage("expected 3 arguments, got " + args.length);
        }
        String hosts = args[0];
        String scenario = args[1];
        int n = positive("N", args[2]);
        String base = "/bench/curator-" + System.currentTimeMillis() + "-"
                + ProcessHandle.current().pid();

        double value;
        String unit;
        try {
            if (scenario.equals("uncontended")) {
                value = uncontended(hosts, base, n);
                unit = "cycles/s";
            } else if (scenario.startsWith("contended:")) {
                int k = positive("K", scenario.substring("contended:".length()));
                value = contended(hosts, base, k, n);
                unit = "handoffs/s";
            } else if (scenario.equals("queue-put")) {
                value = queue(hosts, base, n, false);
                unit = "items/s";
            } else if (scenario.equals("queue-take")) {
                value = queue(hosts, base, n, true);
                unit = "items/s";
            } else if (scenario.startsWith("queue-take:")) {
                int k = positive("K", scenario.substring("queue-take:".length()));
                value = queueTakeMany(hosts, base, k, n);
                unit = "items/s";
            } else {
                usage("unknown SCENARIO " + scenario);
                return;
            }
        } catch (Throwable e) {
            System.err.println("CuratorBench: " + scenario + ": " + e);
            cleanup(hosts, base);
            System.exit(1);
            return;
        }
        cleanup(hosts, base);
        System.out.println(String.format(Locale.ROOT, "RESULT curator %s %.1f %s",
                scenario, value, unit));
        System.out.flush();
        System.exit(0);
    }
}
