/*
 * Part of ctrain/data.h (included from it): see there for conventions.
 *
 * File formats read as data: text lines, file lists (glob), CSV
 * (tf.data.experimental.make_csv_dataset) and IDX (the MNIST format) with
 * a Fashion-MNIST loader.
 *
 *     ct_dataset *ds = ct_make_csv_dataset(1, (const char *[]){"train.csv"},
 *                                          &(ct_csv_opts){.label_name = "survived"});
 *     ds = ct_dataset_shuffle(ds, 1000, &(ct_shuffle_opts){.seed = 1});
 *     ds = ct_dataset_batch(ds, 32, false);   // make_csv_dataset's batch_size
 *     // each element: the named feature columns, then the unnamed label
 *
 *     ct_tensor *x_train, *y_train, *x_test, *y_test;
 *     if (ct_load_fashion_mnist(NULL, &x_train, &y_train, &x_test, &y_test))
 *         fprintf(stderr, "%s\n", ct_last_error());
 *
 * Strings. ctrain has no string dtype: a line, a file name or a CSV string
 * field is a uint8 tensor of its bytes, shape [length] (no terminating
 * NUL); its element spec is uint8 with shape [-1].
 *
 * Errors. Constructors check what TensorFlow checks when the dataset is
 * built (glob matches, CSV header and column arguments) and return NULL
 * with the thread's error set. Problems inside files (a missing file, bad
 * compressed data, a malformed CSV record) are reported by
 * ct_iterator_next when the iterator reaches them, naming the file and,
 * for CSV, the line and column. A CSV record that fails consumes the
 * record, so the next call continues after it (as TF's ignore_errors
 * relies on).
 *
 * Checkpoints. Every dataset here saves and restores its position (file
 * index and byte offset); a restored iterator re-opens the file and skips
 * to the offset, also in compressed files.
 */
#ifndef CTRAIN_DATA_FILES_H
#define CTRAIN_DATA_FILES_H

#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TF's compression_type: "" / "GZIP" / "ZLIB" (zlib's gzip and zlib
 * stream formats; concatenated gzip members are read as one stream). */
typedef enum { CT_COMPRESSION_NONE = 0, CT_COMPRESSION_GZIP, CT_COMPRESSION_ZLIB } ct_compression;

/* ---- text lines and file lists --------------------------------------------- */

/* tf.data.TextLineDataset(filenames, compression_type): one uint8 string
 * per line of each file, the files read in order. Lines end at "\n",
 * which is not part of the element; as TF's reader does, every '\r' is
 * dropped (so "\r\n" files read as "\n" files), and a last line without
 * "\n" is an element unless it is empty. The names are copied. A missing
 * or unreadable file is an error naming it when the iterator reaches it.
 * Cardinality unknown. NULL with an error for n < 1 or a NULL name. */
ct_dataset *ct_dataset_text_lines(int n, const char *const *filenames, ct_compression compression);

/* tf.data.Dataset.list_files(pattern, shuffle, seed): the paths matching
 * a glob pattern ('*', '?', '[...]'; a leading '.' may be matched, as in
 * TF), as uint8 strings, sorted by name; with shuffle, shuffled with
 * ct_dataset_shuffle (buffer = the number of files, reshuffled each
 * iteration; seed 0 follows TF's seed rule). The glob runs here, once: no
 * match is an error "No files matched pattern: <pattern>" (NULL). */
ct_dataset *ct_dataset_list_files(const char *pattern, bool shuffle, int64_t seed);

/* ---- CSV ------------------------------------------------------------------- */

/* The dtype that stands for TF's tf.string in CSV columns. */
#define CT_CSV_STRING CT_UINT8

/* One column's type and default (TF's column_defaults / record_defaults
 * entry). Zeroed: an optional float32 column defaulting to 0. */
typedef struct ct_csv_column {
    ct_dtype dtype;           /* CT_INT32, CT_INT64, CT_FLOAT32, CT_FLOAT64 or
                                 CT_CSV_STRING                              */
    bool required;            /* no default (TF: a bare dtype or an empty
                                 tensor): an empty or NA field is an error */
    double value;             /* default of a numeric column                */
    const char *string_value; /* default of a string column (NULL: "")      */
} ct_csv_column;

