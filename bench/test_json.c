/*
 * test_json.c - the JSON writer (core/jsonw.c) and the strict reader
 * (bench/json.c) against each other and against I-JSON (RFC 7493): every
 * byte value 1..255 in a string round-trips and is written as valid UTF-8
 * with no surrogate and no noncharacter; the reader refuses \u0000, lone
 * surrogates, noncharacters, invalid UTF-8, leading zeros and duplicate
 * names; numbers come back as the same double, integers without an
 * exponent (1000000, not 1e+06).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

/* s through jw_put_str into a memory buffer (malloc'ed, NUL-terminated) */
static char *written(const char *s) {
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    jw_put_str(m, s);
    fclose(m);
    return buf;
}

/* 1 when text is valid UTF-8 holding no surrogate and no noncharacter */
static int valid_ijson_text(const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned cp;
        int k = jw_utf8_seq(s, &cp);
        if (k == 0 || jw_cp_forbidden(cp)) return 0;
        s += k;
    }
    return 1;
}

static int parses(const char *text) {
    char err[200];
    json *j = json_parse(text, strlen(text), err, sizeof err);
    json_free(j);
    return j != NULL;
}

static void test_every_byte(void) {
    char all[256];
    for (int b = 1; b < 256; b++) all[b - 1] = (char)b;
    all[255] = '\0';
    /* and the strings the escape must not take for its own: an escape code
     * point written literally, a noncharacter, an encoded surrogate,
     * overlong forms, a cut sequence */
    const char *tricky[] = { all, "\xf4\x8f\xba\x80", "\xf4\x8f\xbb\xbf x", "\xef\xbf\xbe", "\xef\xb7\x90",
                             "\xed\xa0\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x9f\x98", "caf\xe9 \xc3\xa9 \xf0\x9f\x98\x80",
                             "a\"b\\c\n\t\x7f", "" };
    for (size_t t = 0; t < sizeof tricky / sizeof tricky[0]; t++) {
        char *w = written(tricky[t]);
        EXPECT(valid_ijson_text(w), "string %zu written as %s: not valid UTF-8 I-JSON", t, w);
        char err[200];
        json *j = json_parse(w, strlen(w), err, sizeof err);
        EXPECT(j && j->type == JSON_STR && strcmp(j->str, tricky[t]) == 0,
               "string %zu does not round-trip (%s)", t, j ? "differs" : err);
        json_free(j);
        free(w);
    }
    /* a member name too, and json_write copies a tree through unchanged */
    char *w = written(all);
    size_t n = strlen(w) * 2 + 16;
    char *doc = malloc(n);
    snprintf(doc, n, "{%s:%s}", w, w);
    char err[200];
    json *j = json_parse(doc, strlen(doc), err, sizeof err);
    EXPECT(j && j->child && strcmp(j->child->key, all) == 0 && strcmp(j->child->str, all) == 0,
           "a member named with every byte: %s", j ? "differs" : err);
    char *copy = NULL;
    size_t cn = 0;
    FILE *m = open_memstream(&copy, &cn);
    json_write(m, j);
    fclose(m);
    EXPECT(copy && strcmp(copy, doc) == 0, "json_write changed the document");
    free(copy);
    json_free(j);
    free(doc);
    free(w);
}

static void test_strict(void) {
    static const char *const bad[] = {
        "\"a\\u0000b\"",            /* would cut the string short */
        "\"\\ud800\"",              /* lone high surrogate */
        "\"\\ud800x\"",
        "\"\\ud800\\u0041\"",       /* high surrogate before a non-surrogate */
        "\"\\udc00\"",              /* lone low surrogate */
        "\"\\ufffe\"",              /* noncharacters, escaped and raw */
        "\"\\ufdd0\"",
        "\"\xef\xbf\xbf\"",
        "\"\xe9t\xe9\"",            /* Latin-1, not UTF-8 */
        "\"\xed\xa0\x80\"",         /* an encoded surrogate */
        "\"\xc0\xaf\"",             /* overlong */
        "01", "-01", "[00]", "{\"a\":012}",
        "{\"a\":1,\"a\":2}",        /* duplicate member name */
        "\"abc",                    /* cut short */
        "\"abc\\",
        "\"\\u12\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(!parses(bad[i]), "the reader accepted %s", bad[i]);
    static const char *const good[] = { "0", "-0", "0.5", "10", "-10e2", "\"\\ud83d\\ude00\"", "\"\\u00e9\"",
                                        "{\"a\":1,\"b\":{\"a\":2}}", "\"\\u0001\"" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        EXPECT(parses(good[i]), "the reader refused %s", good[i]);
    char err[200];
    EXPECT(!json_parse("\"a\\u0000b\"", 10, err, sizeof err) && strstr(err, "u0000"),
           "the \\u0000 error does not name it: %s", err);
}

static void test_numbers(void) {
    char buf[40];
    jw_fmt_num(buf, sizeof buf, 1000000);
    EXPECT(strcmp(buf, "1000000") == 0, "1000000 written as %s", buf);
    jw_fmt_num(buf, sizeof buf, 0.1);
    EXPECT(strcmp(buf, "0.1") == 0, "0.1 written as %s", buf);
    jw_fmt_num(buf, sizeof buf, NAN);
    EXPECT(strcmp(buf, "null") == 0, "NaN written as %s", buf);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        double v;
        uint64_t bits = s;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        jw_fmt_num(buf, sizeof buf, v);
        json *j = json_parse(buf, strlen(buf), NULL, 0);
        if (!j || j->num != v) bad++;
        json_free(j);
    }
    EXPECT(bad == 0, "%d of 20000 random doubles did not round-trip", bad);
}

int main(void) {
    test_every_byte();
    test_strict();
    test_numbers();
    return check_finish("test_json");
}
