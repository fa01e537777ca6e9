/* The Keras-config reader and JSON text (private to nn/). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"
#include "support.h"

TestSuite(nn_config, .init = ct_test_begin, .fini = ct_test_end);

static void dumps_as(json_t *j, const char *want) {
    char *s = ct__json_dump(j);
    cr_assert_not_null(s, "%s", ct_last_error());
    cr_expect_str_eq(s, want);
    free(s);
    json_decref(j);
}

Test(nn_config, reals_are_written_as_python_repr) {
    /* What json.dumps writes for these floats (Keras's files). */
    static const struct {
        double v;
        const char *text;
    } cases[] = {{0.99, "0.99"},        {0.001, "0.001"},     {1e-7, "1e-07"},
                 {1.0, "1.0"},          {-2.0, "-2.0"},       {0.0, "0.0"},
                 {0.05, "0.05"},        {-0.05, "-0.05"},     {1e16, "1e+16"},
                 {1e15, "1000000000000000.0"}, {123456.5, "123456.5"},
                 {0.0001, "0.0001"},    {0.00001, "1e-05"},   {1.5e-5, "1.5e-05"},
                 {1.0 / 3, "0.3333333333333333"}, {DBL_MAX, "1.7976931348623157e+308"},
                 {5e-324, "5e-324"},    {2.5e20, "2.5e+20"},  {10000000.0, "10000000.0"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        dumps_as(json_real(cases[i].v), cases[i].text);
}

Test(nn_config, structures_keep_order_and_escape_strings) {
    json_t *j = json_object();
    json_object_set_new(j, "b", json_integer(3));
    json_object_set_new(j, "a", json_pack("[s, n, b, f]", "x\"y\n", true, 0.5));
    json_object_set_new(j, "e", json_object());
    dumps_as(j, "{\"b\":3,\"a\":[\"x\\\"y\\n\",null,true,0.5],\"e\":{}}");
}

Test(nn_config, getters_take_defaults_and_report_bad_values) {
    json_t *obj = json_loads("{\"units\": 3, \"rate\": 0.5, \"flag\": true, \"pad\": \"SAME\", "
                             "\"ks\": [3, 2], \"k1\": 4, \"shape\": [null, 5], \"extra\": 1, "
                             "\"name\": \"x\", \"fl\": 2.0}",
                             0, NULL);
    cr_assert_not_null(obj);
    ct__cfg c;
    CT_STATUS_OK(ct__cfg_begin(&c, obj, "Thing", "thing_1"));
    int64_t units, missing, ks[2], k1[2], shape[4], fl;
    double rate, dflt;
    bool flag, absent;
    const char *pad;
    static const char *const pads[] = {"valid", "same", NULL};
    CT_STATUS_OK(ct__cfg_int(&c, "units", CT__REQUIRED, &units));
    cr_expect_eq(units, 3);
    CT_STATUS_OK(ct__cfg_int(&c, "fl", 0, &fl)); /* 2.0 reads as an integer */
    cr_expect_eq(fl, 2);
    CT_STATUS_OK(ct__cfg_int(&c, "missing", 7, &missing));
    cr_expect_eq(missing, 7);
    CT_STATUS_OK(ct__cfg_double(&c, "rate", 0, &rate));
    cr_expect_eq(rate, 0.5);
    CT_STATUS_OK(ct__cfg_double(&c, "nothing", 1.5, &dflt));
    cr_expect_eq(dflt, 1.5);
    CT_STATUS_OK(ct__cfg_bool(&c, "flag", false, &flag));
    cr_expect(flag);
    CT_STATUS_OK(ct__cfg_bool(&c, "absent", true, &absent));
    cr_expect(absent);
    CT_STATUS_OK(ct__cfg_str(&c, "pad", "valid", pads, &pad));
    cr_expect_str_eq(pad, "same"); /* lower-cased, as Keras */
    CT_STATUS_OK(ct__cfg_ints(&c, "ks", 2, NULL, ks));
    cr_expect(ks[0] == 3 && ks[1] == 2);
    CT_STATUS_OK(ct__cfg_ints(&c, "k1", 2, NULL, k1));
    cr_expect(k1[0] == 4 && k1[1] == 4);
    int n;
    bool present;
    CT_STATUS_OK(ct__cfg_int_list(&c, "shape", 4, shape, &n, &present));
    cr_expect(present && n == 2 && shape[0] == -1 && shape[1] == 5);
    ct_clear_error();
    cr_expect_neq(ct__cfg_finish(&c), CT_OK);
    cr_expect(strstr(ct_last_error(), "Thing 'thing_1': unknown argument 'extra'"),
              "%s", ct_last_error());
    json_decref(obj);
}

Test(nn_config, getter_errors_name_the_argument) {
    json_t *obj = json_loads("{\"units\": \"3\", \"pad\": \"full\", \"ks\": [1, 2, 3], "
                             "\"flag\": 1}",
                             0, NULL);
    ct__cfg c;
    CT_STATUS_OK(ct__cfg_begin(&c, obj, "Conv2D", "conv"));
    int64_t v, ks[2];
    bool b;
    const char *s;
    static const char *const pads[] = {"valid", "same", NULL};
    cr_expect_neq(ct__cfg_int(&c, "units", 0, &v), CT_OK);
    cr_expect(strstr(ct_last_error(), "Conv2D 'conv': argument 'units': must be an integer"),
              "%s", ct_last_error());
    cr_expect_neq(ct__cfg_str(&c, "pad", "valid", pads, &s), CT_OK);
    cr_expect(strstr(ct_last_error(), "must be one of 'valid', 'same', got 'full'"), "%s",
              ct_last_error());
    cr_expect_neq(ct__cfg_ints(&c, "ks", 2, NULL, ks), CT_OK);
    cr_expect(strstr(ct_last_error(), "a list of 2 integers"), "%s", ct_last_error());
    cr_expect_neq(ct__cfg_bool(&c, "flag", false, &b), CT_OK);
    cr_expect(strstr(ct_last_error(), "true or false"), "%s", ct_last_error());
    cr_expect_neq(ct__cfg_int(&c, "req", CT__REQUIRED, &v), CT_OK);
    cr_expect(strstr(ct_last_error(), "argument 'req': is required"), "%s", ct_last_error());
    ct__cfg_end(&c);
    json_decref(obj);
}

Test(nn_config, parse_errors_give_line_and_column) {
    ct_clear_error();
    cr_expect_null(ct__json_parse("{\n  \"a\": [1, 2,\n}", "model.json"));
    cr_expect(strstr(ct_last_error(), "model.json: bad JSON at line 3"), "%s", ct_last_error());
    cr_expect_null(ct__json_parse(NULL, "x"));
}
