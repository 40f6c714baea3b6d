/*
 * jsonw.h - the project's one JSON writer, for the core (train_model's
 * report) and the harness (build/scale's meta.json, runs.jsonl, summaries):
 * a small module both compile (bench/ does not link libcllm). The reader is
 * bench/json.h (json_parse, json_get, json_str, json_num ...); every writer
 * name here starts with jw_ so the two cannot be confused.
 *
 * Output is I-JSON (RFC 7493), whatever the bytes it is given:
 *   strings  valid UTF-8; '"', '\\' and control characters escaped. A byte
 *            that is not part of valid UTF-8 (a Latin-1 path, say), and each
 *            byte of a code point I-JSON forbids (an encoded surrogate, a
 *            noncharacter such as U+FFFE) or of one of the 128 code points
 *            this scheme uses, is written as the private-use code point
 *            U+10FE00 + byte (U+10FE80..U+10FEFF, bytes 0x80..0xFF): valid
 *            UTF-8, no surrogate, no noncharacter, and reversible: a reader
 *            maps each U+10FE80..U+10FEFF back to its byte
 *            (jw_decode_bytes; bench/json.c does so on every string it
 *            reads, scripts/cllm_analysis/ijson.py likewise).
 *            bench/RESULTS.md "Strings in the results files" documents it.
 *   numbers  the shortest decimal that reads back as the same double
 *            (%.15g, %.16g, then %.17g), integers below 2^53 without a
 *            point or exponent; NaN and infinities as null.
 */
#ifndef CLLM_JSONW_H
#define CLLM_JSONW_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The escape's base: byte b (0x80..0xFF) is written as U+10FE00 + b. */
#define JW_BYTE_BASE 0x10FE00u

/* s as a JSON string (quotes included); NULL writes null. */
void jw_put_str(FILE *f, const char *s);
/* v as a JSON number (shortest round-trip text), non-finite as null. */
void jw_put_num(FILE *f, double v);
/* The same text into buf (at least 32 bytes), "null" when not finite. */
void jw_fmt_num(char *buf, size_t n, double v);
/* In place: every UTF-8 encoded U+10FE80..U+10FEFF in s back to its byte
 * (a reader's last step on a decoded string). */
void jw_decode_bytes(char *s);

/* The length (1..4) of the valid UTF-8 sequence at s and its code point in
 * *cp; 0 when the bytes there are not one (a stray continuation byte, a
 * bad lead byte, a cut sequence, an overlong form, an encoded surrogate,
 * past U+10FFFF). Stops at a NUL or any other byte below 0x80. */
int jw_utf8_seq(const unsigned char *s, unsigned *cp);
/* 1 when I-JSON forbids code point cp in a string: a noncharacter
 * (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) or a surrogate. */
int jw_cp_forbidden(unsigned cp);

/* ,"key":value - one member after the first of an object being written
 * by hand with fputs (build/scale's records). */
void jw_kv_str(FILE *f, const char *key, const char *v);
void jw_kv_num(FILE *f, const char *key, double v);
void jw_kv_bool(FILE *f, const char *key, int v);   /* v != 0: true */

/* A writer that tracks commas and nesting (train_model's report): objects
 * and arrays opened and closed in order, each member with its key (NULL
 * inside arrays and at the top); the first three levels on their own lines. */
typedef struct {
    FILE *f;
    int depth;
    int first[32];
} jw;
void jw_begin(jw *j, FILE *f);
void jw_obj_open(jw *j, const char *key);
void jw_obj_close(jw *j);
void jw_arr_open(jw *j, const char *key);
void jw_arr_close(jw *j);
void jw_str(jw *j, const char *key, const char *v);       /* NULL writes "" */
void jw_num(jw *j, const char *key, double v);            /* non-finite -> null */
void jw_int(jw *j, const char *key, long long v);
void jw_uint(jw *j, const char *key, unsigned long long v);
void jw_bool(jw *j, const char *key, int v);
void jw_null(jw *j, const char *key);

#ifdef __cplusplus
}
#endif

#endif
