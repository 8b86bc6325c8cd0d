// SPDX-License-Identifier: Apache-2.0
//
// QueuePeer: a Curator SimpleDistributedQueue client for zkr's queue
// interoperability tests.
//
//   javac -cp CP -d OUTDIR t/peers/QueuePeer.java
//   java -cp OUTDIR:CP QueuePeer HOSTS MODE PATH ARGS...
//
// CP = /usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar
//
// MODE:
//   put PATH PREFIX N    offer PREFIX-0 .. PREFIX-(N-1), then print "done"
//   take PATH N          take N items (each within 20 s), one per line
//   drain PATH SECONDS   take items until none arrives for SECONDS, one per
//                        line
//
// Items are written as UTF-8 text. Exit 0 when done; 1 with a message on
// stderr on any error (also when a take times out); 2 on a usage error.

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class QueuePeer {
    private static final int SESSION_TIMEOUT_MS = 10_000;
    private static final int CONNECTION_TIMEOUT_MS = 10_000;

    private static void usage(String why) {
        System.err.println("QueuePeer: " + why);
        System.err.println("usage: java QueuePeer HOSTS put PATH PREFIX N");
        System.err.println("       java QueuePeer HOSTS take PATH N");
        System.err.println("       java QueuePeer HOSTS drain PATH SECONDS");
        System.exit(2);
    }

    private static int number(String what, String s) {
        try {
            int v = Integer.parseInt(s);
            if (v >= 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        usage(what + " must be a non-negative integer: " + s);
        return -1;
    }

    public static void main(String[] args) {
        if (args.length < 4) {
            usage("missing arguments");
        }
        String mode = args[1];
        int code = 0;
        CuratorFramework client = CuratorFrameworkFactory.newClient(args[0],
                SESSION_TIMEOUT_MS, CONNECTION_TIMEOUT_MS,
                new ExponentialBackoffRetry(100, 5));
        try {
            client.start();
            if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("cannot connect to " + args[0]);
            }
            SimpleDistributedQueue q = new SimpleDistributedQueue(client, args[2]);
            if (mode.equals("put") && args.length == 5) {
                int n = number("N", args[4]);
                for (int i = 0; i < n; i++) {
                    q.offer((args[3] + "-" + i).getBytes(StandardCharsets.UTF_8));
                }
                System.out.println("done");
            } else if (mode.equals("take") && args.length == 4) {
                int n = number("N", args[3]);
                for (int i = 0; i < n; i++) {
                    byte[] item = q.poll(20, TimeUnit.SECONDS);
                    if (item == null) {
                        throw new IllegalStateException("no item " + i + " within 20 s");
                    }
                    System.out.println(new String(item, StandardCharsets.UTF_8));
                }
            } else if (mode.equals("drain") && args.length == 4) {
                int seconds = number("SECONDS", args[3]);
                byte[] item;
                while ((item = q.poll(seconds, TimeUnit.SECONDS)) != null) {
                    System.out.println(new String(item, StandardCharsets.UTF_8));
                }
            } else {
                usage("unknown mode or wrong arguments: " + mode);
            }
            System.out.flush();
        } catch (Exception e) {
            System.err.println("QueuePeer: " + e);
            code = 1;
        } finally {
            client.close();
        }
        System.exit(code);
    }
}
