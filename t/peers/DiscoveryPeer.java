// SPDX-License-Identifier: Apache-2.0
//
// DiscoveryPeer: Apache Curator's service discovery (and shared counters)
// for zkr's interoperability tests.
//
//   javac -cp CP -d OUTDIR t/peers/DiscoveryPeer.java
//   java -cp OUTDIR:CP DiscoveryPeer HOSTS MODE ARGS...
//
// CP = /usr/share/java/curator-x-discovery.jar:/usr/share/java/slf4j-nop.jar
// (the Debian jar manifests pull in curator-framework and -client,
// ZooKeeper, guava, jackson-databind and through it jackson-core and
// jackson-annotations). curator-recipes.jar is added for the counters.
//
// MODE:
//   register BASE NAME ID PORT PAYLOAD
//       register a DYNAMIC instance (address 127.0.0.1, String payload),
//       print "registered ID", and stay until killed; SIGTERM unregisters
//   list BASE NAME
//       print "ID ADDRESS:PORT PAYLOAD" for each instance, sorted
//   await BASE NAME COUNT SECONDS
//       wait until a ServiceCache holds COUNT instances; print their ids;
//       exit 1 if it does not happen in time
//   provider BASE NAME
//       print the id a round-robin ServiceProvider returns
//   reserialize PATH
//       read the node at PATH, parse it with JsonInstanceSerializer,
//       serialize it again and print "same" if the bytes are identical,
//       else both versions
//   atomiclong PATH [DELTA]     DistributedAtomicLong: add DELTA; print value
//   sharedcount PATH [VALUE]    SharedCount: set VALUE; print the count
//
// Exit 0 on success, 1 on failure, 2 on a usage error.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceProvider;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.strategies.RoundRobinStrategy;

public final class DiscoveryPeer {
    private static final int SESSION_TIMEOUT_MS = 4_000;

    private static void usage(String why) {
        System.err.println("DiscoveryPeer: " + why);
        System.err.println("usage: java DiscoveryPeer HOSTS MODE ARGS...");
        System.exit(2);
    }

    private static void need(String[] a, int n) {
        if (a.length < n) {
            usage("missing arguments for " + a[1]);
        }
    }

    private static ServiceDiscovery<Object> discovery(CuratorFramework c, String base)
            throws Exception {
        ServiceDiscovery<Object> d = ServiceDiscoveryBuilder.builder(Object.class)
                .client(c).basePath(base).build();
        d.start();
        return d;
    }

    private static String describe(ServiceInstance<Object> i) {
        return i.getId() + " " + i.getAddress() + ":" + i.getPort() + " " + i.getPayload();
    }

    public static void main(String[] a) throws Exception {
        if (a.length < 2) {
            usage("missing HOSTS or MODE");
        }
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(a[0])
                .sessionTimeoutMs(SESSION_TIMEOUT_MS).connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5)).build();
        c.start();
        if (!c.blockUntilConnected(30, java.util.concurrent.TimeUnit.SECONDS)) {
            System.err.println("DiscoveryPeer: cannot connect");
            System.exit(1);
        }
        int status = 0;
        switch (a[1]) {
            case "register": {
                need(a, 7);
                ServiceDiscovery<Object> d = discovery(c, a[2]);
                ServiceInstance<Object> i = ServiceInstance.builder().name(a[3]).id(a[4])
                        .address("127.0.0.1").port(Integer.parseInt(a[5])).payload(a[6])
                        .build();
                d.registerService(i);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        d.close();
                        c.close();
                    } catch (Exception e) {
                        // exiting anyway
                    }
                }));
                System.out.println("registered " + a[4]);
                System.out.flush();
                Thread.sleep(Long.MAX_VALUE);
                break;
            }
            case "list": {
                need(a, 4);
                ServiceDiscovery<Object> d = discovery(c, a[2]);
                List<String> out = new ArrayList<>();
                for (ServiceInstance<Object> i : d.queryForInstances(a[3])) {
                    out.add(describe(i));
                }
                Collections.sort(out);
                out.forEach(System.out::println);
                d.close();
                break;
            }
            case "await": {
                need(a, 6);
                ServiceDiscovery<Object> d = discovery(c, a[2]);
                ServiceCache<Object> cache = d.serviceCacheBuilder().name(a[3]).build();
                cache.start();
                int want = Integer.parseInt(a[4]);
                long until = System.currentTimeMillis() + 1000L * Integer.parseInt(a[5]);
                while (cache.getInstances().size() != want
                        && System.currentTimeMillis() < until) {
                    Thread.sleep(20);
                }
                List<String> ids = new ArrayList<>();
                for (ServiceInstance<Object> i : cache.getInstances()) {
                    ids.add(i.getId());
                }
                Collections.sort(ids);
                System.out.println(String.join(" ", ids));
                status = ids.size() == want ? 0 : 1;
                cache.close();
                d.close();
                break;
            }
            case "provider": {
                need(a, 4);
                ServiceDiscovery<Object> d = discovery(c, a[2]);
                ServiceProvider<Object> p = d.serviceProviderBuilder().serviceName(a[3])
                        .providerStrategy(new RoundRobinStrategy<>()).build();
                p.start();
                ServiceInstance<Object> i = p.getInstance();
                System.out.println(i == null ? "none" : i.getId());
                status = i == null ? 1 : 0;
                p.close();
                d.close();
                break;
            }
            case "reserialize": {
                need(a, 3);
                byte[] data = c.getData().forPath(a[2]);
                JsonInstanceSerializer<Object> s = new JsonInstanceSerializer<>(Object.class);
                byte[] again = s.serialize(s.deserialize(data));
                if (Arrays.equals(data, again)) {
                    System.out.println("same");
                } else {
                    System.out.println("zkr:     " + new String(data, StandardCharsets.UTF_8));
                    System.out.println("curator: " + new String(again, StandardCharsets.UTF_8));
                    status = 1;
                }
                break;
            }
            case "atomiclong": {
                need(a, 3);
                DistributedAtomicLong n = new DistributedAtomicLong(c, a[2],
                        new RetryNTimes(50, 10));
                AtomicValue<Long> v = a.length > 3 ? n.add(Long.parseLong(a[3])) : n.get();
                System.out.println(v.succeeded() ? Long.toString(v.postValue()) : "failed");
                status = v.succeeded() ? 0 : 1;
                break;
            }
            case "sharedcount": {
                need(a, 3);
                SharedCount n = new SharedCount(c, a[2], 0);
                n.start();
                if (a.length > 3) {
                    n.setCount(Integer.parseInt(a[3]));
                }
                System.out.println(n.getCount());
                n.close();
                break;
            }
            default:
                usage("unknown mode " + a[1]);
        }
        c.close();
        System.exit(status);
    }
}
