/*
 * ct_getitem: a numpy index expression as a string, as Python would write
 * it between the brackets of t[...]:
 *
 *     expr  := "" | item ("," item)* [","]
 *     item  := "..." | "None" | "tf.newaxis" | int | [int] ":" [int] [":" [int]]
 *     int   := ["+" | "-"] digits
 *
 * Spaces are allowed around every token. The parsed items go to the same
 * resolution as ct_strided_slice; errors name the character position.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/index.h"

#define MAX_ITEMS 64

typedef struct {
    const char *s; /* the whole expression */
    size_t pos;    /* the next character   */
} parser;

static void skip_spaces(parser *p) {
    while (isspace((unsigned char)p->s[p->pos])) p->pos++;
}

static ct_status parse_error(const parser *p, const char *expected) {
    char c = p->s[p->pos];
    char at[16];
    if (c) snprintf(at, sizeof at, "'%c'", c);
    else snprintf(at, sizeof at, "the end");
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "ct_getitem: cannot parse index \"%s\" at position %zu (%s): expected %s",
                     p->s, p->pos, at, expected);
}

static bool starts_with(const parser *p, const char *word) {
    return strncmp(p->s + p->pos, word, strlen(word)) == 0;
}

/* An optional integer: *have false when none is there. */
static ct_status parse_int(parser *p, int64_t *v, bool *have) {
    skip_spaces(p);
    size_t at = p->pos;
    const char *q = p->s + p->pos;
    if (*q == '+' || *q == '-') q++;
    *have = false;
    if (!isdigit((unsigned char)*q)) {
        if (q != p->s + p->pos) {
            p->pos = (size_t)(q - p->s);
            return parse_error(p, "a digit after the sign");
        }
        return CT_OK;
    }
    errno = 0;
    char *end;
    long long x = strtoll(p->s + at, &end, 10);
    if (errno == ERANGE) return parse_error(p, "an integer that fits in 64 bits");
    p->pos = (size_t)(end - p->s);
    *v = x;
    *have = true;
    return CT_OK;
}

static ct_status parse_item(parser *p, ct_index *ix) {
    skip_spaces(p);
    memset(ix, 0, sizeof *ix);
    if (starts_with(p, "...")) {
        ix->kind = CT_IX_ELLIPSIS;
        p->pos += 3;
        return CT_OK;
    }
    const char *words[] = {"None", "tf.newaxis"};
    for (int w = 0; w < 2; w++)
        if (starts_with(p, words[w])) {
            char next = p->s[p->pos + strlen(words[w])];
            if (isalnum((unsigned char)next) || next == '_' || next == '.') break;
            ix->kind = CT_IX_NEWAXIS;
            p->pos += strlen(words[w]);
            return CT_OK;
        }
    int64_t v;
    bool have;
    ct_status st = parse_int(p, &v, &have);
    if (st) return st;
    skip_spaces(p);
    if (p->s[p->pos] != ':') {
        if (!have) return parse_error(p, "an integer, a slice (start:stop:step), '...' or None");
        ix->kind = CT_IX_INDEX;
        ix->start = v;
        return CT_OK;
    }
    ix->kind = CT_IX_RANGE;
    ix->has_start = have;
    ix->start = have ? v : 0;
    p->pos++; /* ':' */
    if ((st = parse_int(p, &v, &have))) return st;
    ix->has_stop = have;
    ix->stop = have ? v : 0;
    skip_spaces(p);
    if (p->s[p->pos] != ':') return CT_OK;
    p->pos++;
    size_t step_at = p->pos;
    if ((st = parse_int(p, &v, &have))) return st;
    if (have && v == 0) {
        p->pos = step_at;
        skip_spaces(p);
        return parse_error(p, "a non-zero step (slice step cannot be zero)");
    }
    ix->step = have ? v : 1;
    return CT_OK;
}

/* Parses the whole expression into items[0..*n). */
static ct_status parse(const char *s, ct_index *items, int *n) {
    parser p = {.s = s};
    *n = 0;
    skip_spaces(&p);
    if (!s[p.pos]) return CT_OK;
    for (;;) {
        if (*n == MAX_ITEMS) return parse_error(&p, "at most 64 items");
        ct_status st = parse_item(&p, &items[(*n)++]);
        if (st) return st;
        skip_spaces(&p);
        if (!s[p.pos]) return CT_OK;
        if (s[p.pos] != ',') return parse_error(&p, "',' or the end of the index");
        p.pos++;
        skip_spaces(&p);
        if (!s[p.pos]) return CT_OK; /* a trailing comma, as in t[1,] */
    }
}

ct_tensor *ct_getitem(const ct_tensor *t, const char *index) {
    if (!t) return ct__strided_slice_named(t, 0, NULL, "ct_getitem");
    if (!index) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_getitem: NULL index string");
        return NULL;
    }
    ct_index items[MAX_ITEMS];
    int n;
    if (parse(index, items, &n)) return NULL;
    return ct__strided_slice_named(t, n, items, "ct_getitem");
}
