/*
 * Fused CPU updates of the Keras optimizers (private to nn/optimizers.c).
 *
 * One pass per variable reads the gradient and updates the variable and its
 * slots in place, computing per element exactly the float operations of
 * optimizers.c's op chain in the same order (each rounded to the variable's
 * dtype, no contraction into FMAs), so the two paths agree bit for bit.
 * The per-step coefficients arrive as doubles already computed (and rounded)
 * by optimizers.c; a kernel converts each to the variable's dtype once, as
 * the op path's scalar tensors do.
 *
 * Layout: every array is contiguous with n elements of the variable's dtype
 * (float32 or float64); the gradient has already been cast to that dtype and
 * must not overlap the arrays written (the caller gets those from
 * ct__variable_data_for_write, which gives private storage).
 */
#ifndef CT_NN_OPTIMIZER_KERNELS_H
#define CT_NN_OPTIMIZER_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrain/nn.h"
#include "ctrain/runtime.h"

typedef enum {
    CT__OPTK_SGD,
    CT__OPTK_ADAGRAD,
    CT__OPTK_RMSPROP,
    CT__OPTK_ADADELTA,
    CT__OPTK_ADAM,     /* and AdamW: its decay is the common one below */
    CT__OPTK_ADAMAX,
    CT__OPTK_NADAM,
    CT__OPTK_FTRL,
    CT__OPTK_COUNT
} ct__optk_rule;

/* One variable's update. The coefficient fields are read only by the rules
 * named beside them; each is the value optimizers.c's op path turns into a
 * scalar tensor of the variable's dtype. */
typedef struct ct__optk {
    int64_t n;                /* elements                                    */
    const void *g;            /* the gradient, read                          */
    void *w;                  /* the variable                                */
    void *s[3];               /* its slots, in INFO[kind].slot order; NULL where unused */
    bool decay;               /* first w = w - (w * weight_decay) * lr       */
    double weight_decay;
    double lr;                /* every rule but Adam (the decay too)         */
    double eps;               /* every rule but SGD and Ftrl                 */
    bool momentum;            /* SGD (momentum != 0), RMSprop (momentum > 0) */
    bool nesterov;            /* SGD                                         */
    bool centered;            /* RMSprop                                     */
    bool amsgrad;             /* Adam                                        */
    double mom;               /* SGD, RMSprop: momentum                      */
    double rho, one_m_rho;    /* RMSprop, Adadelta                           */
    double one_m_b1;          /* Adam, Adamax, Nadam: 1 - beta_1             */
    double one_m_b2;          /* Adam, Nadam: 1 - beta_2                     */
    double b2;                /* Adamax: beta_2                              */
    double alpha;             /* Adam: lr sqrt(1 - beta_2^t) / (1 - beta_1^t) */
    double one_m_b1p;         /* Adamax: 1 - beta_1^t                        */
    double u_t_1, one_m_u_prod_t_1, one_m_u_t, one_m_u_prod_t, one_m_b2p; /* Nadam */
    double power;             /* Ftrl: -learning_rate_power                  */
    double shrinkage2;        /* Ftrl: 2 * l2_shrinkage                      */
    double l2_reg2;           /* Ftrl: 2 * (l2 + beta / (2 lr))              */
    double l1;                /* Ftrl                                        */
} ct__optk;

/* Runs rule on a (dt CT_FLOAT32 or CT_FLOAT64), split across the thread
 * budget when it is large. */
void ct__optk_run(ct__optk_rule rule, ct_dtype dt, const ct__optk *a);

/* For tests: with fused false, optimizer o updates every variable through
 * the op chain only (the reference the fused kernels must match). */
void ct__optimizer_set_fused(ct_optimizer *o, bool fused);

#endif
