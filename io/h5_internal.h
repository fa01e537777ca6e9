/*
 * io/h5.c's file writing and model loading, for io/checkpoint.c's
 * training checkpoints. Not installed.
 */
#ifndef CT_IO_H5_INTERNAL_H
#define CT_IO_H5_INTERNAL_H

#include <hdf5.h>
#include <stdbool.h>

#include "ctrain/nn.h"

/* st = call, with HDF5's automatic error printing off (our errors say
 * what went wrong). */
#define QUIET_HDF5(call)                                                                           \
    do {                                                                                           \
        H5E_auto2_t old_fn;                                                                        \
        void *old_data;                                                                            \
        H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);                                             \
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);                                                     \
        st = (call);                                                                               \
        H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);                                               \
    } while (0)

/* Adds groups of its own to the file being written (f is its root). */
typedef ct_status (*ct__h5_extra_fn)(hid_t f, void *ctx);

/* What a file holds besides extra's groups. */
enum { CT__H5_NONE, CT__H5_WEIGHTS, CT__H5_FULL };

/* Writes path atomically (a temporary file, fsync, rename, fsync of the
 * directory): m's weights in the weights-file layout or as a full model
 * (or nothing of m: CT__H5_NONE, m may be NULL), optimizer_weights when
 * optimizer is set and the optimizer has state, then extra's groups.
 * Errors start with where. */
ct_status ct__h5_write_atomic(ct_model *m, const char *path, const char *where, int what,
                              bool optimizer, ct__h5_extra_fn extra, void *ctx);

/* Loads a file written so into m: the weights by position (checked
 * before any is assigned), then, when m is compiled and the file has
 * them, the optimizer's variables. */
ct_status ct__h5_load_model_state(ct_model *m, const char *path, const char *where);

/* A scalar UTF-8 string attribute; and one read back (*out malloc'ed,
 * NULL when absent; an error naming where when it is not one string). */
bool ct__h5_write_str(hid_t obj, const char *name, const char *value);
ct_status ct__h5_read_str(hid_t obj, const char *name, const char *where, char **out);

#endif