/* make_csv_dataset's options; zero means TF's default everywhere. */
typedef struct ct_csv_opts {
    /* Names of all the columns, in file order. NULL: read from the header
     * line of the files (which must then agree, and header must be on). */
    const char *const *column_names;
    int num_column_names;
    /* Per selected column (all columns when nothing is selected), in
     * increasing column order. NULL: inferred as TF does from the first
     * num_rows_for_inference records (int32, int64, float32, float64,
     * else string; empty or NA fields say nothing), all optional with
     * default 0 or "". */
    const ct_csv_column *column_defaults;
    int num_column_defaults;
    /* Columns to keep, by name (select_columns) or by 0-based index
     * (select_indices; both may be given); the kept columns come out in
     * file order. None: all columns. */
    const char *const *select_columns;
    int num_select_columns;
    const int *select_indices;
    int num_select_indices;
    /* The label column: it becomes the last, unnamed component; the other
     * columns are named components (TF's (features_dict, label)). */
    const char *label_name;
    char field_delim;               /* 0: ','                                */
    bool no_header;                 /* TF's header=False (default: the first
                                       record of every file is a header)     */
    bool no_quote_delim;            /* TF's use_quote_delim=False: '"' is an
                                       ordinary character                   */
    const char *na_value;           /* a field equal to it is missing (NULL:
                                       only empty fields are)               */
    int64_t num_rows_for_inference; /* 0: 100; negative: every record        */
    ct_compression compression;
} ct_csv_opts;

/* tf.data.experimental.make_csv_dataset over `n` files (read in order)
 * with batch_size=None, num_epochs=1, shuffle=False: each element is ONE
 * record, components in column order (scalars; strings uint8 [len]),
 * named by column, the label last and unnamed. make_csv_dataset's
 * batching, repetition, shuffling and prefetching are the caller's
 * ct_dataset_batch / repeat / shuffle / prefetch (the order TF applies
 * them: shuffle, repeat, batch, prefetch). opts may be NULL.
 *
 * Records follow RFC 4180 as TF's CsvDataset reads them: records end at
 * "\n", "\r\n" or "\r"; a field starting with '"' is quoted ("" stands for
 * one '"', and it may span lines); an empty line is a record of one empty
 * field. Errors (from ct_iterator_next), each naming the file, the line
 * and the column: a wrong number of fields, an unterminated quoted field,
 * a quote inside an unquoted field or after a closing quote, a number
 * that does not parse as its column's dtype, a missing required field.
 * Errors here (NULL): no files, unreadable headers, headers that differ,
 * duplicate or unknown column names, select and defaults of different
 * lengths, a label that is not a column, records that disagree in length
 * while types are inferred. */
ct_dataset *ct_make_csv_dataset(int n, const char *const *files, const ct_csv_opts *opts);

/* tf.io.decode_csv on one record: the `len` bytes at `record` (no
 * terminating newline needed) parsed with `defaults` (one per selected
 * column; all columns when opts selects none by index) and opts'
 * field_delim, no_quote_delim, na_value and select_indices (names need
 * column_names). *out gets one component per column (caller-owned,
 * unnamed). Errors name the column; a line break outside quotes is an
 * error. */
ct_status ct_decode_csv(const void *record, size_t len, int num_defaults,
                        const ct_csv_column *defaults, const ct_csv_opts *opts, ct_element **out);

/* ---- IDX and Fashion-MNIST ------------------------------------------------- */

/* Reads an IDX file (plain or gzip-compressed, told apart by content):
 * magic 0x00 0x00, a type byte (0x08 uint8 -> CT_UINT8; 0x09 int8 and 0x0B
 * int16 -> CT_INT32, ctrain having no narrower signed types; 0x0C int32;
 * 0x0D float32; 0x0E float64; all big-endian), the rank (at most
 * CT_MAX_RANK), the dimensions, the data. *out is a host tensor of those
 * dimensions, owned like an op result (the innermost scope, or the caller
 * when none is open). Errors name the file and what is wrong: a bad
 * magic or type byte, a truncated file (the bytes expected and found),
 * bytes after the data, bad gzip data. *out is NULL on error. */
ct_status ct_load_idx(const char *path, ct_tensor **out);

/* tf.keras.datasets.fashion_mnist.load_data(): uint8 images [60000,28,28]
 * and [10000,28,28], uint8 labels [60000] and [10000] in 0..9, read from
 * `dir` (NULL: /usr/share/datasets/fashion-mnist, Debian's
 * dataset-fashion-mnist) holding train-images-idx3-ubyte(.gz),
 * train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and
 * t10k-labels-idx1-ubyte(.gz). Tensors owned as ct_load_idx's. On error
 * all four are NULL and the error names the file. */
ct_status ct_load_fashion_mnist(const char *dir, ct_tensor **x_train, ct_tensor **y_train,
                                ct_tensor **x_test, ct_tensor **y_test);

#ifdef __cplusplus
}
#endif
#endif
