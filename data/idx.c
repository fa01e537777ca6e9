/* IDX files (the MNIST format), plain or gzipped, and the Fashion-MNIST
 * loader (tf.keras.datasets.fashion_mnist.load_data). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/file_stream.h"

static const char *const IDX_API = "ct_load_idx";

/* Reads up to n bytes; the count read, or -1 with an error (a read error
 * or bad gzip data) naming the file. */
static int64_t gz_read_n(gzFile f, const char *path, unsigned char *p, size_t n) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(f, p + done, (unsigned)want);
        if (got < 0 || (got == 0 && !gzeof(f))) {
            int errnum = 0;
            const char *msg = gzerror(f, &errnum);
            ct__error(CT_ERR_INVALID_ARGUMENT, "%s: error reading '%s': %s", IDX_API, path,
                      errnum == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        if (got == 0) break;
        done += (size_t)got;
    }
    /* gzread reports a truncated gzip member as an end with an error set. */
    int errnum = 0;
    const char *msg = gzerror(f, &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "%s: '%s' is not valid gzip data: %s", IDX_API, path,
                  msg);
        return -1;
    }
    if (done < n && errnum == Z_BUF_ERROR) {
        ct__error(CT_ERR_INVALID_ARGUMENT,
                  "%s: '%s' is truncated: the gzip stream ends early (%s)", IDX_API, path, msg);
        return -1;
    }
    return (int64_t)done;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *type_name(int code) {
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return NULL;
    }
}

/* Big-endian elements of IDX type `code` to the tensor's dtype. */
static void idx_convert(int code, const unsigned char *src, void *dst, int64_t n) {
    switch (code) {
    case 0x08:
        memcpy(dst, src, (size_t)n);
        break;
    case 0x09:
        for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = (int8_t)src[i];
        break;
    case 0x0B:
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)dst)[i] = (int16_t)(uint16_t)((unsigned)src[2 * i] << 8 | src[2 * i + 1]);
        break;
    case 0x0C:
    case 0x0D:
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = be32(src + 4 * i);
            memcpy((char *)dst + 4 * i, &v, 4);
        }
        break;
    case 0x0E:
        for (int64_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t)be32(src + 8 * i) << 32 | be32(src + 8 * i + 4);
            memcpy((char *)dst + 8 * i, &v, 8);
        }
        break;
    }
}

static ct_status load_idx(const char *path, ct_tensor **out) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int e = errno;
        return ct__error(e == ENOENT ? CT_ERR_NOT_FOUND : CT_ERR_INVALID_ARGUMENT,
                         "%s: cannot open '%s': %s", IDX_API, path,
                         e ? strerror(e) : "out of memory");
    }
    ct_status st = CT_OK;
    unsigned char *data = NULL;
    unsigned char head[4 + 4 * 255];
    int64_t got = gz_read_n(f, path, head, 4);
    if (got < 0) goto fail;
    if (got < 4) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' is truncated: expected a 4-byte IDX magic number, found %lld "
                       "bytes", IDX_API, path, (long long)got);
        goto out;
    }
    if (head[0] != 0 || head[1] != 0) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' is not an IDX file: its magic number starts 0x%02x 0x%02x "
                       "(expected 0x00 0x00)", IDX_API, path, head[0], head[1]);
        goto out;
    }
    int code = head[2], rank = head[3];
    if (!type_name(code)) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' has an unknown IDX data type 0x%02x (expected 0x08, 0x09, "
                       "0x0B, 0x0C, 0x0D or 0x0E)", IDX_API, path, code);
        goto out;
    }
    if (rank > CT_MAX_RANK) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' has %d dimensions; ctrain tensors have at most %d", IDX_API,
                       path, rank, CT_MAX_RANK);
        goto out;
    }
    got = gz_read_n(f, path, head + 4, 4 * (size_t)rank);
    if (got < 0) goto fail;
    if (got < 4 * rank) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' is truncated: expected %d bytes of header for %d dimensions, "
                       "found %lld", IDX_API, path, 4 + 4 * rank, rank, 4 + (long long)got);
        goto out;
    }
    int64_t shape[CT_MAX_RANK];
    uint64_t numel = 1;
    size_t esize = code == 0x08 || code == 0x09 ? 1 : code == 0x0B ? 2 : code == 0x0E ? 8 : 4;
    for (int i = 0; i < rank; i++) {
        shape[i] = be32(head + 4 + 4 * i);
        if (shape[i] && numel > (UINT64_MAX / 8) / (uint64_t)shape[i]) {
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "%s: '%s' claims dimensions %s: too many elements", IDX_API, path,
                           CT__SHAPE(rank, shape));
            goto out;
        }
        numel *= (uint64_t)shape[i];
    }
    uint64_t want = numel * esize;
    /* Grow the buffer as data arrives, so a file that claims huge
     * dimensions but is short fails without allocating the claim. */
    size_t have = 0, cap = 0;
    for (;;) {
        if (have == cap) {
            if (have >= want + 1) break;
            size_t next = cap ? cap * 2 : 1u << 20;
            if (next > want + 1) next = (size_t)(want + 1);
            unsigned char *p = realloc(data, next);
            if (!p) {
                st = ct__error(CT_ERR_OUT_OF_MEMORY,
                               "%s: out of host memory for %llu bytes of '%s'", IDX_API,
                               (unsigned long long)want, path);
                goto out;
            }
            data = p;
            cap = next;
        }
        got = gz_read_n(f, path, data + have, cap - have);
        if (got < 0) goto fail;
        have += (size_t)got;
        if (have < cap) break; /* the end of the file */
    }
    size_t header = 4 + 4 * (size_t)rank;
    if (have < want) {
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' is truncated: dimensions %s of %s need %llu bytes of data after "
                       "the %zu-byte header, found %zu", IDX_API, path, CT__SHAPE(rank, shape),
                       type_name(code), (unsigned long long)want, header, have);
        goto out;
    }
    if (have > want) {
        /* Count what follows, for the message. */
        uint64_t extra = have - want;
        unsigned char tmp[4096];
        while ((got = gz_read_n(f, path, tmp, sizeof tmp)) > 0) extra += (uint64_t)got;
        if (got < 0) goto fail;
        st = ct__error(CT_ERR_INVALID_ARGUMENT,
                       "%s: '%s' has %llu bytes after the data (expected %llu bytes in all for "
                       "dimensions %s of %s)", IDX_API, path, (unsigned long long)extra,
                       (unsigned long long)(header + want), CT__SHAPE(rank, shape),
                       type_name(code));
        goto out;
    }
    ct_dtype dt = code == 0x08 ? CT_UINT8 : code == 0x0D ? CT_FLOAT32 : code == 0x0E ? CT_FLOAT64
                                                                                    : CT_INT32;
    ct_tensor *t = ct__tensor_alloc(ct__cpu_device(), dt, rank, shape, IDX_API);
    if (!t) goto fail;
    idx_convert(code, data, ct__data(t), (int64_t)numel);
    *out = ct__scoped(t);
    goto out;
