/*
 * counters_child.h - what the counters tests (bench/test_counters.c,
 * bench/test_counter_groups.c) share: the child they count is the test
 * binary itself, re-executed with its own arguments, reaped with its
 * rusage; and the count of open fds they compare at the start and the end.
 * Include after check.h and counters.h.
 *
 *   child_init()                     finds this binary (/proc/self/exe): child_exe
 *   child_run(c, argv, cpu_s, wall)  runs argv (child_exe ...) under c, reaps it
 *   child_count_fds()                the fds this process has open
 */
#ifndef CLLM_COUNTERS_CHILD_H
#define CLLM_COUNTERS_CHILD_H

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char child_exe[4096];

/* 0, or -1 with a message on stderr. */
static int child_init(void) {
    ssize_t n = readlink("/proc/self/exe", child_exe, sizeof child_exe - 1);
    if (n <= 0) { fprintf(stderr, "readlink /proc/self/exe: %s\n", strerror(errno)); return -1; }
    child_exe[n] = '\0';
    return 0;
}

static double child_wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Spawns argv (argv[0] = child_exe, NULL-terminated) under c and waits for
 * it; its start and its exit status 0 are checks. Returns 0 when it was
 * reaped (whatever its status), -1 when it did not start; *cpu_s = its
 * rusage user + sys, *wall = spawn to reap (either may be NULL). */
static int child_run(counters *c, char **argv, double *cpu_s, double *wall) {
    char err[256];
    double t0 = child_wall_s();
    pid_t pid = counters_spawn(c, argv, -1, -1, err, sizeof err);
    EXPECT(pid > 0, "spawn failed: %s", err);
    if (pid <= 0) return -1;
    int status;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR) {}
    if (wall) *wall = child_wall_s() - t0;
    EXPECT(w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "child did not exit 0 (status %d)", status);
    if (cpu_s)
        *cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
               + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return w == pid ? 0 : -1;
}

static int child_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

#endif
