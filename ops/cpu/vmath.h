/*
 * Vectorised math over float arrays for the CPU kernels.
 *
 * Each function maps y[i] = f(x[i]) for i in [0, n); x and y may be the
 * same array. The code is compiled three times (AVX-512, AVX2 + FMA and
 * the SSE2 baseline every x86-64 has) and the widest variant the processor
 * supports is picked once, at load time.
 *
 * float32 results are within 2.5 ulp of the exact value over the whole
 * range (measured by tests/ops/test_vmath.c against float64 libm: exp 1,
 * log 0.8, erf, sin, cos 0.6, expm1 1.7, log1p 1.5, tanh 1.3, softplus
 * 1.9, sigmoid 2.3; sqrt and the roundings are exact), with
 * libm's answers for the special values: exp(-inf) = 0, exp(x > 88.72) =
 * inf, log(0) = -inf, log(x < 0) = NaN, tanh(+-inf) = +-1, -0 kept where
 * libm keeps it, NaN in gives NaN out. erf, sin and cos compute in double
 * internally; sin and cos hand arguments beyond 2^22 in magnitude to libm.
 */
#ifndef CT_OPS_CPU_VMATH_H
#define CT_OPS_CPU_VMATH_H

#include <stdint.h>

void ct__vm_exp_f32(const float *x, float *y, int64_t n);
void ct__vm_expm1_f32(const float *x, float *y, int64_t n);
void ct__vm_log_f32(const float *x, float *y, int64_t n);
void ct__vm_log1p_f32(const float *x, float *y, int64_t n);
void ct__vm_tanh_f32(const float *x, float *y, int64_t n);
void ct__vm_sigmoid_f32(const float *x, float *y, int64_t n);
/* TF's softplus: x above -log(eps) - 2, exp(x) below log(eps) + 2,
 * log1p(exp(x)) between. */
void ct__vm_softplus_f32(const float *x, float *y, int64_t n);
void ct__vm_erf_f32(const float *x, float *y, int64_t n);
void ct__vm_sin_f32(const float *x, float *y, int64_t n);
void ct__vm_cos_f32(const float *x, float *y, int64_t n);
/* Correctly rounded (IEEE operations): sqrt, 1 / sqrt, and the integral
 * roundings (round: half to even). */
void ct__vm_sqrt_f32(const float *x, float *y, int64_t n);
void ct__vm_rsqrt_f32(const float *x, float *y, int64_t n);
void ct__vm_floor_f32(const float *x, float *y, int64_t n);
void ct__vm_ceil_f32(const float *x, float *y, int64_t n);
void ct__vm_round_f32(const float *x, float *y, int64_t n);

/* float64: exact IEEE operations only (transcendentals use libm). */
void ct__vm_sqrt_f64(const double *x, double *y, int64_t n);
void ct__vm_rsqrt_f64(const double *x, double *y, int64_t n);
void ct__vm_floor_f64(const double *x, double *y, int64_t n);
void ct__vm_ceil_f64(const double *x, double *y, int64_t n);
void ct__vm_round_f64(const double *x, double *y, int64_t n);

/* Instruction sets, widest last. */
enum { CT__VM_SSE2, CT__VM_AVX2, CT__VM_AVX512 };
/* The variant in use. */
int ct__vm_isa(void);
/* Uses `isa` or the widest supported below it (for tests, which compare
 * the variants); returns the one chosen. Not thread-safe: call it while no
 * kernel runs. */
int ct__vm_set_isa(int isa);

#endif