fail:
    st = ct_last_status();
    if (!st) st = ct__error(CT_ERR_INTERNAL, "%s: reading '%s' failed", IDX_API, path);
out:
    free(data);
    gzclose(f);
    return st;
}

ct_status ct_load_idx(const char *path, ct_tensor **out) {
    if (!out) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL out", IDX_API);
    *out = NULL;
    if (!path) return ct__error(CT_ERR_INVALID_ARGUMENT, "%s: NULL path", IDX_API);
    return load_idx(path, out);
}

/* ---- Fashion-MNIST --------------------------------------------------------------- */

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* dir/name.gz, else dir/name (Keras keeps the .gz files; others unpack). */
static ct_status load_part(const char *dir, const char *name, ct_tensor **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    FILE *probe = fopen(path, "rb");
    if (probe) fclose(probe);
    else snprintf(path, sizeof path, "%s/%s", dir, name);
    ct_status st = ct_load_idx(path, out);
    if (st && ct_last_status() == CT_ERR_NOT_FOUND && !probe)
        return ct__error(CT_ERR_NOT_FOUND,
                         "ct_load_fashion_mnist: neither '%s/%s.gz' nor '%s' exists (Debian's "
                         "dataset-fashion-mnist package installs them in " FASHION_DIR ")",
                         dir, name, path);
    return st;
}

static ct_status check_part(const ct_tensor *t, int rank, const char *dir, const char *name) {
    bool ok = t->dtype == CT_UINT8 && t->rank == rank &&
              (rank == 1 || (t->shape[1] == 28 && t->shape[2] == 28));
    if (ok) return CT_OK;
    return ct__error(CT_ERR_INVALID_ARGUMENT,
                     "ct_load_fashion_mnist: '%s/%s' holds %s; expected uint8 %s", dir, name,
                     CT__DESC(t), rank == 1 ? "labels [N]" : "images [N,28,28]");
}

ct_status ct_load_fashion_mnist(const char *dir, ct_tensor **x_train, ct_tensor **y_train,
                                ct_tensor **x_test, ct_tensor **y_test) {
    ct_tensor **outs[4] = {x_train, y_train, x_test, y_test};
    for (int i = 0; i < 4; i++) {
        if (!outs[i])
            return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_load_fashion_mnist: output %d is NULL",
                             i);
        *outs[i] = NULL;
    }
    if (!dir) dir = FASHION_DIR;
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    ct_status st = CT_OK;
    for (int i = 0; i < 4 && !st; i++) {
        st = load_part(dir, names[i], outs[i]);
        if (!st) st = check_part(*outs[i], i % 2 ? 1 : 3, dir, names[i]);
    }
    for (int i = 0; i < 4 && !st; i += 2) {
        if ((*outs[i])->shape[0] != (*outs[i + 1])->shape[0])
            st = ct__error(CT_ERR_INVALID_ARGUMENT,
                           "ct_load_fashion_mnist: %lld images in '%s/%s' but %lld labels in "
                           "'%s/%s'", (long long)(*outs[i])->shape[0], dir, names[i],
                           (long long)(*outs[i + 1])->shape[0], dir, names[i + 1]);
    }
    if (st) {
        for (int i = 0; i < 4; i++) {
            ct_tensor_free(*outs[i]);
            *outs[i] = NULL;
        }
    }
    return st;
}
