/*
 * A position scanner for valid JSON (jsonpos.h). It trusts the text to
 * be well formed (jansson parsed it first), so it never reports errors;
 * on malformed input it stops early and simply records fewer positions.
 */
#include "launcher/jsonpos.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *path;
    bool key;
    int line, col;
} entry;

struct jpos {
    entry *e;
    size_t n, cap;
};

typedef struct scanner {
    const char *s;
    int line, col; /* of the next character */
    jpos *out;
    bool oom;
} scanner;

static void advance(scanner *sc) {
    unsigned char c = (unsigned char)*sc->s;
    if (!c) return;
    sc->s++;
    if (c == '\n') {
        sc->line++;
        sc->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        /* A code point counts once: at its first byte, not at the
         * continuation bytes (what jansson counts). */
        sc->col++;
    }
}

static void skip_ws(scanner *sc) {
    while (*sc->s == ' ' || *sc->s == '\t' || *sc->s == '\n' || *sc->s == '\r') advance(sc);
}

static void record(scanner *sc, const char *path, bool key, int line, int col) {
    jpos *p = sc->out;
    if (sc->oom) return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        entry *e = realloc(p->e, cap * sizeof *e);
        if (!e) {
            sc->oom = true;
            return;
        }
        p->e = e;
        p->cap = cap;
    }
    size_t len = strlen(path) + 1;
    char *copy = malloc(len);
    if (!copy) {
        sc->oom = true;
        return;
    }
    memcpy(copy, path, len);
    p->e[p->n++] = (entry){.path = copy, .key = key, .line = line, .col = col};
}

/* Appends the UTF-8 form of code point cp to buf (capacity checked by the
 * caller: at most 4 bytes). */
static size_t put_utf8(char *buf, uint32_t cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const char *s) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    }
    return v;
}

/* Scans a string at the opening quote; when out is non-NULL, decodes it
 * there (truncated to cap). */
static void scan_string(scanner *sc, char *out, size_t cap) {
    size_t n = 0;
    advance(sc); /* the opening quote */
    while (*sc->s && *sc->s != '"') {
        char tmp[4];
        size_t k = 0;
        if (*sc->s == '\\') {
            advance(sc);
            char e = *sc->s;
            advance(sc);
            switch (e) {
            case 'b': tmp[k++] = '\b'; break;
            case 'f': tmp[k++] = '\f'; break;
            case 'n': tmp[k++] = '\n'; break;
            case 'r': tmp[k++] = '\r'; break;
            case 't': tmp[k++] = '\t'; break;
            case 'u': {
                uint32_t cp = 0;
                if (strnlen(sc->s, 4) == 4) cp = hex4(sc->s);
                for (int i = 0; i < 4 && *sc->s; i++) advance(sc);
                /* A surrogate pair is one code point. */
                if (cp >= 0xD800 && cp < 0xDC00 && sc->s[0] == '\\' && sc->s[1] == 'u' &&
                    strnlen(sc->s, 6) == 6) {
                    uint32_t lo = hex4(sc->s + 2);
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        for (int i = 0; i < 6; i++) advance(sc);
                    }
                }
                k = put_utf8(tmp, cp);
                break;
            }
            default: tmp[k++] = e; break; /* \" \\ \/ */
            }
        } else {
            tmp[k++] = *sc->s;
            advance(sc);
        }
        if (out)
            for (size_t i = 0; i < k && n + 1 < cap; i++) out[n++] = tmp[i];
    }
    if (*sc->s == '"') advance(sc);
    if (out && cap) out[n] = '\0';
}

static void scan_value(scanner *sc, char *path, size_t cap) {
    skip_ws(sc);
    record(sc, path, false, sc->line, sc->col);
    size_t base = strlen(path);
    char c = *sc->s;
    if (c == '{') {
        advance(sc);
        skip_ws(sc);
        while (*sc->s && *sc->s != '}') {
            int kline = sc->line, kcol = sc->col;
            char key[512];
            scan_string(sc, key, sizeof key);
            char child[1024];
            jpos_path_key(child, sizeof child, path, key);
            record(sc, child, true, kline, kcol);
            skip_ws(sc);
            if (*sc->s == ':') advance(sc);
            scan_value(sc, child, sizeof child);
            skip_ws(sc);
            if (*sc->s == ',') advance(sc);
            else break;
            skip_ws(sc);
        }
        if (*sc->s == '}') advance(sc);
    } else if (c == '[') {
        advance(sc);
        skip_ws(sc);
        for (size_t i = 0; *sc->s && *sc->s != ']'; i++) {
            char child[1024];
            jpos_path_index(child, sizeof child, path, i);
            scan_value(sc, child, sizeof child);
            skip_ws(sc);
            if (*sc->s == ',') advance(sc);
            else break;
            skip_ws(sc);
        }
        if (*sc->s == ']') advance(sc);
    } else if (c == '"') {
        scan_string(sc, NULL, 0);
    } else {
        /* A number or a literal: up to the next separator. */
        while (*sc->s && !strchr(" \t\r\n,]}", *sc->s)) advance(sc);
    }
    path[base] = '\0';
    (void)cap;
}

jpos *jpos_scan(const char *text) {
    jpos *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    scanner sc = {.s = text, .line = 1, .col = 1, .out = p};
    char root[1024] = "";
    scan_value(&sc, root, sizeof root);
    if (sc.oom) {
        jpos_free(p);
        return NULL;
    }
    return p;
}

void jpos_free(jpos *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->e[i].path);
    free(p->e);
    free(p);
}

bool jpos_find(const jpos *p, const char *path, bool key, int *line, int *col) {
    if (!p) return false;
    for (size_t i = 0; i < p->n; i++) {
        if (p->e[i].key == key && !strcmp(p->e[i].path, path)) {
            *line = p->e[i].line;
            *col = p->e[i].col;
            return true;
        }
    }
    return false;
}

static bool is_identifier(const char *k) {
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_')) return false;
    for (const char *c = k + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    return true;
}

void jpos_path_key(char *out, size_t cap, const char *parent, const char *key) {
    if (is_identifier(key))
        snprintf(out, cap, "%s%s%s", parent, parent[0] ? "." : "", key);
    else
        snprintf(out, cap, "%s[\"%s\"]", parent, key);
}

void jpos_path_index(char *out, size_t cap, const char *parent, size_t i) {
    snprintf(out, cap, "%s[%zu]", parent, i);
}
