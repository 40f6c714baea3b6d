/*
 * fuzz_runs.c - the reader of a results folder: stats_read_runs on an
 * arbitrary runs.jsonl (what `scale --resume` and the analysis read back),
 * each record through stats_run_from_json, then the summary, memory fit,
 * warnings, CSV writers and table over what was read, as scale's finish()
 * does.
 *
 * Checked: the reader returns -1 with a message, or the number of records
 * it passed on; a truncated last line is cut from the file (the memfd), so
 * reading it again gives the same records and nothing to cut.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "json.h"
#include "stats.h"

#define MAX_RUNS 256

typedef struct {
    stats_run runs[MAX_RUNS];
    int n, seen, bad;
} sink;

static void add(void *ctx, const json *rec) {
    sink *s = ctx;
    char err[128];
    s->seen++;
    if (s->n == MAX_RUNS) return;
    if (stats_run_from_json(rec, NULL, &s->runs[s->n], err, sizeof err) == 0) s->n++;
    else s->bad++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    char path[64], err[512];
    int fd = fuzz_file(d, n, path, sizeof path);
    if (fd < 0) return 0;
    static sink s;
    memset(&s, 0, sizeof s);
    err[0] = 0;
    int rc = stats_read_runs(path, add, &s, err, sizeof err);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != 0, "-1 without a message");
    } else {
        FUZZ_CHECK(rc == s.seen, "returned %d, passed on %d", rc, s.seen);
        /* after a cut, the file reads back whole */
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size <= n, "file grew");
        sink again;
        memset(&again, 0, sizeof again);
        int rc2 = stats_read_runs(path, add, &again, err, sizeof err);
        FUZZ_CHECK(rc2 == rc, "second read gave %d records, first %d", rc2, rc);
    }
    static const char *const variants[] = { "lockfree", "locked" };
    static const int threads[] = { 1, 2, 3, 63 };
    stats_point pts[2 * 4];
    stats_memory mem[2];
    stats_summarize(s.runs, s.n, variants, 2, threads, 4, 2, pts);
    for (int v = 0; v < 2; v++) stats_memory_fit(&pts[v * 4], 4, &mem[v]);
    stats_warnings(pts, 8, NULL, devnull, devnull);
    stats_write_summary_csv(devnull, pts, 8, NULL);
    stats_write_memory_csv(devnull, mem, 2);
    stats_write_memory_json(devnull, mem, 2);
    stats_print_table(devnull, pts, 8, mem, 2, 2, NULL);
    close(fd);
    return 0;
}
