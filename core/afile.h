/*
 * afile.h - the one atomic, durable file writer of the C code: the core's
 * checkpoints and reports and bench/'s results files (build/scale compiles
 * core/afile.c on its own: it needs nothing else of the core).
 *
 * The protocol (scripts/cllm_analysis/atomic.py follows the same one, so
 * either side cleans up after the other):
 *   1. the temporary file is `.<basename>.<pid>.<hex>.tmp` in the target's
 *      own folder (so the rename stays on one file system), <pid> the
 *      writer's process id in decimal, <hex> random lowercase hex digits
 *      (16 here; the sweep below takes any number of them); created with
 *      O_CREAT|O_EXCL, mode 0644 minus the umask;
 *   2. before creating it, the writer removes the temporaries
 *      `.<basename>.<pid>.<hex>.tmp` of that folder whose <pid> is not
 *      alive (kill(pid, 0) fails with ESRCH): those of a dead writer (a
 *      SIGKILL, a crash, a power cut). Never those of a live process: a pid
 *      reused since, or one of another pid namespace, leaves its file alone;
 *   3. write, flush, fsync the file, close it;
 *   4. rename it onto the target;
 *   5. fsync the folder, so the rename itself survives a power cut.
 * A reader sees the previous complete file or the new complete one, never a
 * part. On failure the temporary file is removed, the target is untouched
 * (unless only step 5 failed: then the new file is in place, complete, but
 * its rename may not be durable) and err names the path and errno's text.
 *
 * Test hook: CLLM_TEST_AFILE_SLOW=US (microseconds, read once) makes
 * afile_write write in 4 KiB pieces with a sleep of US after each, and
 * sleeps US between the steps of afile_commit, so that a test's SIGKILL
 * lands inside the write; it also writes "afile-hook: open PATH" to stderr
 * once the temporary file exists and "afile-hook: done PATH" after the
 * folder's fsync. Never set outside tests.
 */
#ifndef CLLM_AFILE_H
#define CLLM_AFILE_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    FILE *f;                    /* write here (or through afile_write) */
    char path[PATH_MAX];        /* the target */
    char dir[PATH_MAX];         /* its folder ("." for a bare name) */
    char tmp[PATH_MAX + 64];    /* the temporary file */
} afile;

/* Remove dead writers' temporaries of path (step 2), create the temporary
 * file and open a->f on it. 0, or -1 with err (nothing left behind). */
int afile_open(afile *a, const char *path, char *err, size_t errlen);
/* fwrite through the test hook: n bytes, 0 or -1 (the error is kept for
 * afile_commit, which then fails). */
int afile_write(afile *a, const void *buf, size_t n);
/* Steps 3-5 and close. 0, or -1 with err; the temporary file is gone either
 * way. */
int afile_commit(afile *a, char *err, size_t errlen);
/* Close and remove the temporary file; the target is untouched. */
void afile_abort(afile *a);
/* Check early that path can be written: afile_open then afile_abort,
 * without the test hook's output. 0, or -1 with err. */
int afile_probe(const char *path, char *err, size_t errlen);
/* Remove the temporary file of the write in progress, if any: for a signal
 * handler that is about to _exit (async-signal-safe: one unlink). One write
 * at a time per process is tracked, the latest opened. */
void afile_unlink_pending(void);
/* Step 2 on its own: remove the dead writers' temporaries of path; the
 * number removed, or -1 when the folder cannot be read. */
int afile_sweep(const char *path);

#ifdef __cplusplus
}
#endif

#endif
