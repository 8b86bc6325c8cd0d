// SPDX-License-Identifier: Apache-2.0
//
// Peer: a Curator lock client for zkr's interoperability tests.
//
//   javac -cp CP -d OUTDIR t/peers/Peer.java
//   java -cp OUTDIR:CP Peer HOSTS MODE PATH COUNT LOGFILE HOLD_MS
//
// CP = /usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar
// (the Debian jar manifests pull in curator-framework/client, ZooKeeper,
// guava and slf4j-api).
//
// MODE:
//   mutex        InterProcessMutex on PATH
//   read, write  InterProcessReadWriteLock(PATH).readLock() / writeLock()
//   sem:N        InterProcessSemaphoreV2(PATH, N), one lease per hold
//   holdforever  InterProcessMutex: acquire once, log "enter", print "held",
//                then sleep until killed (COUNT and HOLD_MS are ignored)
//
// After connecting it prints "ready". Then COUNT times: acquire, append
// "<pid> enter <MODE>", sleep HOLD_MS, append "<pid> leave <MODE>", release.
// Each log line is one write() on a file opened with O_APPEND, so lines of
// several processes never interleave. Exit 0 when done; 1 with a message on
// stderr on any error; 2 on a usage error.

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class Peer {
    private static final int SESSION_TIMEOUT_MS = 10_000;
    private static final int CONNECTION_TIMEOUT_MS = 10_000;
    private static final int CONNECT_WAIT_S = 30;

    /** One kind of hold: acquire() then release(). */
    private interface Holder {
        void acquire() throws Exception;
        void release() throws Exception;
    }

    private static void usage(String why) {
        System.err.println("Peer: " + why);
        System.err.println("usage: java Peer HOSTS MODE PATH COUNT LOGFILE HOLD_MS");
        System.err.println("  MODE: mutex | read | write | sem:N | holdforever");
        System.exit(2);
    }

    private static int parseNonNegative(String what, String s) {
        int v = -1;
        try {
            v = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            // reported below
        }
        if (v < 0) {
            usage(what + " must be a non-negative integer: " + s);
        }
        return v;
    }

    private static Holder holderFor(CuratorFramework client, String mode, String path) {
        if (mode.equals("mutex") || mode.equals("holdforever")) {
            return lockHolder(new InterProcessMutex(client, path));
        }
        if (mode.equals("read")) {
            return lockHolder(new InterProcessReadWriteLock(client, path).readLock());
        }
        if (mode.equals("write")) {
            return lockHolder(new InterProcessReadWriteLock(client, path).writeLock());
        }
        if (mode.startsWith("sem:")) {
            int max = parseNonNegative("sem:N", mode.substring(4));
            if (max < 1) {
                usage("sem:N needs N >= 1");
            }
            final InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(client, path, max);
            return new Holder() {
                private Lease lease;

                @Override
                public void acquire() throws Exception {
                    lease = sem.acquire();
                }

                @Override
                public void release() throws Exception {
                    Lease l = lease;
                    lease = null;
                    sem.returnLease(l);
                }
            };
        }
        usage("unknown MODE " + mode);
        return null; // not reached
    }

    private static Holder lockHolder(final InterProcessLock lock) {
        return new Holder() {
            @Override
            public void acquire() throws Exception {
                lock.acquire();
            }

            @Override
            public void release() throws Exception {
                lock.release();
            }
        };
    }

    /** Append one line with a single write() (the stream is in append mode). */
    private static void logLine(FileOutputStream log, String line) throws IOException {
        log.write(line.getBytes(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) {
        if (args.length != 6) {
            usage("expected 6 arguments, got " + args.length);
        }
        String hosts = args[0];
        String mode = args[1];
        String path = args[2];
        int count = parseNonNegative("COUNT", args[3]);
        String logFile = args[4];
        int holdMs = parseNonNegative("HOLD_MS", args[5]);
        if (!path.startsWith("/") || (path.length() > 1 && path.endsWith("/"))) {
            usage("PATH must be an absolute ZooKeeper path: " + path);
        }

        int rc = 0;
        CuratorFramework client = null;
        try (FileOutputStream log = new FileOutputStream(logFile, true)) {
            long pid = ProcessHandle.current().pid();
            client = CuratorFrameworkFactory.newClient(hosts, SESSION_TIMEOUT_MS,
                    CONNECTION_TIMEOUT_MS, new ExponentialBackoffRetry(100, 10));
            client.start();
            if (!client.blockUntilConnected(CONNECT_WAIT_S, TimeUnit.SECONDS)) {
                throw new IllegalStateException("could not connect to " + hosts
                        + " within " + CONNECT_WAIT_S + " s");
            }
            Holder holder = holderFor(client, mode, path);
            System.out.println("ready");
            System.out.flush();

            if (mode.equals("holdforever")) {
                holder.acquire();
                logLine(log, pid + " enter " + mode + "\n");
                System.out.println("held");
                System.out.flush();
                while (true) {
                    Thread.sleep(3_600_000L);
                }
            }

            String enter = pid + " enter " + mode + "\n";
            String leave = pid + " leave " + mode + "\n";
            for (int i = 0; i < count; i++) {
                holder.acquire();
                logLine(log, enter);
                if (holdMs > 0) {
                    Thread.sleep(holdMs);
                }
                logLine(log, leave);
                holder.release();
            }
        } catch (Throwable e) {
            System.err.println("Peer: " + mode + " on " + path + ": " + e);
            rc = 1;
        } finally {
            if (client != null) {
                try {
                    client.close();
                } catch (Throwable e) {
                    System.err.println("Peer: close: " + e);
                    rc = 1;
                }
            }
        }
        System.exit(rc);
    }
}
