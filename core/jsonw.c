/*
 * jsonw.c - the project's one JSON writer (see jsonw.h): I-JSON strings
 * whatever their bytes, shortest round-trip numbers, and the comma-tracking
 * writer of train_model's report. No dependency beyond libc and libm, so
 * build/scale compiles it too.
 */
#include "jsonw.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// strings

int jw_utf8_seq(const unsigned char *s, unsigned *cp) {
    unsigned c = s[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;     /* also stops at the NUL */
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

int jw_cp_forbidden(unsigned cp) {
    return (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp >= 0xD800 && cp <= 0xDFFF);
}

/* Code points a string may hold as themselves: not forbidden by I-JSON
 * and not one of the byte escapes. */
static int cp_plain(unsigned cp) {
    return !jw_cp_forbidden(cp) && !(cp >= JW_BYTE_BASE + 0x80 && cp <= JW_BYTE_BASE + 0xFF);
}

static void put_byte_escape(FILE *f, unsigned char b) {
    uint32_t cp = JW_BYTE_BASE + b;
    fputc(0xF0 | (int)(cp >> 18), f);
    fputc(0x80 | (int)((cp >> 12) & 0x3F), f);
    fputc(0x80 | (int)((cp >> 6) & 0x3F), f);
    fputc(0x80 | (int)(cp & 0x3F), f);
}

void jw_put_str(FILE *f, const char *str) {
    if (!str) { fputs("null", f); return; }
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned cp;
        int n = jw_utf8_seq(s, &cp);
        if (n == 0) { put_byte_escape(f, *s++); continue; }
        if (!cp_plain(cp)) {
            for (int k = 0; k < n; k++) put_byte_escape(f, s[k]);
            s += n;
            continue;
        }
        if (n > 1) { fwrite(s, 1, (size_t)n, f); s += n; continue; }
        unsigned char c = *s++;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

void jw_decode_bytes(char *str) {
    unsigned char *s = (unsigned char *)str, *o = s;
    while (*s) {
        /* U+10FE80..U+10FEFF is F4 8F BA|BB 80..BF */
        if (s[0] == 0xF4 && s[1] == 0x8F && (s[2] == 0xBA || s[2] == 0xBB) && (s[3] & 0xC0) == 0x80) {
            *o++ = (unsigned char)(((s[2] & 0x3F) << 6 | (s[3] & 0x3F)) - 0xE00);
            s += 4;
        } else *o++ = *s++;
    }
    *o = '\0';
}

// ----------------------------------------------------------------------------
// numbers

void jw_fmt_num(char *buf, size_t n, double v) {
    if (!buf || n == 0) return;      /* (also tells gcc -O3 under UBSan that buf is not NULL) */
    if (!isfinite(v)) { snprintf(buf, n, "null"); return; }
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) { snprintf(buf, n, "%.0f", v); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void jw_put_num(FILE *f, double v) {
    char buf[40];
    jw_fmt_num(buf, sizeof buf, v);
    fputs(buf, f);
}

/* ,"key": */
static void put_key(FILE *f, const char *key) {
    fputc(',', f);
    jw_put_str(f, key);
    fputc(':', f);
}

void jw_kv_str(FILE *f, const char *key, const char *v) { put_key(f, key); jw_put_str(f, v); }
void jw_kv_num(FILE *f, const char *key, double v) { put_key(f, key); jw_put_num(f, v); }
void jw_kv_bool(FILE *f, const char *key, int v) { put_key(f, key); fputs(v ? "true" : "false", f); }

// ----------------------------------------------------------------------------
// the nesting writer

void jw_begin(jw *j, FILE *f) {
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = 1;
}

static void jw_key(jw *j, const char *key) {
    if (!j->first[j->depth]) fputc(',', j->f);
    j->first[j->depth] = 0;
    if (j->depth <= 2) { fputc('\n', j->f); for (int i = 0; i < j->depth; i++) fputs("  ", j->f); }
    if (key) { jw_put_str(j->f, key); fputc(':', j->f); }
}

void jw_obj_open(jw *j, const char *key) {
    if (j->depth > 0 || !j->first[0]) jw_key(j, key);
    else j->first[0] = 0;
    fputc('{', j->f);
    if (j->depth >= 31) { fprintf(stderr, "%s:%d: JSON nesting too deep\n", __FILE__, __LINE__); abort(); }
    j->first[++j->depth] = 1;
}

void jw_obj_close(jw *j) {
    j->depth--;
    if (j->depth < 2) { fputc('\n', j->f); for (int i = 0; i < j->depth; i++) fputs("  ", j->f); }
    fputc('}', j->f);
    if (j->depth == 0) fputc('\n', j->f);
}

void jw_arr_open(jw *j, const char *key) {
    jw_key(j, key);
    fputc('[', j->f);
    if (j->depth >= 31) { fprintf(stderr, "%s:%d: JSON nesting too deep\n", __FILE__, __LINE__); abort(); }
    j->first[++j->depth] = 1;
}

void jw_arr_close(jw *j) {
    j->depth--;
    fputc(']', j->f);
}

void jw_str(jw *j, const char *key, const char *v) { jw_key(j, key); jw_put_str(j->f, v ? v : ""); }
void jw_num(jw *j, const char *key, double v) { jw_key(j, key); jw_put_num(j->f, v); }
void jw_int(jw *j, const char *key, long long v) { jw_key(j, key); fprintf(j->f, "%lld", v); }
void jw_uint(jw *j, const char *key, unsigned long long v) { jw_key(j, key); fprintf(j->f, "%llu", v); }
void jw_bool(jw *j, const char *key, int v) { jw_key(j, key); fputs(v ? "true" : "false", j->f); }
void jw_null(jw *j, const char *key) { jw_key(j, key); fputs("null", j->f); }
