/*
 * Learning-rate schedules. Expected values are computed here in double from
 * the formulas of Keras 3's keras/src/optimizers/schedules/
 * learning_rate_schedule.py; ctrain computes in float32 as Keras does, so
 * comparisons allow float32 rounding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(schedules, .init = ct_test_begin, .fini = ct_test_end);

static ct_lr_schedule *make(const char *json) {
    ct_lr_schedule *s = ct_lr_schedule_from_config(json);
    CT_OK(s);
    return s;
}

static void expect_at(const ct_lr_schedule *s, int64_t step, double want) {
    double got = ct_lr_schedule_value(s, step);
    cr_assert(fabs(got - want) <= 1e-6 * fmax(fabs(want), 1e-3),
              "step %lld: got %.9g, expected %.9g", (long long)step, got, want);
    /* Keras's arithmetic is float32: the value is a float32 number. */
    cr_assert_eq(got, (double)(float)got, "step %lld: %.17g is not a float32 value",
                 (long long)step, got);
}

Test(schedules, exponential_decay) {
    ct_lr_schedule *s = make("{\"class_name\": \"ExponentialDecay\", \"config\": "
                             "{\"initial_learning_rate\": 0.1, \"decay_steps\": 1000, "
                             "\"decay_rate\": 0.96}}");
    expect_at(s, 0, 0.1);
    expect_at(s, 500, 0.1 * pow(0.96, 0.5));
    expect_at(s, 1500, 0.1 * pow(0.96, 1.5));
    ct_lr_schedule_free(s);
    s = make("{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
             "0.1, \"decay_steps\": 1000, \"decay_rate\": 0.96, \"staircase\": true}}");
    expect_at(s, 999, 0.1);
    expect_at(s, 1500, 0.1 * 0.96);
    expect_at(s, 2000, 0.1 * 0.96 * 0.96);
    ct_lr_schedule_free(s);
}

/* The docstring's example: 1.0 up to step 100000, 0.5 to 110000, then 0.1. */
Test(schedules, piecewise_constant_decay) {
    ct_lr_schedule *s =
        make("{\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": "
             "[100000, 110000], \"values\": [1.0, 0.5, 0.1]}}");
    expect_at(s, 0, 1.0);
    expect_at(s, 100000, 1.0);
    expect_at(s, 100001, 0.5);
    expect_at(s, 110000, 0.5);
    expect_at(s, 110001, 0.1);
    ct_lr_schedule_free(s);
}

Test(schedules, polynomial_decay) {
    /* (0.1 - 0.01) * (1 - step / 10000)^0.5 + 0.01, step capped. */
    ct_lr_schedule *s = make("{\"class_name\": \"PolynomialDecay\", \"config\": "
                             "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10000, "
                             "\"end_learning_rate\": 0.01, \"power\": 0.5}}");
    expect_at(s, 0, 0.1);
    expect_at(s, 2500, 0.09 * sqrt(0.75) + 0.01);
    expect_at(s, 20000, 0.01);
    ct_lr_schedule_free(s);
    /* cycle: decay_steps * ceil(step / decay_steps); step 0 uses one period. */
    s = make("{\"class_name\": \"PolynomialDecay\", \"config\": {\"initial_learning_rate\": "
             "0.1, \"decay_steps\": 10000, \"end_learning_rate\": 0.01, \"power\": 0.5, "
             "\"cycle\": true}}");
    expect_at(s, 0, 0.1);
    expect_at(s, 15000, 0.09 * sqrt(0.25) + 0.01);
    ct_lr_schedule_free(s);
    /* Defaults: end_learning_rate 0.0001, power 1. */
    s = make("{\"class_name\": \"PolynomialDecay\", \"config\": {\"initial_learning_rate\": "
             "0.1, \"decay_steps\": 100}}");
    expect_at(s, 25, (0.1 - 0.0001) * 0.75 + 0.0001);
    ct_lr_schedule_free(s);
}

Test(schedules, inverse_time_decay) {
    ct_lr_schedule *s = make("{\"class_name\": \"InverseTimeDecay\", \"config\": "
                             "{\"initial_learning_rate\": 0.1, \"decay_steps\": 1.0, "
                             "\"decay_rate\": 0.5}}");
    expect_at(s, 4, 0.1 / (1 + 0.5 * 4));
    ct_lr_schedule_free(s);
    s = make("{\"class_name\": \"InverseTimeDecay\", \"config\": {\"initial_learning_rate\": "
             "0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"staircase\": true}}");
    expect_at(s, 15, 0.1 / (1 + 0.5 * 1));
    ct_lr_schedule_free(s);
}

Test(schedules, cosine_decay) {
    ct_lr_schedule *s = make("{\"class_name\": \"CosineDecay\", \"config\": "
                             "{\"initial_learning_rate\": 0.1, \"decay_steps\": 1000}}");
    expect_at(s, 0, 0.1);
    expect_at(s, 250, 0.1 * 0.5 * (1 + cos(M_PI * 0.25)));
    ct_lr_schedule_free(s);
    s = make("{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
             "\"decay_steps\": 1000, \"alpha\": 0.1}}");
    expect_at(s, 250, 0.1 * (0.9 * 0.5 * (1 + cos(M_PI * 0.25)) + 0.1));
    expect_at(s, 5000, 0.1 * 0.1);
    ct_lr_schedule_free(s);
}

