/*
 * keras.regularizers and keras.constraints: values by hand from the Keras 3
 * formulas (keras/src/regularizers/regularizers.py,
 * keras/src/constraints/constraints.py), gradients, JSON and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(regularizers, .init = ct_test_begin, .fini = ct_test_end);

/* w = [[1, -2], [3, -4]]: sum|w| = 10, sum w^2 = 30. */
static ct_tensor *w22(void) { return CT_F32(CT_DIMS(2, 2), 1, -2, 3, -4); }

Test(regularizers, values) {
    ct_tensor *w = w22();
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L1}, w), CT_FLOAT32, CT_SCALAR,
              1e-6, 0.1);
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L2}, w), CT_FLOAT32, CT_SCALAR,
              1e-6, 0.3);
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L1, .l1 = 0.5}, w), CT_FLOAT32,
              CT_SCALAR, 1e-6, 5);
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L2, .l2 = 2}, w), CT_FLOAT32,
              CT_SCALAR, 1e-6, 60);
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L1L2, .l1 = 0.1, .l2 = 0.2}, w),
              CT_FLOAT32, CT_SCALAR, 1e-6, 7);
    /* L1L2 takes its factors as given: zeros give no penalty. */
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L1L2}, w), CT_FLOAT32,
              CT_SCALAR, 0, 0);
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){0}, w), CT_FLOAT32, CT_SCALAR, 0, 0);
    /* The Regularizer docstring: L2(2.) of ones((5, 5)) is 50. */
    CT_EXPECT(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L2, .l2 = 2},
                                  ct_ones(CT_FLOAT64, CT_DIMS(5, 5))),
              CT_FLOAT64, CT_SCALAR, 1e-15, 50);
}

typedef struct {
    ct_regularizer r;
    ct_constraint c;
} ctx_t;

static ct_tensor *reg_fn(ct_tensor *const *in, void *ctx) {
    return ct_regularizer_call(&((ctx_t *)ctx)->r, in[0]);
}
static ct_tensor *con_fn(ct_tensor *const *in, void *ctx) {
    return ct_constraint_call(&((ctx_t *)ctx)->c, in[0]);
}

Test(regularizers, gradients) {
    ct_tensor *w = CT_F64(CT_DIMS(2, 3), 0.5, -1.5, 2.0, -0.25, 3.0, -2.0);
    ctx_t cases[] = {{.r = {CT_REG_L1, 0, 0}}, {.r = {CT_REG_L2, 0, 0}},
                     {.r = {CT_REG_L1L2, 0.3, 0.7}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ct_gradcheck(reg_fn, 1, &w, &cases[i], 1e-6);
    /* d/dw of l2 * sum(w^2) is 2 * l2 * w (no 1/2 in Keras 3). */
    ct_tape *tape = ct_tape_begin(NULL);
    ct_tape_watch(tape, w);
    ct_tensor *p = ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L2, .l2 = 0.5}, w);
    ct_tape_end(tape);
    ct_tensor *g;
    CT_STATUS_OK(ct_tape_gradient(tape, p, 1, &w, &g, NULL));
    CT_EXPECT(g, CT_FLOAT64, CT_DIMS(2, 3), 1e-15, 0.5, -1.5, 2.0, -0.25, 3.0, -2.0);
    ct_tape_free(tape);
}

