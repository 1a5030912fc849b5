/* scripts/bench's trivial upstream for the gate section: an HTTP/1.1 server that costs next to nothing,
 * so that what a proxy in front of it adds (comfy-gateway, nginx) is not hidden behind the stand-in
 * ComfyUI's own time (Python's http.server, about a millisecond a request).
 *
 *   gate-upstream PORT     serve 127.0.0.1:PORT until killed (one thread, epoll)
 *
 * Every request is read to its end first (Content-Length or chunked: an upload is received, never cut
 * short), then answered 200 with Content-Length: GET with a body shaped like the stand-in's
 * /system_stats (about 450 bytes), anything else with {"received": BYTES}. Keep-alive and pipelining
 * as HTTP/1.1 has them; `Connection: close` (or HTTP/1.0 without keep-alive) closes after the answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { HEADERS, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILER };
enum { CAP = 1 << 16 };

struct conn {
    int fd, state, close_after, is_get;
    long long remaining, received;
    size_t len, outlen, outoff;
    char in[CAP];
    char *out;
    size_t outcap;
};

static const char STATS[] =
    "{\"system\": {\"os\": \"linux\", \"ram_total\": 25232457728, \"ram_free\": 20177686528, "
    "\"comfyui_version\": \"0.8.0\", \"python_version\": \"3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]\", "
    "\"pytorch_version\": \"standin\", \"embedded_python\": false, \"argv\": [\"main.py\", \"--listen\", "
    "\"127.0.0.1\", \"--port\", \"18188\", \"--cpu\"]}, \"devices\": [{\"name\": \"cpu\", \"type\": \"cpu\", "
    "\"index\": null, \"vram_total\": 25232457728, \"vram_free\": 20177686528, \"torch_vram_total\": "
    "25232457728, \"torch_vram_free\": 20177686528}]}";

static void out_append(struct conn *c, const char *p, size_t n) {
    if (c->outlen + n > c->outcap) {
        c->outcap = (c->outlen + n) * 2;
        c->out = realloc(c->out, c->outcap);
        if (!c->out) { perror("realloc"); exit(1); }
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
}

static void respond(struct conn *c, int is_get) {
    char body[64], head[256];
    const char *b = STATS;
    size_t blen = sizeof STATS - 1;
    if (!is_get) {
        blen = (size_t)snprintf(body, sizeof body, "{\"received\": %lld}", c->received);
        b = body;
    }
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
                     blen, c->close_after ? "Connection: close\r\n" : "");
    out_append(c, head, (size_t)h);
    out_append(c, b, blen);
}

/* 1 when the header block [p, p+n) has header `name` (case-insensitive) whose value contains `word` */
static int header_has(const char *p, size_t n, const char *name, const char *word, long long *number) {
    size_t nl = strlen(name);
    const char *end = p + n;
    const char *line = memchr(p, '\n', n);
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            if (number) { *number = strtoll(v, NULL, 10); return 1; }
            size_t vl = (size_t)(eol - v);
            char buf[256];
            if (vl >= sizeof buf) vl = sizeof buf - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            if (strcasestr(buf, word)) return 1;
        }
        line = eol;
    }
    return 0;
}

/* What the buffer holds is consumed as far as it goes; 0 ok, -1 close the connection. */
static int process(struct conn *c) {
    size_t off = 0;
    for (;;) {
        char *p = c->in + off;
        size_t n = c->len - off;
        if (c->state == HEADERS) {
            char *e = memmem(p, n, "\r\n\r\n", 4);
            if (!e) {
                if (n == CAP) return -1; /* headers too large */
                break;
            }
            size_t hl = (size_t)(e - p) + 4;
            c->is_get = n >= 5 && (memcmp(p, "GET ", 4) == 0 || memcmp(p, "HEAD ", 5) == 0);
            const char *eol = memchr(p, '\n', hl);
            int http10 = eol && eol - p >= 9 && memcmp(eol - 9, "HTTP/1.0", 8) == 0;
            c->close_after = header_has(p, hl, "connection", "close", NULL) ||
                             (http10 && !header_has(p, hl, "connection", "keep-alive", NULL));
            long long cl = 0;
            c->received = 0;
            if (header_has(p, hl, "transfer-encoding", "chunked", NULL)) {
                c->state = CHUNK_SIZE;
            } else if (header_has(p, hl, "content-length", "", &cl) && cl > 0) {
                c->state = BODY;
                c->remaining = cl;
            } else {
                respond(c, c->is_get);
            }
            off += hl;
        } else if (c->state == BODY || c->state == CHUNK_DATA) {
            if (!n) break;
            size_t take = n < (size_t)c->remaining ? n : (size_t)c->remaining;
            c->remaining -= (long long)take;
            c->received += (long long)take;
            off += take;
            if (!c->remaining) {
                if (c->state == BODY) {
                    c->state = HEADERS;
                    respond(c, c->is_get);
                } else {
                    c->state = CHUNK_END;
                }
            }
        } else { /* CHUNK_SIZE, CHUNK_END, TRAILER: one line each */
            char *e = memmem(p, n, "\r\n", 2);
            if (!e) {
                if (n == CAP) return -1;
                break;
            }
            size_t ll = (size_t)(e - p);
            off += ll + 2;
            if (c->state == CHUNK_SIZE) {
                c->remaining = strtoll(p, NULL, 16);
                c->state = c->remaining ? CHUNK_DATA : TRAILER;
            } else if (c->state == CHUNK_END) {
                c->state = CHUNK_SIZE;
            } else if (ll == 0) {
                c->state = HEADERS;
                respond(c, c->is_get);
            }
        }
        if (c->close_after && c->outlen && c->state == HEADERS) break;
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
    return 0;
}

/* 1 all written, 0 the socket is full, -1 error */
static int flush_out(struct conn *c) {
    while (c->outoff < c->outlen) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->outoff += (size_t)w;
    }
    c->outoff = c->outlen = 0;
    return 1;
}

static void drop(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gate-upstream PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
        perror("gate-upstream: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
                continue;
            }
            int dead = 0;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    ssize_t r = recv(c->fd, c->in + c->len, CAP - c->len, 0);
                    if (r > 0) {
                        c->len += (size_t)r;
                        if (process(c) < 0) { dead = 1; break; }
                        continue;
                    }
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) dead = 1;
                    if (r < 0 && errno == EINTR) continue;
                    break;
                }
            }
            if (!dead && c->outlen) {
                int f = flush_out(c);
                if (f < 0 || (f == 1 && c->close_after)) dead = 1;
            }
            if (dead) drop(ep, c);
        }
    }
}
