/*
 * afile.c - atomic, durable file writes (the protocol: afile.h). Depends on
 * libc only, so build/scale compiles it beside bench/.
 */
#include "afile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the temporary file of the write in progress, for afile_unlink_pending */
static const char *volatile pending;

/* the test hook (afile.h): -1 not read yet, 0 off, else microseconds */
static long slow_us = -1;

static long hook_us(void) {
    if (slow_us < 0) {
        const char *s = getenv("CLLM_TEST_AFILE_SLOW");
        long v = s && *s ? atol(s) : 0;
        slow_us = v > 0 && v <= 10000000 ? v : 0;
    }
    return slow_us;
}

static void hook_sleep(void) {
    long us = hook_us();
    if (!us) return;
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void hook_say(const char *what, const char *path) {
    if (!hook_us()) return;
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "afile-hook: %s %s\n", what, path);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
}

/* path's folder and base name; -1 when path names no file (empty, or ends in '/') */
static int split_path(const char *path, char *dir, size_t dn, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!**base) return -1;
    if (!slash) snprintf(dir, dn, ".");
    else if (slash == path) snprintf(dir, dn, "/");
    else snprintf(dir, dn, "%.*s", (int)(slash - path), path);
    return 0;
}

/* 64 random bits: getrandom, else the clock and a counter mixed (splitmix64) */
static uint64_t random64(void) {
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)getpid() << 16) ^
                 (++counter * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* the pid of a temporary name `.<base>.<pid>.<hex>.tmp`, or 0 when name is
 * not one of base's */
static long temp_pid(const char *name, const char *base) {
    size_t bl = strlen(base), nl = strlen(name);
    if (nl < bl + 8 || name[0] != '.' || strncmp(name + 1, base, bl) != 0 || name[bl + 1] != '.' ||
        strcmp(name + nl - 4, ".tmp") != 0)
        return 0;
    const char *p = name + bl + 2, *end = name + nl - 4;
    long pid = 0;
    const char *d = p;
    for (; d < end && *d >= '0' && *d <= '9'; d++) {
        if (pid > 100000000) return 0;
        pid = pid * 10 + (*d - '0');
    }
    if (d == p || d >= end || *d != '.' || pid <= 0) return 0;
    const char *h = d + 1;
    if (h == end) return 0;
    for (; h < end; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'))) return 0;
    return pid;
}

int afile_sweep(const char *path) {
    char dir[PATH_MAX];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base) != 0) return 0;
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        long pid = temp_pid(e->d_name, base);
        if (pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours to know */
        if (unlinkat(dirfd(dp), e->d_name, 0) == 0) removed++;
    }
    closedir(dp);
    return removed;
}

static int open_temp(afile *a, const char *path, int hooked, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    const char *base;
    if (strlen(path) >= sizeof a->path) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(ENAMETOOLONG));
        errno = ENAMETOOLONG;
        return -1;
    }
    if (split_path(path, a->dir, sizeof a->dir, &base) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(EISDIR));
        errno = EISDIR;
        return -1;
    }
    snprintf(a->path, sizeof a->path, "%s", path);
    afile_sweep(path);
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        int n = snprintf(a->tmp, sizeof a->tmp, "%.*s.%s.%ld.%016llx.tmp", (int)(base - path), path, base,
                         (long)getpid(), (unsigned long long)random64());
        if (n < 0 || (size_t)n >= sizeof a->tmp) { errno = ENAMETOOLONG; break; }
        pending = a->tmp;
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) pending = NULL;
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        pending = NULL;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (hooked) hook_say("open", a->path);
    return 0;
}

int afile_open(afile *a, const char *path, char *err, size_t errlen) {
    return open_temp(a, path, 1, err, errlen);
}

int afile_probe(const char *path, char *err, size_t errlen) {
    afile a;
    if (open_temp(&a, path, 0, err, errlen) != 0) return -1;
    afile_abort(&a);
    return 0;
}

int afile_write(afile *a, const void *buf, size_t n) {
    const unsigned char *p = buf;
    size_t piece = hook_us() ? 4096 : n;
    while (n) {
        size_t k = n < piece ? n : piece;
        if (fwrite(p, 1, k, a->f) != k) return -1;
        p += k;
        n -= k;
        if (n) hook_sleep();
    }
    return 0;
}

int afile_commit(afile *a, char *err, size_t errlen) {
    int e = 0;
    const char *step = "cannot write";
    if (ferror(a->f)) e = errno ? errno : EIO;
    if (!e && fflush(a->f) != 0) e = errno;
    hook_sleep();
    if (!e && fsync(fileno(a->f)) != 0) { e = errno; step = "cannot fsync"; }
    hook_sleep();
    if (fclose(a->f) != 0 && !e) e = errno;
    a->f = NULL;
    if (!e && rename(a->tmp, a->path) != 0) { e = errno; step = "cannot rename the temporary file onto"; }
    if (e) {
        unlink(a->tmp);
        pending = NULL;
        snprintf(err, errlen, "%s %s: %s", step, a->path, strerror(e));
        errno = e;
        return -1;
    }
    pending = NULL;
    hook_sleep();
    int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* EINVAL: a file system that cannot sync a folder; nothing more to do */
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {
        e = errno;
        if (dfd >= 0) close(dfd);
        snprintf(err, errlen, "%s is written but its folder %s could not be synced (the rename may not "
                 "survive a power cut): %s", a->path, a->dir, strerror(e));
        errno = e;
        return -1;
    }
    close(dfd);
    hook_say("done", a->path);
    return 0;
}

void afile_abort(afile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
    pending = NULL;
}

void afile_unlink_pending(void) {
    const char *p = pending;
    if (p) unlink(p);
}