/* w = [[3, 0], [4, 1]]: column norms (axis 0) 5 and 1; row norms 3 and sqrt(17). */
Test(regularizers, constraints) {
    const double e = 1e-7;
    ct_tensor *w = CT_F64(CT_DIMS(2, 2), 3, 0, 4, 1);
    /* MaxNorm(2): column 0 scaled by 2 / (e + 5), column 1 by 1 / (e + 1). */
    double a = 2 / (e + 5), b = 1 / (e + 1);
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_MAX_NORM}, w), CT_FLOAT64,
              CT_DIMS(2, 2), 1e-15, 3 * a, 0, 4 * a, 1 * b);
    /* axis 1: rows. */
    double r0 = 3, r1 = sqrt(17.0);
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_MAX_NORM, .max_value = 4,
                                                  .naxes = 1, .axes = {1}}, w),
              CT_FLOAT64, CT_DIMS(2, 2), 1e-15, 3 * 3 / (e + r0), 0, 4 * 4 / (e + r1),
              4 / (e + r1));
    /* Both axes: one norm sqrt(26). */
    double n = sqrt(26.0);
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_UNIT_NORM, .naxes = 2,
                                                  .axes = {0, -1}}, w),
              CT_FLOAT64, CT_DIMS(2, 2), 1e-15, 3 / (e + n), 0, 4 / (e + n), 1 / (e + n));
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_UNIT_NORM}, w),
              CT_FLOAT64, CT_DIMS(2, 2), 1e-15, 3 / (e + 5), 0, 4 / (e + 5), 1 / (e + 1));
    /* MinMaxNorm(0.5, 2, rate 0.5): desired 0.5 * 2 + 0.5 * 5 = 3.5 and
     * 0.5 * 1 + 0.5 * 1 = 1. */
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_MIN_MAX_NORM,
                                                  .min_value = 0.5, .max_value = 2, .rate = 0.5},
                                 w),
              CT_FLOAT64, CT_DIMS(2, 2), 1e-15, 3 * 3.5 / (e + 5), 0, 4 * 3.5 / (e + 5),
              1 / (e + 1));
    /* Defaults min 0, max 1, rate 1: unit norm at most. */
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_MIN_MAX_NORM}, w),
              CT_FLOAT64, CT_DIMS(2, 2), 1e-15, 3 / (e + 5), 0, 4 / (e + 5), 1 / (e + 1));
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_NON_NEG},
                                 CT_F32(CT_DIMS(4), -1, 0, 2, -0.5)),
              CT_FLOAT32, CT_DIMS(4), 0, 0, 0, 2, 0);
    CT_EXPECT(ct_constraint_call(&(ct_constraint){0}, w), CT_FLOAT64, CT_DIMS(2, 2), 0, 3, 0, 4, 1);
    /* A conv kernel [2, 2, 1, 2] with axis [0, 1, 2]: each filter on its own. */
    ct_tensor *k = CT_F32(CT_DIMS(2, 2, 1, 2), 1, 0, 1, 0, 1, 0, 1, 3);
    CT_EXPECT(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_UNIT_NORM, .naxes = 3,
                                                  .axes = {0, 1, 2}}, k),
              CT_FLOAT32, CT_DIMS(2, 2, 1, 2), 1e-6, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 1);
}

Test(regularizers, constraint_gradients) {
    ct_tensor *w = CT_F64(CT_DIMS(3, 2), 0.5, -1.5, 2.0, -0.25, 3.0, -2.0);
    ctx_t cases[] = {{.c = {.kind = CT_CONSTRAINT_MAX_NORM}},
                     {.c = {.kind = CT_CONSTRAINT_UNIT_NORM, .naxes = 1, .axes = {1}}},
                     {.c = {.kind = CT_CONSTRAINT_MIN_MAX_NORM, .min_value = 1, .max_value = 2.5,
                            .rate = 0.3}},
                     {.c = {.kind = CT_CONSTRAINT_NON_NEG}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ct_gradcheck(con_fn, 1, &w, &cases[i], 1e-6);
}

Test(regularizers, errors) {
    CT_FAILS(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L1L2, .l1 = -1}, w22()),
             "L1L2: the factors must be non-negative");
    CT_FAILS(ct_regularizer_call(&(ct_regularizer){.kind = CT_REG_L2}, NULL), "the weight is NULL");
    CT_FAILS(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_MAX_NORM, .naxes = 1,
                                                 .axes = {2}}, w22()),
             "MaxNorm: axis 2 is out of range for a weight of shape float32[2,2]");
    CT_FAILS(ct_constraint_call(&(ct_constraint){.kind = CT_CONSTRAINT_UNIT_NORM},
                                CT_I32(CT_DIMS(2), 1, 2)),
             "UnitNorm: the weight must be floating-point");
}

/* ---- JSON --------------------------------------------------------------------- */

static char *dump_and_free(json_t *j) {
    cr_assert_not_null(j, "%s", ct_last_error());
    char *s = ct__json_dump(j);
    json_decref(j);
    return s;
}

