/*
 * test_afile.c - the atomic writer's protocol (core/afile.h), step by step.
 * This binary defines fsync and rename itself, so every call the writer
 * makes comes here first (an executable's own definition wins over libc's):
 * they are logged, then done with the real system calls. Checks: the
 * temporary's name (.<base>.<pid>.<16 hex>.tmp, in the target's folder,
 * mode 0644 minus the umask), the order "fsync the file, rename, fsync the
 * folder", the target untouched until the rename, afile_abort and failed
 * writes leaving nothing, dead writers' temporaries removed and live ones'
 * kept, and errors naming the path and errno's text.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "check.h"

/* ---- the spies: a log of "fsync:file", "fsync:dir" and "rename" */
static char events[64][16];
static int nevents;

static void log_event(const char *e) {
    if (nevents < 64) snprintf(events[nevents++], sizeof events[0], "%s", e);
}

int fsync(int fd) {
    struct stat st;
    log_event(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) ? "fsync:dir" : "fsync:file");
    return (int)syscall(SYS_fsync, fd);
}

int rename(const char *from, const char *to) {
    log_event("rename");
    return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

static char dir[] = "/tmp/cllm-test-afile-XXXXXX";

static int count_temps(const char *base) {
    DIR *d = opendir(dir);
    int k = 0;
    size_t bl = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        k += e->d_name[0] == '.' && strncmp(e->d_name + 1, base, bl) == 0 && n > 4 &&
             strcmp(e->d_name + n - 4, ".tmp") == 0;
    }
    if (d) closedir(d);
    return k;
}

static int file_is(const char *path, const char *want) {
    char buf[256] = "";
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strcmp(buf, want) == 0;
}

static void test_protocol(void) {
    char path[300], err[1024];
    snprintf(path, sizeof path, "%s/out.json", dir);
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    mode_t old_mask = umask(022);
    afile a;
    EXPECT(afile_open(&a, path, err, sizeof err) == 0, "open: %s", err);
    /* the temporary's name and place */
    char want[400];
    snprintf(want, sizeof want, "%s/.out.json.%ld.", dir, (long)getpid());
    size_t wl = strlen(want), tl = strlen(a.tmp);
    int hex = tl == wl + 16 + 4;
    for (size_t i = wl; hex && i < wl + 16; i++) hex = strchr("0123456789abcdef", a.tmp[i]) != NULL;
    EXPECT(strncmp(a.tmp, want, wl) == 0 && hex && strcmp(a.tmp + tl - 4, ".tmp") == 0,
           "temporary name '%s', expected '%s<16 hex>.tmp'", a.tmp, want);
    struct stat st;
    EXPECT(stat(a.tmp, &st) == 0 && (st.st_mode & 0777) == 0644, "temporary mode %o", st.st_mode & 0777);
    EXPECT(afile_write(&a, "new", 3) == 0, "write");
    EXPECT(file_is(path, "old"), "the target changed before the commit");
    nevents = 0;
    EXPECT(afile_commit(&a, err, sizeof err) == 0, "commit: %s", err);
    EXPECT(nevents == 3 && strcmp(events[0], "fsync:file") == 0 && strcmp(events[1], "rename") == 0 &&
           strcmp(events[2], "fsync:dir") == 0, "commit made %d calls: %s %s %s (expected fsync:file rename fsync:dir)",
           nevents, nevents > 0 ? events[0] : "", nevents > 1 ? events[1] : "", nevents > 2 ? events[2] : "");
    EXPECT(file_is(path, "new") && count_temps("out.json") == 0, "after the commit");
    umask(old_mask);

    /* abort: the target untouched, no temporary */
    EXPECT(afile_open(&a, path, err, sizeof err) == 0, "open: %s", err);
    afile_write(&a, "half", 4);
    afile_abort(&a);
    EXPECT(file_is(path, "new") && count_temps("out.json") == 0, "after an abort");

    /* a failed write (its descriptor closed under it) fails the commit, naming the file */
    EXPECT(afile_open(&a, path, err, sizeof err) == 0, "open: %s", err);
    fputs("partial", a.f);
    close(fileno(a.f));
    EXPECT(afile_commit(&a, err, sizeof err) != 0 && strstr(err, path) && strstr(err, strerror(EBADF)),
           "a failed write committed: '%s'", err);
    EXPECT(file_is(path, "new") && count_temps("out.json") == 0, "after a failed write");
}

static void test_sweep(void) {
    char path[300], err[1024];
    snprintf(path, sizeof path, "%s/ck", dir);
    /* a dead writer: a child that exited */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    pid_t live = fork();
    if (live == 0) { pause(); _exit(0); }
    const char *names[] = { "dead", "live", "foreign-pid", "foreign-hex", "other-base" };
    char made[5][400];
    snprintf(made[0], sizeof made[0], "%s/.ck.%ld.00ff.tmp", dir, (long)dead);
    snprintf(made[1], sizeof made[1], "%s/.ck.%ld.00ff.tmp", dir, (long)live);
    snprintf(made[2], sizeof made[2], "%s/.ck.1x2.00ff.tmp", dir);
    snprintf(made[3], sizeof made[3], "%s/.ck.%ld.ZZ.tmp", dir, (long)dead);
    snprintf(made[4], sizeof made[4], "%s/.ckx.%ld.00ff.tmp", dir, (long)dead);
    for (int i = 0; i < 5; i++) { FILE *f = fopen(made[i], "w"); if (f) fclose(f); }
    afile a;
    EXPECT(afile_open(&a, path, err, sizeof err) == 0, "open: %s", err);
    EXPECT(afile_commit(&a, err, sizeof err) == 0, "commit: %s", err);
    for (int i = 0; i < 5; i++) {
        int there = access(made[i], F_OK) == 0;
        EXPECT(there == (i != 0), "%s temporary %s: %s", names[i], made[i], there ? "kept" : "removed");
    }
    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    EXPECT(afile_sweep(path) == 1, "the sweep after the live writer died removes its temporary");

    /* errors name the path and errno's text */
    snprintf(path, sizeof path, "%s/no/such/ck", dir);
    EXPECT(afile_open(&a, path, err, sizeof err) != 0 && strstr(err, path) && strstr(err, strerror(ENOENT)),
           "missing folder: '%s'", err);
    snprintf(path, sizeof path, "%s/", dir);
    EXPECT(afile_open(&a, path, err, sizeof err) != 0 && strstr(err, path), "a folder's name: '%s'", err);
    snprintf(path, sizeof path, "%s/probe.ck", dir);
    EXPECT(afile_probe(path, err, sizeof err) == 0 && access(path, F_OK) != 0 && count_temps("probe.ck") == 0,
           "the probe wrote something: %s", err);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_protocol();
    test_sweep();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_finish("test_afile");
}
