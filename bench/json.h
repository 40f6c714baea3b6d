/*
 * json.h - the harness's JSON reader (a tree of nodes): it reads
 * train_model's --report file, runs.jsonl lines and meta.json, and
 * json_write() copies a tree back compactly. The writer is core/jsonw.h.
 *
 * Strict per I-JSON (RFC 7493) where it matters to the data: the text must
 * be UTF-8; no \u0000 (it would cut a string short), no lone or misordered
 * surrogate escape, no noncharacter, no number with a leading zero
 * (01, -01), no duplicate member name. Every string is decoded back to its
 * bytes (jw_decode_bytes: U+10FE80..U+10FEFF stand for the bytes 0x80..0xFF
 * that were not valid UTF-8 when written). Numbers keep the text they were
 * read with, so json_write() copies a report through without changing a
 * digit. The non-standard tokens NaN, Infinity, -Infinity, nan, inf are
 * accepted as numbers (tools other than ours write them) and written as null.
 */
#ifndef CLLM_JSON_H
#define CLLM_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "../core/jsonw.h"   /* the writer: jw_put_str, jw_kv_num, ... */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } json_type;

typedef struct json json;
struct json {
    json_type type;
    char *key;        /* member name when the node is in an object, else NULL */
    char *str;        /* JSON_STR: the string; JSON_NUM: its text (NULL for NaN/Inf) */
    double num;       /* JSON_NUM value; JSON_BOOL 0/1 */
    json *child;      /* first element / member of an array / object */
    json *next;       /* next sibling */
    int len;          /* number of elements / members */
};

/* Parse one JSON value; trailing text other than whitespace is an error.
 * Returns NULL and fills err ("line L col C: what") on malformed input. */
json *json_parse(const char *text, size_t n, char *err, size_t errlen);
/* Read and parse a whole file; NULL with err filled (errno text or parse error). */
json *json_parse_file(const char *path, char *err, size_t errlen);
void json_free(json *j);   /* tolerates NULL */

/* Accessors: all tolerate NULL and a node of the wrong type. */
const json *json_get(const json *obj, const char *key);     /* member or NULL */
const json *json_path(const json *j, const char *dotted);   /* "memory.per_thread_total" */
const json *json_at(const json *arr, int i);                /* element or NULL */
double json_num(const json *j, double dflt);                /* number, else dflt */
const char *json_str(const json *j, const char *dflt);      /* string, else dflt */

/* The tree back as compact JSON (no newline), through the project's writer
 * (core/jsonw.h: strings as I-JSON, numbers as their text). */
void json_write(FILE *f, const json *j);

#endif
