/* scripts/bench's clock for "process start to the server's exec", without strace or perf.
 *
 *   stamp launch FILE CMD [ARGS...]   append CLOCK_MONOTONIC (ns) to FILE, then exec CMD (the entrypoint)
 *   python [-c GUARD] main.py ...     (stamp installed as VENV/bin/python) append the clock to
 *                                     $BENCH_STAMP_FILE and exit 0: the moment the server would start
 *   python ANYTHING-ELSE ...          exec VENV/bin/python3 with the same argv (pip, python -c ...)
 *
 * The second line minus the first is the entrypoint's own time from its exec to the server's exec:
 * everything it does before the server starts (bootstrap, pip, hashing), and nothing the server does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int append_clock(const char *path) {
    struct timespec ts;
    char line[32];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int n = snprintf(line, sizeof line, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        fprintf(stderr, "stamp: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Where a shell found NAME (`python -c ...` after `source venv/bin/activate` passes no path). */
static int find_on_path(const char *name, char *out, size_t size) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *copy = strdup(path), *save = NULL;
    int found = 0;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/%s", *dir ? dir : ".", name);
        found = access(out, X_OK) == 0;
    }
    free(copy);
    return found;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "launch") == 0) {
        if (append_clock(argv[2]) != 0) return 125;
        execvp(argv[3], argv + 3);
        fprintf(stderr, "stamp: cannot exec %s: %s\n", argv[3], strerror(errno));
        return 127;
    }
    /* The server: `python main.py ...`, or with auth on `python -c PORT_GUARD main.py ...`. */
    int server = (argc >= 2 && strcmp(argv[1], "main.py") == 0) ||
                 (argc >= 4 && strcmp(argv[1], "-c") == 0 && strcmp(argv[3], "main.py") == 0);
    if (server) {
        const char *file = getenv("BENCH_STAMP_FILE");
        if (!file) {
            fprintf(stderr, "stamp: BENCH_STAMP_FILE is not set\n");
            return 125;
        }
        return append_clock(file) == 0 ? 0 : 125;
    }
    /* Any other python call: the real interpreter, keeping argv[0] so that Python finds the venv. */
    char self[4096], real[4200];
    if (strchr(argv[0], '/')) {
        snprintf(self, sizeof self, "%s", argv[0]);
    } else if (!find_on_path(argv[0], self, sizeof self)) {
        fprintf(stderr, "stamp: %s is not on PATH\n", argv[0]);
        return 127;
    }
    snprintf(real, sizeof real, "%s/python3", dirname(self));
    execv(real, argv);
    fprintf(stderr, "stamp: cannot exec %s: %s\n", real, strerror(errno));
    return 127;
}
