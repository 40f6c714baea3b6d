/*
 * json.c - a small recursive-descent JSON reader, strict per I-JSON, and the
 * copy of a tree back out (see json.h).
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct {
    const char *s;     /* text */
    size_t n, i;       /* length, cursor */
    char *err;
    size_t errlen;
    int failed;
} json_parser;

// ----------------------------------------------------------------------------
// reader

static void parser_fail(json_parser *p, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = 1;
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') { line++; col = 1; } else col++;
    }
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err) snprintf(p->err, p->errlen, "line %zu col %zu: %s", line, col, msg);
}

static void parser_skip_ws(json_parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++;
}

static int parser_match(json_parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->i >= k && memcmp(p->s + p->i, word, k) == 0) { p->i += k; return 1; }
    return 0;
}

static json *node_new(json_parser *p, json_type t) {
    json *j = calloc(1, sizeof *j);
    if (!j) parser_fail(p, "out of memory");
    else j->type = t;
    return j;
}

static void put_utf8(char *out, size_t *o, unsigned cp) {
    if (cp < 0x80) out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int parse_hex4(json_parser *p, unsigned *cp) {
    if (p->n - p->i < 4) { parser_fail(p, "short \\u escape"); return -1; }
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else { parser_fail(p, "bad \\u escape"); return -1; }
    }
    *cp = v;
    return 0;
}

/* Cursor on the opening quote. Returns a malloc'ed string, or NULL on error.
 * Strict per I-JSON (see json.h); the result is decoded back to bytes. */
static char *parse_string(json_parser *p) {
    p->i++;
    /* the decoded string is never longer than the encoded one */
    size_t start = p->i, end = start;
    while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->n) { parser_fail(p, "unterminated string"); return NULL; }
    char *out = malloc(end - start + 1);
    if (!out) { parser_fail(p, "out of memory"); return NULL; }
    size_t o = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) { parser_fail(p, "control character in string"); free(out); return NULL; }
        if (c >= 0x80) {
            unsigned cp;
            int k = jw_utf8_seq((const unsigned char *)p->s + p->i, &cp);
            if (k == 0) { parser_fail(p, "invalid UTF-8 byte 0x%02x in string", c); free(out); return NULL; }
            if (jw_cp_forbidden(cp)) { parser_fail(p, "noncharacter U+%04X in string", cp); free(out); return NULL; }
            memcpy(out + o, p->s + p->i, (size_t)k);
            o += (size_t)k;
            p->i += (size_t)k;
            continue;
        }
        p->i++;
        if (c != '\\') { out[o++] = (char)c; continue; }
        char e = p->s[p->i++];
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (parse_hex4(p, &cp) < 0) { free(out); return NULL; }
            if (cp == 0) { parser_fail(p, "\\u0000 in string (it would cut the string short)"); free(out); return NULL; }
            if (cp >= 0xDC00 && cp <= 0xDFFF) { parser_fail(p, "lone low surrogate \\u%04x", cp); free(out); return NULL; }
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    parser_fail(p, "lone high surrogate \\u%04x", cp);
                    free(out);
                    return NULL;
                }
                p->i += 2;
                if (parse_hex4(p, &lo) < 0) { free(out); return NULL; }
                if (lo < 0xDC00 || lo > 0xDFFF) { parser_fail(p, "lone high surrogate \\u%04x", cp); free(out); return NULL; }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (jw_cp_forbidden(cp)) { parser_fail(p, "noncharacter U+%04X in string", cp); free(out); return NULL; }
            /* a \u escape takes 6 bytes and decodes to at most 3 (surrogate pairs: 12 to 4) */
            put_utf8(out, &o, cp);
            break;
        }
        default: parser_fail(p, "bad escape \\%c", e); free(out); return NULL;
        }
    }
    p->i++;
    out[o] = '\0';
    jw_decode_bytes(out);
    return out;
}

static json *parse_number(json_parser *p) {
    size_t start = p->i;
    if (p->s[p->i] == '-') p->i++;
    if (parser_match(p, "Infinity") || parser_match(p, "inf")) {
        json *j = node_new(p, JSON_NUM);
        if (j) j->num = p->s[start] == '-' ? -INFINITY : INFINITY;
        return j;
    }
    size_t digits = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    if (p->i == digits) { parser_fail(p, "bad number"); return NULL; }
    if (p->s[digits] == '0' && p->i - digits > 1) { parser_fail(p, "number with a leading zero"); return NULL; }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t frac = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == frac) { parser_fail(p, "bad number"); return NULL; }
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t ex = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == ex) { parser_fail(p, "bad number"); return NULL; }
    }
    json *j = node_new(p, JSON_NUM);
    if (!j) return NULL;
    j->str = strndup(p->s + start, p->i - start);
    if (!j->str) { parser_fail(p, "out of memory"); free(j); return NULL; }
    j->num = strtod(j->str, NULL);
    return j;
}

static json *parse_value(json_parser *p, int depth);

