/*
 * json.h - a tiny JSON reader (a tree of nodes) and writer helpers for the
 * benchmark harness: it reads train_model's --report file, runs.jsonl lines
 * and meta.json, and writes them back compactly.
 *
 * Numbers keep the text they were read with, so json_write() copies a
 * report through without changing a digit. The non-standard tokens NaN,
 * Infinity, -Infinity, nan, inf are accepted as numbers and written as null.
 */
#ifndef CLLM_JSON_H
#define CLLM_JSON_H

#include <stddef.h>
#include <stdio.h>

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

/* Writers (compact, no newline). json_put_num writes null for NaN/Inf and
 * integers without a decimal point. */
void json_put_str(FILE *f, const char *s);          /* NULL writes null */
void json_put_num(FILE *f, double v);
void json_write(FILE *f, const json *j);
/* ,"key":value - one member after the first of an object being written. */
void json_kv_str(FILE *f, const char *key, const char *v);
void json_kv_num(FILE *f, const char *key, double v);
void json_kv_bool(FILE *f, const char *key, int v);   /* v != 0: true */

#endif
