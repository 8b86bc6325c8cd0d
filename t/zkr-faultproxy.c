/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-faultproxy: a loopback TCP proxy that injects network faults between
 * ZooKeeper clients and one server, for fault tests.
 *
 *   zkr-faultproxy TARGET_PORT
 *
 * Listens on a free 127.0.0.1 port for clients and on a second one for
 * control commands, forwards every client connection to
 * 127.0.0.1:TARGET_PORT, and prints "PROXY_PORT CONTROL_PORT" on stdout.
 * Control: connect to CONTROL_PORT, send one line, read one reply line:
 *   cut              close every forwarded connection now
 *   blackhole up|down|both|off
 *                    stop forwarding client->server (up), server->client
 *                    (down), both, or resume; data is dropped, sockets
 *                    stay open (a silent network)
 *   delay MS         hold every chunk MS milliseconds before forwarding
 *   refuse on|off    close new client connections at once
 *   stats            "conns N bytes_up N bytes_down N"
 *   quit             exit
 * Single-threaded poll loop; only loopback addresses. */
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

#define MAXC 256
#define CHUNK 65536

typedef struct chunk {
    struct chunk *next;
    long long due; /* ms */
    size_t len, off;
    char data[];
} chunk_t;

typedef struct {
    int fd[2];        /* 0: client side, 1: server side */
    chunk_t *q[2];    /* q[d]: data waiting to be written to fd[d] */
    int used;
} conn_t;

static conn_t conns[MAXC];
static int delay_ms, refuse, hole_up, hole_down;
static long long bytes_up, bytes_down, nconns;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int listen_any(int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        perror("zkr-faultproxy: listen");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int dial(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void drop(conn_t *c)
{
    for (int d = 0; d < 2; d++) {
        close(c->fd[d]);
        while (c->q[d]) {
            chunk_t *n = c->q[d]->next;
            free(c->q[d]);
            c->q[d] = n;
        }
    }
    c->used = 0;
}

static void enqueue(conn_t *c, int to, const char *buf, size_t len)
{
    chunk_t *k = malloc(sizeof *k + len), **pp;
    if (!k) {
        drop(c);
        return;
    }
    k->next = NULL;
    k->due = now_ms() + delay_ms;
    k->len = len;
    k->off = 0;
    memcpy(k->data, buf, len);
    for (pp = &c->q[to]; *pp; pp = &(*pp)->next)
        ;
    *pp = k;
}

static void control(int cfd)
{
    char line[128] = "", reply[128] = "ok\n";
    ssize_t n = read(cfd, line, sizeof line - 1);
    char *arg;
    if (n <= 0) {
        close(cfd);
        return;
    }
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    if (!strcmp(line, "cut")) {
        for (int i = 0; i < MAXC; i++)
            if (conns[i].used)
                drop(&conns[i]);
    } else if (!strcmp(line, "blackhole") && arg) {
        hole_up = !strcmp(arg, "up") || !strcmp(arg, "both");
        hole_down = !strcmp(arg, "down") || !strcmp(arg, "both");
    } else if (!strcmp(line, "delay") && arg) {
        delay_ms = atoi(arg);
    } else if (!strcmp(line, "refuse") && arg) {
        refuse = !strcmp(arg, "on");
    } else if (!strcmp(line, "stats")) {
        snprintf(reply, sizeof reply, "conns %lld bytes_up %lld bytes_down %lld\n",
                 nconns, bytes_up, bytes_down);
    } else if (!strcmp(line, "quit")) {
        if (write(cfd, reply, strlen(reply)) < 0)
            exit(1);
        exit(0);
    } else {
        snprintf(reply, sizeof reply, "error unknown command\n");
    }
    if (write(cfd, reply, strlen(reply)) < 0)
        perror("zkr-faultproxy: control reply");
    close(cfd);
}

int main(int argc, char **argv)
{
    int target, pport, cport, lfd, ctl;
    struct pollfd pf[2 + 2 * MAXC];
    int map[2 + 2 * MAXC][2];
    if (argc != 2 || (target = atoi(argv[1])) <= 0 || target > 65535) {
        fprintf(stderr, "usage: zkr-faultproxy TARGET_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lfd = listen_any(&pport);
    ctl = listen_any(&cport);
    printf("%d %d\n", pport, cport);
    fflush(stdout);
    for (;;) {
        int n = 0, timeout = 1000;
        long long t = now_ms();
        pf[n].fd = lfd;
        pf[n++].events = POLLIN;
        pf[n].fd = ctl;
        pf[n++].events = POLLIN;
        for (int i = 0; i < MAXC; i++) {
            if (!conns[i].used)
                continue;
            for (int d = 0; d < 2; d++) {
                chunk_t *k = conns[i].q[d];
                pf[n].fd = conns[i].fd[d];
                pf[n].events = POLLIN;
                if (k && k->due <= t)
                    pf[n].events |= POLLOUT;
                else if (k && k->due - t < timeout)
                    timeout = (int)(k->due - t);
                map[n][0] = i;
                map[n][1] = d;
                n++;
            }
        }
        if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR)
            return 1;
        if (pf[0].revents & POLLIN) {
            int cfd = accept(lfd, NULL, NULL), sfd, slot = -1;
            for (int i = 0; i < MAXC && slot < 0; i++)
                if (!conns[i].used)
                    slot = i;
            if (cfd >= 0 && (refuse || slot < 0 || (sfd = dial(target)) < 0)) {
                close(cfd);
            } else if (cfd >= 0) {
                conns[slot].fd[0] = cfd;
                conns[slot].fd[1] = sfd;
                conns[slot].q[0] = conns[slot].q[1] = NULL;
                conns[slot].used = 1;
                nconns++;
            }
        }
        if (pf[1].revents & POLLIN) {
            int cfd = accept(ctl, NULL, NULL);
            if (cfd >= 0)
                control(cfd);
        }
        for (int p = 2; p < n; p++) {
            conn_t *c = &conns[map[p][0]];
            int d = map[p][1];
            if (!c->used || c->fd[d] != pf[p].fd)
                continue; /* dropped meanwhile */
            if (pf[p].revents & POLLIN) {
                char buf[CHUNK];
                ssize_t r = read(c->fd[d], buf, sizeof buf);
                if (r <= 0) {
                    drop(c);
                    continue;
                }
                /* from the client (d 0) goes up to the server (fd 1) */
                if (d == 0) {
                    bytes_up += r;
                    if (!hole_up)
                        enqueue(c, 1, buf, (size_t)r);
                } else {
                    bytes_down += r;
                    if (!hole_down)
                        enqueue(c, 0, buf, (size_t)r);
                }
                if (!c->used)
                    continue;
            }
            if (pf[p].revents & POLLOUT) {
                chunk_t *k = c->q[d];
                ssize_t w = write(c->fd[d], k->data + k->off, k->len - k->off);
                if (w < 0) {
                    drop(c);
                    continue;
                }
                k->off += (size_t)w;
                if (k->off == k->len) {
                    c->q[d] = k->next;
                    free(k);
                }
            }
            if (pf[p].revents & (POLLERR | POLLHUP) && !(pf[p].revents & POLLIN))
                drop(c);
        }
    }
}
