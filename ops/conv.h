/* Convolution (tf.nn.convolution, conv_transpose, depthwise_conv): the
 * attributes, the window arithmetic and the geometry shared by the
 * definitions (ops/conv.c, ops/pool.c) and the CPU kernels (ops/cpu/conv.c,
 * ops/cpu/pool.c), and the oneDNN engine, stream and primitive cache the
 * CPU kernels share.
 *
 * Shapes (channels last): x is [batch..., in spatial..., C], the kernel
 * [k..., C / groups, O] and y [batch..., out spatial..., O], with S = 1, 2
 * or 3 spatial dimensions. Group j reads input channels [j C/g, (j+1) C/g)
 * and writes output channels [j O/g, (j+1) O/g). Several batch dims fold
 * into one.
 *
 * Three ops, closed under differentiation (so every order of gradient is
 * another call of one of them):
 *   Conv                  y  = conv(x, w)
 *   ConvBackpropInput     dx = conv^T(dy, w)   (x's shape in the attrs)
 *   ConvBackpropFilter    dw = corr(x, dy)     (w's shape in the attrs)
 */
#ifndef CT_OPS_CONV_H
#define CT_OPS_CONV_H

#include <dnnl.h>

#include "ops/op.h"

enum { CT__PAD_VALID = 0, CT__PAD_SAME = 1 };

typedef struct ct__conv_attrs {
    int nsp;                 /* spatial dimensions, 1..3                   */
    int padding;             /* CT__PAD_VALID or CT__PAD_SAME              */
    int64_t strides[3];      /* per spatial dimension, >= 1                */
    int64_t dilations[3];    /* per spatial dimension, >= 1                */
    int64_t groups;          /* >= 1                                       */
    int rank;                /* the backprop ops' result: its rank, shape  */
    int64_t shape[CT_MAX_RANK];
} ct__conv_attrs;

/* One convolution's sizes, everything derived from shapes and attrs. */
typedef struct ct__conv_geom {
    int nsp;
    int64_t batch;                   /* product of the batch dims          */
    int64_t in[3], k[3], out[3];     /* spatial sizes                      */
    int64_t s[3], d[3], pl[3], pr[3];/* strides, dilations, padding        */
    int64_t c, o, groups;            /* input and output channels, groups  */
} ct__conv_geom;

/* TF's windowed output size (GetWindowedOutputSizeVerbose): for VALID
 * out = (in - keff + s) / s, no padding; for SAME out = ceil(in / s) and
 * the total padding max((out - 1) s + keff - in, 0), its smaller half
 * before. keff = (k - 1) d + 1. A negative size is an error naming the
 * op and the sizes. */
ct_status ct__window(const ct__call *c, int64_t in, int64_t k, int64_t s, int64_t d,
                     int padding, int64_t *out, int64_t *pl, int64_t *pr);

/* The geometry of a convolution of x (rank xrank, shape xs) with a kernel
 * of shape ws (rank nsp + 2), validating every size against the attrs. */
ct_status ct__conv_geom_of(const ct__call *c, const ct__conv_attrs *a, int xrank,
                           const int64_t *xs, const int64_t *ws, ct__conv_geom *g);

extern const ct__op ct__op_conv, ct__op_conv_backprop_input, ct__op_conv_backprop_filter;

/* CPU kernels (ops/cpu/conv.c). Inputs: Conv (x, w), ConvBackpropInput
 * (dy, w), ConvBackpropFilter (x, dy). */
ct_status ct__cpu_conv(ct__call *c);
ct_status ct__cpu_conv_backprop_input(ct__call *c);
ct_status ct__cpu_conv_backprop_filter(ct__call *c);

/* ---- oneDNN, shared by the CPU convolution and pooling kernels ---------- */

/* The process's CPU engine and the calling thread's stream (created on
 * first use; a thread's stream is freed when the thread exits), or NULL
 * with the thread's error set. */
dnnl_engine_t ct__dnnl_engine(void);
dnnl_stream_t ct__dnnl_stream(void);

/* A cached set of primitives. The cache is keyed by a plain struct (its
 * bytes, so zero it before filling); entries are reference counted so one
 * evicted while another thread runs it stays alive until released. */
typedef struct ct__dnnl_entry ct__dnnl_entry;
struct ct__dnnl_entry {
    atomic_int refs;
    ct__dnnl_entry *prev, *next;  /* LRU list, most recent first           */
    unsigned char key[256];
    size_t key_size;
    void (*destroy)(ct__dnnl_entry *e); /* frees what build made           */
};
/* The entry for key, building it with build(key) on a miss (build returns
 * an entry of its own allocation with destroy set, or NULL with the
 * thread's error set). Release it with ct__dnnl_release. */
ct__dnnl_entry *ct__dnnl_lookup(const void *key, size_t key_size,
                                ct__dnnl_entry *(*build)(const void *key));
void ct__dnnl_release(ct__dnnl_entry *e);
/* A oneDNN status as a library error "<api>: oneDNN <what> failed: ...". */
ct_status ct__dnnl_error(const char *what, dnnl_status_t s);

/* Public helpers of ops/conv.c used by the pooling definitions. */
ct_status ct__parse_padding(const char *api, const char *padding, int *out);

#endif
