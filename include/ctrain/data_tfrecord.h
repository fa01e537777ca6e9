/* Part of ctrain/data.h (included from it): see there for conventions.
 *
 * TFRecord files and tf.Example protos (docs: specs/tfrecord_example.md).
 *
 *     // Writing: tf.io.TFRecordWriter + tf.train.Example.
 *     ct_tfrecord_writer *w = ct_tfrecord_writer_open("train.tfrecord", CT_COMPRESSION_GZIP);
 *     ct_example *ex = ct_example_new();
 *     ct_example_add_floats(ex, "x", (float[]){0.5f, -1.0f}, 2);
 *     ct_example_add_int64s(ex, "label", (int64_t[]){7}, 1);
 *     void *buf; size_t len;
 *     ct_example_serialize(ex, &buf, &len);
 *     ct_tfrecord_writer_write(w, buf, len);
 *     free(buf); ct_example_free(ex);
 *     ct_tfrecord_writer_close(w);       // the file appears here, complete
 *
 *     // Reading: tf.data.TFRecordDataset + tf.io.parse_single_example.
 *     static const ct_feature_spec specs[] = {
 *         {.key = "x", .dtype = CT_FLOAT32, .rank = 1, .shape = {2}},
 *         {.key = "label", .dtype = CT_INT64},                     // scalar
 *     };
 *     static ct_status parse(const ct_element *in, void *ctx, ct_element **out) {
 *         return ct_parse_example(in->t[0], 2, specs, out);
 *     }
 *     ct_dataset *ds = ct_dataset_tfrecord(1, (const char *[]){"train.tfrecord"},
 *                                          CT_COMPRESSION_GZIP);
 *     ds = ct_dataset_map(ds, parse, NULL, CT_AUTOTUNE);
 *
 * Strings. ctrain has no string dtype: a record, and each value of a
 * bytes_list, is a uint8 tensor of its bytes.
 */
#ifndef CTRAIN_DATA_TFRECORD_H
#define CTRAIN_DATA_TFRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "data_files.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- TFRecord files -------------------------------------------------------- */

/* tf.data.TFRecordDataset(filenames, compression_type): one element per
 * record, a uint8 [length] tensor of the record's bytes, reading the n
 * files in order (the names are copied). compression applies to each whole
 * file (CT_COMPRESSION_GZIP: gzip stream, CT_COMPRESSION_ZLIB: zlib
 * stream). Both CRCs of every record are checked: a corrupted, truncated
 * or unreadable record is an error of ct_iterator_next that names the file
 * and the record's byte offset (in the decompressed stream for compressed
 * files); files are opened when the iterator reaches them. The cardinality
 * is unknown. An iterator saves its position as (file index, byte offset);
 * restoring a compressed file decompresses up to the offset again. */
ct_dataset *ct_dataset_tfrecord(int n, const char *const *filenames, ct_compression compression);

/* tf.io.TFRecordWriter. Records go to a temporary file next to `path`
 * (path.tmp.<pid>.<n>), which close flushes, syncs and renames to path, so
 * path never holds a partly written file. NULL with an error naming the
 * path when the temporary file cannot be created. */
typedef struct ct_tfrecord_writer ct_tfrecord_writer;
ct_tfrecord_writer *ct_tfrecord_writer_open(const char *path, ct_compression compression);
/* Appends one record of len bytes (framed with its length and CRCs). After
 * a failed write the writer keeps failing, and close discards the file. */
ct_status ct_tfrecord_writer_write(ct_tfrecord_writer *w, const void *data, size_t len);
/* Finishes the stream, renames the file into place and frees w (also when
 * it fails: the temporary file is then removed and path left untouched).
 * NULL is ignored. */
ct_status ct_tfrecord_writer_close(ct_tfrecord_writer *w);

/* ---- tf.Example -------------------------------------------------------------- */

/* A tf.train.Example being built: a map from feature name to a list of
 * floats, int64s or byte strings. Adding to a name that already exists
 * appends to its list (which must be of the same kind: an error names the
 * feature otherwise). Keys and values are copied. */
typedef struct ct_example ct_example;
ct_example *ct_example_new(void);
void ct_example_free(ct_example *ex);
ct_status ct_example_add_floats(ct_example *ex, const char *key, const float *values, int64_t n);
ct_status ct_example_add_int64s(ct_example *ex, const char *key, const int64_t *values,
                                int64_t n);
/* n byte strings: values[i] of lens[i] bytes. */
ct_status ct_example_add_bytes(ct_example *ex, const char *key, int64_t n,
                               const void *const *values, const size_t *lens);
/* The serialized Example in a malloc'd *buf (free() it) of *len bytes:
 * protobuf's deterministic form (features in byte order of their names,
 * packed lists), which is what TensorFlow writes. A feature added with no
 * values is written as an empty list of its kind. */
ct_status ct_example_serialize(const ct_example *ex, void **buf, size_t *len);

/* How a feature is parsed (tf.io.FixedLenFeature / tf.io.VarLenFeature). */
typedef enum {
    CT_FEATURE_FIXED_LEN = 0, /* exactly prod(shape) values, shaped       */
    CT_FEATURE_VAR_LEN = 1,   /* any number of values, 1-D (dense, not the
                                 SparseTensor TF returns: its values)      */
} ct_feature_kind;

typedef struct ct_feature_spec {
    const char *key;             /* the feature's name                        */
    ct_feature_kind kind;
    ct_dtype dtype;              /* CT_FLOAT32 (float_list), CT_INT64
                                    (int64_list) or CT_UINT8 (bytes_list)     */
    int rank;                    /* FixedLen: the shape of the value          */
    int64_t shape[CT_MAX_RANK];
    const ct_tensor *default_value; /* FixedLen: used when the feature is
                                    absent; NULL: the feature is required.
                                    Same dtype and number of elements as the
                                    result (reshaped to it)                   */
} ct_feature_spec;

/* tf.io.parse_single_example: parses a serialized tf.Example (a uint8
 * [length] tensor, e.g. a TFRecordDataset element) into *out, an element
 * with one component per spec, in order, named by the spec's key (the
 * names point at specs[i].key, which must outlive the element).
 *
 *   float32 / int64 FixedLen: a tensor of spec.shape.
 *   float32 / int64 VarLen:   a 1-D tensor of the feature's values
 *                             ([0] when absent).
 *   uint8 (bytes) FixedLen:   prod(shape) strings of equal length L, as a
 *                             uint8 tensor of shape + [L] (shape [] gives
 *                             the one string as uint8 [L]).
 *   uint8 (bytes) VarLen:     k strings of equal length L as uint8 [k, L]
 *                             ([0, 0] when absent).
 *
 * When a key repeats, its last entry wins (a protobuf map); as in TF, an
 * entry whose Feature holds no list is skipped by FixedLen features and
 * read as empty by VarLen ones. Errors (a
 * malformed proto, a list of the wrong kind, a missing required feature,
 * a wrong number of values, strings of unequal lengths, a bad spec) name
 * the feature and what was expected and found; *out is then NULL. */
ct_status ct_parse_example(const ct_tensor *serialized, int n, const ct_feature_spec *specs,
                           ct_element **out);

#ifdef __cplusplus
}
#endif
#endif