Test(schedules, cosine_decay_with_warmup) {
    /* Linear warmup from 0 to 0.1 over 100 steps, then cosine from 0.1. */
    ct_lr_schedule *s =
        make("{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0, "
             "\"decay_steps\": 1000, \"warmup_target\": 0.1, \"warmup_steps\": 100}}");
    expect_at(s, 0, 0.0);
    expect_at(s, 50, 0.05);
    expect_at(s, 100, 0.1);
    expect_at(s, 600, 0.1 * 0.5 * (1 + cos(M_PI * 0.5)));
    expect_at(s, 5000, 0.0);
    ct_lr_schedule_free(s);
}

Test(schedules, cosine_decay_restarts) {
    /* Periods of 100, 200, 400 steps; each restart's peak halves. */
    ct_lr_schedule *s = make("{\"class_name\": \"CosineDecayRestarts\", \"config\": "
                             "{\"initial_learning_rate\": 1.0, \"first_decay_steps\": 100, "
                             "\"m_mul\": 0.5}}");
    expect_at(s, 0, 1.0);
    expect_at(s, 50, 0.5 * (1 + cos(M_PI * 0.5)));
    expect_at(s, 100, 0.5);                              /* restart 1: m_mul^1 */
    expect_at(s, 200, 0.5 * 0.5 * (1 + cos(M_PI * 0.5))); /* half of period 2 */
    expect_at(s, 300, 0.25);                             /* restart 2 */
    ct_lr_schedule_free(s);
    /* t_mul 1: equal periods; alpha raises the floor. */
    s = make("{\"class_name\": \"CosineDecayRestarts\", \"config\": {\"initial_learning_rate\": "
             "1.0, \"first_decay_steps\": 100, \"t_mul\": 1.0, \"m_mul\": 0.5, \"alpha\": 0.1}}");
    expect_at(s, 150, 0.9 * (0.5 * 0.5 * (1 + cos(M_PI * 0.5))) + 0.1);
    ct_lr_schedule_free(s);
}

Test(schedules, config_round_trip) {
    const char *configs[] = {
        "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 1000, \"decay_rate\": 0.96, \"staircase\": true, \"name\": \"e\"}}",
        "{\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [10, 20], "
        "\"values\": [1.0, 0.5, 0.1]}}",
        "{\"class_name\": \"PolynomialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 100, \"cycle\": true}}",
        "{\"class_name\": \"InverseTimeDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
        "\"decay_steps\": 1.0, \"decay_rate\": 0.5}}",
        "{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0, "
        "\"decay_steps\": 1000, \"warmup_target\": 0.1, \"warmup_steps\": 100}}",
        "{\"class_name\": \"CosineDecayRestarts\", \"config\": {\"initial_learning_rate\": 1.0, "
        "\"first_decay_steps\": 100, \"alpha\": 0.1}}",
    };
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        ct_lr_schedule *a = make(configs[i]);
        char *text = ct_lr_schedule_get_config(a);
        CT_OK(text);
        ct_lr_schedule *b = make(text);
        char *text2 = ct_lr_schedule_get_config(b);
        CT_OK(text2);
        cr_expect_str_eq(text, text2);
        for (int64_t step = 0; step < 3000; step += 37)
            cr_expect_eq(ct_lr_schedule_value(a, step), ct_lr_schedule_value(b, step));
        free(text);
        free(text2);
        ct_lr_schedule_free(a);
        ct_lr_schedule_free(b);
    }
}

Test(schedules, config_has_keras_keys_and_defaults) {
    ct_lr_schedule *s = make("{\"class_name\": \"CosineDecayRestarts\", \"config\": "
                             "{\"initial_learning_rate\": 1.0, \"first_decay_steps\": 100}}");
    char *text = ct_lr_schedule_get_config(s);
    CT_OK(text);
    cr_expect(strstr(text, "\"class_name\":\"CosineDecayRestarts\"") != NULL, "%s", text);
    cr_expect(strstr(text, "\"first_decay_steps\":100") != NULL, "%s", text);
    cr_expect(strstr(text, "\"name\":\"SGDRDecay\"") != NULL, "%s", text);
    cr_expect(strstr(text, "\"t_mul\":2") != NULL, "%s", text);
    free(text);
    ct_lr_schedule_free(s);
}

/* What Keras 3's keras.optimizers.schedules.serialize writes. */
Test(schedules, keras3_serialized_form) {
    ct_lr_schedule *s = make(
        "{\"module\": \"keras.optimizers.schedules\", \"class_name\": \"ExponentialDecay\", "
        "\"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 100000, \"decay_rate\": "
        "0.96, \"staircase\": true, \"name\": \"ExponentialDecay\"}, \"registered_name\": null}");
    expect_at(s, 100000, 0.096);
    ct_lr_schedule_free(s);
}

Test(schedules, errors) {
    CT_FAILS(ct_lr_schedule_from_config("{\"class_name\": \"StepDecay\", \"config\": {}}"),
             "unknown learning rate schedule 'StepDecay'");
    CT_FAILS(ct_lr_schedule_from_config(
                 "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_steps\": 0, \"decay_rate\": 0.9}}"),
             "decay_steps");
    CT_FAILS(ct_lr_schedule_from_config(
                 "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_rate\": 0.9}}"),
             "'decay_steps': is required");
    CT_FAILS(ct_lr_schedule_from_config(
                 "{\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [10], "
                 "\"values\": [1.0, 0.5, 0.1]}}"),
             "1 less than the length of values");
    CT_FAILS(ct_lr_schedule_from_config(
                 "{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
                 "\"decay_steps\": 10, \"gamma\": 2}}"),
             "unknown argument 'gamma'");
    CT_FAILS(ct_lr_schedule_from_config(
                 "{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": \"x\", "
                 "\"decay_steps\": 10}}"),
             "initial_learning_rate");
    CT_FAILS(ct_lr_schedule_from_config("[1, 2"), "bad JSON");
}