/* got equals `want` as JSON values (the dump's spacing does not matter). */
static void expect_same_json(json_t *got, const char *want) {
    cr_assert_not_null(got, "%s", ct_last_error());
    json_t *exp = ct__json_parse(want, "want");
    char *s = dump_and_free(json_incref(got));
    cr_expect(json_equal(got, exp), "%s, expected %s", s, want);
    free(s);
    json_decref(exp);
}

static void reg_round_trip(ct_regularizer r, const char *want) {
    json_t *j = ct__regularizer_to_json(&r);
    expect_same_json(j, want);
    ct_regularizer back;
    CT_STATUS_OK(ct__regularizer_from_json(j, &back, "Dense 'd': kernel_regularizer"));
    json_decref(j);
    j = ct__regularizer_to_json(&back);
    expect_same_json(j, want);
    json_decref(j);
}

static void con_round_trip(ct_constraint c, const char *want) {
    json_t *j = ct__constraint_to_json(&c);
    expect_same_json(j, want);
    ct_constraint back;
    CT_STATUS_OK(ct__constraint_from_json(j, &back, "Dense 'd': kernel_constraint"));
    json_decref(j);
    j = ct__constraint_to_json(&back);
    expect_same_json(j, want);
    json_decref(j);
}

Test(regularizers, json_round_trips) {
    reg_round_trip((ct_regularizer){.kind = CT_REG_L1},
                   "{\"class_name\":\"L1\",\"config\":{\"l1\":0.01}}");
    reg_round_trip((ct_regularizer){.kind = CT_REG_L2, .l2 = 0.5},
                   "{\"class_name\":\"L2\",\"config\":{\"l2\":0.5}}");
    reg_round_trip((ct_regularizer){.kind = CT_REG_L1L2, .l1 = 0.25},
                   "{\"class_name\":\"L1L2\",\"config\":{\"l1\":0.25,\"l2\":0.0}}");
    json_t *j = ct__regularizer_to_json(&(ct_regularizer){0});
    cr_expect(json_is_null(j));
    json_decref(j);

    con_round_trip((ct_constraint){.kind = CT_CONSTRAINT_MAX_NORM},
                   "{\"class_name\":\"MaxNorm\",\"config\":{\"max_value\":2.0,\"axis\":0}}");
    con_round_trip((ct_constraint){.kind = CT_CONSTRAINT_NON_NEG},
                   "{\"class_name\":\"NonNeg\",\"config\":{}}");
    con_round_trip((ct_constraint){.kind = CT_CONSTRAINT_UNIT_NORM, .naxes = 3, .axes = {0, 1, 2}},
                   "{\"class_name\":\"UnitNorm\",\"config\":{\"axis\":[0,1,2]}}");
    con_round_trip((ct_constraint){.kind = CT_CONSTRAINT_MIN_MAX_NORM, .min_value = 0.5,
                                   .max_value = 3, .rate = 0.25, .naxes = 1, .axes = {-1}},
                   "{\"class_name\":\"MinMaxNorm\",\"config\":{\"min_value\":0.5,"
                   "\"max_value\":3.0,\"rate\":0.25,\"axis\":-1}}");
    j = ct__constraint_to_json(&(ct_constraint){0});
    cr_expect(json_is_null(j));
    json_decref(j);
}

static ct_regularizer reg_from(const char *text) {
    json_t *j = ct__json_parse(text, "test");
    ct_regularizer r;
    ct_status st = ct__regularizer_from_json(j, &r, "reg");
    json_decref(j);
    cr_assert_eq(st, CT_OK, "%s: %s", text, ct_last_error());
    return r;
}

static ct_constraint con_from(const char *text) {
    json_t *j = ct__json_parse(text, "test");
    ct_constraint c;
    ct_status st = ct__constraint_from_json(j, &c, "con");
    json_decref(j);
    cr_assert_eq(st, CT_OK, "%s: %s", text, ct_last_error());
    return c;
}

