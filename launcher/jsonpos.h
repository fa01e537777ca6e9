/*
 * Where each value of a JSON text sits: line and column by JSON path.
 *
 * jansson reports a line and column for syntax errors only; a job file's
 * semantic errors (an unknown key, a wrong type, a bad value) must point
 * at the field too. jpos_scan walks text that jansson has already
 * accepted and records, for every value and every object key, its path
 * ("data.train.transforms[2].batch") and where it starts. Lines and
 * columns count from 1; a column counts characters (UTF-8 code points),
 * as jansson's do, a tab being one.
 *
 * Paths: an object member is ".key" after its parent (no dot at the
 * root), or ["key"] when the key is not an identifier ("class_weight[\"0\"]");
 * an array element is "[i]". The root's path is "".
 */
#ifndef CT_LAUNCHER_JSONPOS_H
#define CT_LAUNCHER_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jpos jpos;

/* The positions in text, which must be valid JSON (NULL when out of
 * memory). */
jpos *jpos_scan(const char *text);
void jpos_free(jpos *p);
/* The start of the value at path (key false) or of its key (key true; the
 * opening quote). false when no such path was recorded. */
bool jpos_find(const jpos *p, const char *path, bool key, int *line, int *col);

/* The path of member `key` / element `i` of the value at `parent`, into
 * out (truncated to cap, always NUL-terminated). */
void jpos_path_key(char *out, size_t cap, const char *parent, const char *key);
void jpos_path_index(char *out, size_t cap, const char *parent, size_t i);

#endif
