// SPDX-License-Identifier: Apache-2.0
//
// LatchPeer: a Curator LeaderLatch candidate for zkr's election
// interoperability test.
//
//   javac -cp CP -d OUTDIR t/peers/LatchPeer.java
//   java -cp OUTDIR:CP LatchPeer HOSTS PATH ID MODE [LOGFILE HOLD_MS COUNT]
//
// CP = /usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar
//
// MODE:
//   turns  COUNT times: start a LeaderLatch with ID, wait for leadership,
//          append "<pid> enter latch" to LOGFILE, sleep HOLD_MS, append
//          "<pid> leave latch", close the latch (which deletes its node).
//   hold   start a LeaderLatch, print "leader" once leading, keep leading
//          until SIGTERM, then close it (a shutdown hook) and exit.
//   info   print "leader <id>" and "participants <id>,<id>,..." as Curator
//          sees the election, without taking part.
//
// Prints "ready" once connected. Log lines are single writes on a file
// opened for appending, so lines of several processes never interleave.
// Exit 0 when done; 1 with a message on stderr on errors; 2 on usage.

import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class LatchPeer {
    private static final int SESSION_TIMEOUT_MS = 4_000;
    private static final int CONNECTION_TIMEOUT_MS = 4_000;

    private static void usage(String why) {
        System.err.println("LatchPeer: " + why);
        System.err.println("usage: java LatchPeer HOSTS PATH ID turns|hold|info [LOGFILE HOLD_MS COUNT]");
        System.exit(2);
    }

    private static void log(String file, String line) throws Exception {
        try (FileOutputStream out = new FileOutputStream(file, true)) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            usage("missing arguments");
        }
        String hosts = args[0], path = args[1], id = args[2], mode = args[3];
        if (mode.equals("turns") && args.length != 7) {
            usage("turns needs LOGFILE HOLD_MS COUNT");
        }
        CuratorFramework client = CuratorFrameworkFactory.newClient(hosts, SESSION_TIMEOUT_MS,
                CONNECTION_TIMEOUT_MS, new ExponentialBackoffRetry(100, 5));
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            System.err.println("LatchPeer: cannot connect to " + hosts);
            System.exit(1);
        }
        System.out.println("ready");
        System.out.flush();
        long pid = ProcessHandle.current().pid();
        switch (mode) {
            case "turns": {
                String file = args[4];
                long holdMs = Long.parseLong(args[5]);
                int count = Integer.parseInt(args[6]);
                for (int i = 0; i < count; i++) {
                    LeaderLatch latch = new LeaderLatch(client, path, id);
                    latch.start();
                    latch.await();
                    log(file, pid + " enter latch");
                    Thread.sleep(holdMs);
                    log(file, pid + " leave latch");
                    latch.close();
                }
                break;
            }
            case "hold": {
                LeaderLatch latch = new LeaderLatch(client, path, id);
                latch.start();
                latch.await();
                System.out.println("leader");
                System.out.flush();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        latch.close();
                    } catch (Exception e) {
                        // exiting anyway
                    }
                    client.close();
                }));
                Thread.sleep(Long.MAX_VALUE);
                break;
            }
            case "info": {
                LeaderLatch latch = new LeaderLatch(client, path, id);
                // not started: only reads the election
                Participant leader = latch.getLeader();
                List<String> ids = new ArrayList<>();
                for (Participant p : latch.getParticipants()) {
                    ids.add(p.getId());
                }
                System.out.println("leader " + leader.getId());
                System.out.println("participants " + String.join(",", ids));
                break;
            }
            default:
                usage("unknown mode " + mode);
        }
        client.close();
    }
}