Test(regularizers, json_forms) {
    ct_regularizer r = reg_from("\"l2\"");
    cr_expect(r.kind == CT_REG_L2);
    CT_EXPECT(ct_regularizer_call(&r, w22()), CT_FLOAT32, CT_SCALAR, 1e-6, 0.3);
    r = reg_from("\"l1_l2\"");
    cr_expect(r.kind == CT_REG_L1L2 && r.l1 == 0 && r.l2 == 0); /* Keras 3's L1L2() */
    r = reg_from("{\"module\": \"keras.regularizers\", \"class_name\": \"L1L2\", \"config\": "
                 "{\"l1\": 0.001, \"l2\": 0.002}, \"registered_name\": null}");
    cr_expect(r.kind == CT_REG_L1L2 && r.l1 == 0.001 && r.l2 == 0.002);
    /* An explicit zero factor keeps meaning zero. */
    r = reg_from("{\"class_name\": \"L1\", \"config\": {\"l1\": 0}}");
    CT_EXPECT(ct_regularizer_call(&r, w22()), CT_FLOAT32, CT_SCALAR, 0, 0);
    r = reg_from("null");
    cr_expect(r.kind == CT_REG_NONE);

    ct_constraint c = con_from("\"max_norm\"");
    cr_expect(c.kind == CT_CONSTRAINT_MAX_NORM && c.max_value == 2 && c.naxes == 1 &&
              c.axes[0] == 0);
    c = con_from("\"non_neg\"");
    cr_expect(c.kind == CT_CONSTRAINT_NON_NEG);
    c = con_from("\"unit_norm\"");
    cr_expect(c.kind == CT_CONSTRAINT_UNIT_NORM);
    c = con_from("\"min_max_norm\"");
    cr_expect(c.kind == CT_CONSTRAINT_MIN_MAX_NORM && c.max_value == 1 && c.rate == 1);
    c = con_from("{\"class_name\": \"MaxNorm\", \"config\": {\"max_value\": 3, \"axis\": [0, 1]}}");
    cr_expect(c.max_value == 3 && c.naxes == 2 && c.axes[0] == 0 && c.axes[1] == 1);
}

static void reg_error(const char *text, const char *needle) {
    json_t *j = ct__json_parse(text, "test");
    ct_regularizer r;
    ct_clear_error();
    cr_expect_neq(ct__regularizer_from_json(j, &r, "Dense 'd': kernel_regularizer"), CT_OK, "%s",
                  text);
    cr_expect(strstr(ct_last_error(), needle), "\"%s\" lacks \"%s\"", ct_last_error(), needle);
    json_decref(j);
}

static void con_error(const char *text, const char *needle) {
    json_t *j = ct__json_parse(text, "test");
    ct_constraint c;
    ct_clear_error();
    cr_expect_neq(ct__constraint_from_json(j, &c, "Dense 'd': kernel_constraint"), CT_OK, "%s",
                  text);
    cr_expect(strstr(ct_last_error(), needle), "\"%s\" lacks \"%s\"", ct_last_error(), needle);
    json_decref(j);
}

Test(regularizers, json_errors) {
    reg_error("\"l3\"", "Dense 'd': kernel_regularizer: unknown regularizer 'l3'");
    reg_error("{\"class_name\": \"L2\", \"config\": {\"l2\": -1}}",
              "L2: argument 'l2': expected a non-negative float");
    reg_error("{\"class_name\": \"L2\", \"config\": {\"l1\": 1}}", "L2: unknown argument 'l1'");
    reg_error("{\"class_name\": \"L1\", \"config\": {\"l1\": \"big\"}}", "must be a number");
    reg_error("5", "must be a name");
    con_error("\"max\"", "Dense 'd': kernel_constraint: unknown constraint 'max'");
    con_error("{\"class_name\": \"MaxNorm\", \"config\": {\"axis\": \"x\"}}",
              "MaxNorm: argument 'axis'");
    con_error("{\"class_name\": \"UnitNorm\", \"config\": {\"axis\": []}}",
              "argument 'axis': must not be an empty list");
    con_error("{\"class_name\": \"NonNeg\", \"config\": {\"axis\": 0}}",
              "NonNeg: unknown argument 'axis'");
}
