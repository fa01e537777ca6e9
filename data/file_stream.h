/*
 * Reading files as byte streams, plain or compressed (private to data/;
 * defined in data/text.c). Errors name the calling API and the file.
 */
#ifndef CT_DATA_FILE_STREAM_H
#define CT_DATA_FILE_STREAM_H

#include "data/internal.h"

typedef struct ct__fstream ct__fstream;

/* Opens `path` for reading with the given compression; NULL with an error
 * "<api>: cannot open '<path>': <reason>". */
ct__fstream *ct__fstream_open(const char *path, ct_compression c, const char *api);
/* Reads up to cap decompressed bytes into buf: the count (0 at the end of
 * the stream), or -1 with an error naming the file (a read error, bad or
 * truncated compressed data). */
int64_t ct__fstream_read(ct__fstream *s, void *buf, size_t cap);
/* Skips n decompressed bytes (restoring a position); an error if the
 * stream ends first. */
ct_status ct__fstream_skip(ct__fstream *s, uint64_t n);
/* Decompressed bytes delivered so far. */
uint64_t ct__fstream_tell(const ct__fstream *s);
const char *ct__fstream_path(const ct__fstream *s);
void ct__fstream_close(ct__fstream *s);

/* A caller-owned host uint8 tensor [n] holding a copy of p's n bytes (a
 * string); NULL with an error naming api. */
ct_tensor *ct__string_tensor(const void *p, size_t n, const char *api);
/* The spec of a string component: uint8, shape [-1]. */
void ct__string_spec(ct_component_spec *c, const char *name);

#endif
