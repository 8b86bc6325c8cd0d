/* SPDX-License-Identifier: Apache-2.0 */
/* dubbo-provider: a C service that registers itself in ZooKeeper the way a
 * Dubbo provider does and serves a line protocol on 127.0.0.1:
 *
 *   request  "echo TEXT\n"    reply "NAME TEXT\n"
 *
 * (any other line gets "error unknown command\n").
 *
 *   dubbo-provider [-s HOSTS] [-p PORT] [-n NAME] [-w WEIGHT] [-d DELAY_MS]
 *                  [-t SESSION_MS]
 *
 * PORT 0 (the default) takes a free port; SESSION_MS defaults to 4000. Runs until SIGINT or SIGTERM,
 * then unregisters. Exit 0; 1 on errors; 2 usage; 3 cannot connect. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zkr/registry.h>

#define INTERFACE "org.zkr.demo.EchoService"
#define MAX_CLIENTS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct conn {
    int fd;
    char buf[1024];
    size_t len;
};

static void serve_line(int fd, const char *name, const char *line,
                       int delay_ms)
{
    char out[1200];
    int n;
    if (!strncmp(line, "echo ", 5)) {
        if (delay_ms > 0) { /* a slow service, to make least-active matter */
            struct timespec ts = {delay_ms / 1000,
                                  (long)(delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        n = snprintf(out, sizeof out, "%s %s\n", name, line + 5);
    } else {
        n = snprintf(out, sizeof out, "error unknown command\n");
    }
    if (write(fd, out, (size_t)n) != n)
        return; /* the client went away; its fd is closed on EOF */
}

/* Read what arrived; returns 0 when the connection should be closed. */
static int serve(struct conn *c, const char *name, int delay_ms)
{
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
    char *nl;
    if (r <= 0)
        return 0;
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    while ((nl = strchr(c->buf, '\n'))) {
        *nl = '\0';
        serve_line(c->fd, name, c->buf, delay_ms);
        c->len -= (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len + 1);
    }
    return c->len < sizeof c->buf - 1; /* a line too long: drop it */
}

int main(int argc, char **argv)
{
    const char *hosts = getenv("ZKR_HOSTS"), *name = "provider";
    int port = 0, weight = 100, delay_ms = 0, session_ms = 4000, opt, lfd,
        rc;
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    struct pollfd pf[MAX_CLIENTS + 1];
    struct conn conns[MAX_CLIENTS];
    int nconns = 0;
    zkr_client_opts_t co;
    zkr_client_t *c;
    zkr_dubbo_url_t *u = NULL;
    zkr_registration_t *r = NULL;
    struct sigaction sa;
    char w[16], path[4096];

    while ((opt = getopt(argc, argv, "s:p:n:w:d:t:h")) != -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'w':
            weight = atoi(optarg);
            break;
        case 'd':
            delay_ms = atoi(optarg);
            break;
        case 't':
            session_ms = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: dubbo-provider [-s HOSTS] [-p PORT] "
                            "[-n NAME] [-w WEIGHT] [-d DELAY_MS] "
                            "[-t SESSION_MS]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (port < 0 || port > 65535 || weight < 0 || delay_ms < 0 ||
        session_ms <= 0 || optind != argc) {
        fprintf(stderr, "dubbo-provider: bad arguments\n");
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        fprintf(stderr, "dubbo-provider: listen: %s\n", strerror(errno));
        return 1;
    }
    port = ntohs(addr.sin_port);

    zkr_client_opts_init(&co);
    if (hosts)
        co.hosts = hosts;
    co.session_timeout_ms = session_ms;
    if ((rc = zkr_client_new(&co, &c)) != ZKR_OK) {
        fprintf(stderr, "dubbo-provider: connect: %s\n", zkr_strerror(rc));
        return 3;
    }
    /* the URL a Dubbo provider of this interface would register */
    snprintf(w, sizeof w, "%d", weight);
    rc = zkr_dubbo_url_provider("127.0.0.1", port, INTERFACE, &u);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "application", name);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "methods", "echo");
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "weight", w);
    if (rc == ZKR_OK)
        rc = zkr_registration_new_dubbo(c, NULL, u, NULL, &r);
    zkr_dubbo_url_free(u);
    if (rc == ZKR_OK)
        rc = zkr_registration_wait(r, 10000);
    if (rc != ZKR_OK) {
        fprintf(stderr, "dubbo-provider: register: %s\n", zkr_strerror(rc));
        zkr_registration_free(r);
        zkr_client_free(c);
        return 1;
    }
    zkr_registration_path(r, path, sizeof path);
    printf("%s listening on 127.0.0.1:%d, weight %d\n", name, port, weight);
    printf("%s registered %s\n", name, path);
    fflush(stdout);

    while (!stop) {
        int n;
        pf[0].fd = lfd;
        pf[0].events = POLLIN;
        for (int i = 0; i < nconns; i++) {
            pf[i + 1].fd = conns[i].fd;
            pf[i + 1].events = POLLIN;
        }
        n = poll(pf, (nfds_t)nconns + 1, 500);
        if (n <= 0)
            continue;
        for (int i = nconns - 1; i >= 0; i--) {
            if (pf[i + 1].revents && !serve(&conns[i], name, delay_ms)) {
                close(conns[i].fd);
                conns[i] = conns[--nconns];
            }
        }
        if (pf[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && nconns < MAX_CLIENTS) {
                conns[nconns].fd = fd;
                conns[nconns].len = 0;
                nconns++;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
    printf("%s stopping\n", name);
    zkr_registration_free(r); /* unregisters */
    zkr_client_flush(c, 2000);
    zkr_client_free(c);
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    close(lfd);
    return 0;
}
