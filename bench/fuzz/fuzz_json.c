/*
 * fuzz_json.c - bench/json.c's reader on arbitrary bytes (the input is not
 * NUL-terminated, so a read past its end is seen), then its writer and the
 * accessors the harness uses on reports and meta.json.
 *
 * Checked: a parse failure comes with a "line L col C: ..." message; a
 * parsed document written with json_write parses again, and writing that
 * gives the same text (the writer's output is a fixed point); json_len
 * agrees with the children; accessors on every node do not crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "json.h"

static char *write_json(const json *j, size_t *len) {
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    FUZZ_CHECK(m != NULL, "open_memstream");
    json_write(m, j);
    fclose(m);
    return buf;
}

static void walk(const json *j, int depth) {
    FUZZ_CHECK(depth <= 70, "tree deeper than the parser's limit");
    int n = 0;
    for (const json *c = j->child; c; c = c->next, n++) {
        FUZZ_CHECK((j->type == JSON_OBJ) == (c->key != NULL), "member key / array element mix-up");
        walk(c, depth + 1);
        if (j->type == JSON_OBJ) FUZZ_CHECK(json_get(j, c->key) != NULL, "json_get misses '%s'", c->key);
    }
    FUZZ_CHECK(n == j->len, "len %d, %d children", j->len, n);
    if (j->type == JSON_ARR) {
        FUZZ_CHECK(json_at(j, j->len) == NULL && json_at(j, -1) == NULL, "json_at out of range");
        if (j->len) FUZZ_CHECK(json_at(j, j->len - 1) != NULL, "json_at misses the last element");
    }
    if (j->type == JSON_STR) FUZZ_CHECK(j->str != NULL, "string without text");
    json_num(j, 0);
    json_str(j, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char err[256];
    err[0] = 0;
    json *j = json_parse((const char *)d, n, err, sizeof err);
    if (!j) {
        FUZZ_CHECK(strncmp(err, "line ", 5) == 0, "parse error without a position: '%s'", err);
        return 0;
    }
    walk(j, 0);
    /* the paths the harness reads */
    static const char *const paths[] = { "report.build", "memory.per_thread_total", "phases.names",
                                         "a.b.c", "", ".", "..", "options.threads" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) json_path(j, paths[i]);
    size_t l1, l2;
    char *w1 = write_json(j, &l1);
    json *j2 = json_parse(w1, l1, err, sizeof err);
    FUZZ_CHECK(j2 != NULL, "json_write output does not parse: %s: '%.200s'", err, w1);
    char *w2 = write_json(j2, &l2);
    FUZZ_CHECK(l1 == l2 && memcmp(w1, w2, l1) == 0, "write(parse(write(x))) != write(x):\n%.300s\n%.300s", w1, w2);
    free(w1);
    free(w2);
    json_free(j2);
    json_free(j);
    return 0;
}