/* Arrays and objects: cursor on '[' or '{'. */
static json *parse_container(json_parser *p, int depth, json_type t) {
    char close = t == JSON_ARR ? ']' : '}';
    json *j = node_new(p, t);
    if (!j) return NULL;
    p->i++;
    json **tail = &j->child;
    parser_skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return j; }
    for (;;) {
        char *key = NULL;
        if (t == JSON_OBJ) {
            parser_skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') { parser_fail(p, "expected a member name"); break; }
            if (!(key = parse_string(p))) break;
            parser_skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') { parser_fail(p, "expected ':'"); free(key); break; }
            p->i++;
        }
        if (key) {
            const json *dup = j->child;
            while (dup && strcmp(dup->key, key) != 0) dup = dup->next;
            if (dup) { parser_fail(p, "duplicate member name \"%.60s\"", key); free(key); break; }
        }
        json *v = parse_value(p, depth + 1);
        if (!v) { free(key); break; }
        v->key = key;
        *tail = v;
        tail = &v->next;
        j->len++;
        parser_skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
        if (p->i < p->n && p->s[p->i] == close) { p->i++; return j; }
        parser_fail(p, "expected ',' or '%c'", close);
        break;
    }
    json_free(j);
    return NULL;
}

static json *parse_value(json_parser *p, int depth) {
    if (depth > JSON_MAX_DEPTH) { parser_fail(p, "nested too deep"); return NULL; }
    parser_skip_ws(p);
    if (p->i >= p->n) { parser_fail(p, "unexpected end of input"); return NULL; }
    char c = p->s[p->i];
    json *j;
    switch (c) {
    case '{': return parse_container(p, depth, JSON_OBJ);
    case '[': return parse_container(p, depth, JSON_ARR);
    case '"': {
        char *s = parse_string(p);
        if (!s) return NULL;
        if (!(j = node_new(p, JSON_STR))) { free(s); return NULL; }
        j->str = s;
        return j;
    }
    case 't': case 'f':
        if (parser_match(p, "true") || parser_match(p, "false")) {
            if ((j = node_new(p, JSON_BOOL))) j->num = c == 't';
            return j;
        }
        break;
    case 'n':
        if (parser_match(p, "null")) return node_new(p, JSON_NULL);
        if (parser_match(p, "nan")) {
            if ((j = node_new(p, JSON_NUM))) j->num = NAN;
            return j;
        }
        break;
    case 'N':
        if (parser_match(p, "NaN")) {
            if ((j = node_new(p, JSON_NUM))) j->num = NAN;
            return j;
        }
        break;
    default:
        if (c == '-' || c == 'I' || c == 'i' || (c >= '0' && c <= '9')) {
            if (c == 'I' || c == 'i') {
                if (parser_match(p, "Infinity") || parser_match(p, "inf")) {
                    if ((j = node_new(p, JSON_NUM))) j->num = INFINITY;
                    return j;
                }
                break;
            }
            return parse_number(p);
        }
    }
    parser_fail(p, "unexpected character '%c'", c);
    return NULL;
}

json *json_parse(const char *text, size_t n, char *err, size_t errlen) {
    json_parser p = { text, n, 0, err, errlen, 0 };
    json *j = parse_value(&p, 0);
    if (!j) return NULL;
    parser_skip_ws(&p);
    if (p.i != p.n) { parser_fail(&p, "trailing text after the value"); json_free(j); return NULL; }
    return j;
}

json *json_parse_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s", strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb) { free(buf); buf = NULL; }
        else buf = nb;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (rerr) { snprintf(err, errlen, "read error"); free(buf); return NULL; }
    json *j = json_parse(buf, n, err, errlen);
    free(buf);
    return j;
}

void json_free(json *j) {
    while (j) {
        json *next = j->next;
        json_free(j->child);
        free(j->key);
        free(j->str);
        free(j);
        j = next;
    }
}

// ----------------------------------------------------------------------------
// accessors

const json *json_get(const json *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJ) return NULL;
    for (const json *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

const json *json_path(const json *j, const char *dotted) {
    char part[128];
    while (j && *dotted) {
        size_t k = strcspn(dotted, ".");
        if (k >= sizeof part) return NULL;
        memcpy(part, dotted, k);
        part[k] = '\0';
        j = json_get(j, part);
        dotted += k + (dotted[k] == '.');
    }
    return j;
}

const json *json_at(const json *arr, int i) {
    if (!arr || arr->type != JSON_ARR || i < 0) return NULL;
    const json *c = arr->child;
    while (c && i-- > 0) c = c->next;
    return c;
}

double json_num(const json *j, double dflt) {
    return j && j->type == JSON_NUM ? j->num : dflt;
}

const char *json_str(const json *j, const char *dflt) {
    return j && j->type == JSON_STR ? j->str : dflt;
}

// ----------------------------------------------------------------------------
// writer

void json_write(FILE *f, const json *j) {
    if (!j) { fputs("null", f); return; }
    switch (j->type) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_BOOL: fputs(j->num ? "true" : "false", f); break;
    case JSON_NUM:
        if (j->str) fputs(j->str, f);
        else fputs("null", f);
        break;
    case JSON_STR: jw_put_str(f, j->str); break;
    case JSON_ARR:
    case JSON_OBJ:
        fputc(j->type == JSON_ARR ? '[' : '{', f);
        for (const json *c = j->child; c; c = c->next) {
            if (c != j->child) fputc(',', f);
            if (j->type == JSON_OBJ) { jw_put_str(f, c->key); fputc(':', f); }
            json_write(f, c);
        }
        fputc(j->type == JSON_ARR ? ']' : '}', f);
        break;
    }
}
