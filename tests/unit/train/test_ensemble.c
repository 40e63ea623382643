/* Search spaces of the model stage (src/train/ensemble.c): the default
 * grids, "PARAM=V1,V2" overrides and their errors, the mixed-radix
 * enumeration of combinations, and the Spark parameters of a combination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ensemble.h"

static void defaults_are_known_models(void **state)
{
    (void)state;
    en_model_t m;
    const char *names[] = {"gbt", "rf", "lin", "fm"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(en_model_default(names[i], 42, &m), 0);
        assert_string_equal(m.name, names[i]);
        char col[32];
        snprintf(col, sizeof col, "p_%s", names[i]);
        assert_string_equal(m.pred_col, col);
        assert_non_null(strstr(m.estimator, "org.apache.spark.ml.regression."));
        assert_true(en_model_combos(&m) >= 1 && en_model_combos(&m) <= EN_MAX_COMBOS);
    }
    assert_int_equal(en_model_default("gbt", 1, &m), 0);
    assert_string_equal(m.features_col, "tree_features");
    assert_int_equal(en_model_default("lin", 1, &m), 0);
    assert_string_equal(m.features_col, "features");
    assert_int_equal(en_model_default("xgboost", 1, &m), -1);
}

static void overrides_replace_and_add(void **state)
{
    (void)state;
    en_model_t m;
    char err[256];
    assert_int_equal(en_model_default("gbt", 7, &m), 0);
    size_t before = m.nparams;
    assert_int_equal(en_model_set(&m, "maxDepth=2,4,8", err, sizeof err), 0);
    assert_int_equal(m.nparams, before); /* replaced, not added */
    assert_int_equal(en_model_set(&m, "minInfoGain=0.01", err, sizeof err), 0);
    assert_int_equal(m.nparams, before + 1);
    assert_int_equal(en_model_set(&m, "lossType=absolute", err, sizeof err), 0);
    assert_int_equal(en_model_combos(&m), 3);
    /* The seed reaches the trees. */
    bool seeded = false;
    for (size_t i = 0; i < m.nparams; i++)
        seeded |= strcmp(m.params[i].name, "seed") == 0 && strcmp(m.params[i].values[0], "7") == 0;
    assert_true(seeded);
}

static void bad_specs_are_refused(void **state)
{
    (void)state;
    en_model_t m;
    char err[256];
    assert_int_equal(en_model_default("rf", 1, &m), 0);
    const char *bad[] = {"maxDepth",
                         "maxDepth=",
                         "=4",
                         "maxDepth=4,,5",
                         "maxDepth=deep",
                         "predictionCol=x",
                         "featuresCol=y",
                         "numTrees=1,2,3,4,5,6,7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(en_model_set(&m, bad[i], err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* Too many combinations in all. */
    assert_int_equal(en_model_set(&m, "maxDepth=1,2,3,4", err, sizeof err), 0);
    assert_int_equal(en_model_set(&m, "numTrees=1,2,3,4,5", err, sizeof err), -1);
    assert_non_null(strstr(err, "combinations"));
}

static void combinations_enumerate_every_pair(void **state)
{
    (void)state;
    en_model_t m;
    char err[256], text[256];
    assert_int_equal(en_model_default("lin", 1, &m), 0);
    assert_int_equal(en_model_set(&m, "regParam=0.1,0.2,0.3", err, sizeof err), 0);
    assert_int_equal(en_model_set(&m, "elasticNetParam=0,1", err, sizeof err), 0);
    assert_int_equal(en_model_combos(&m), 6);
    /* Every (regParam, elasticNetParam) pair exactly once. */
    int seen[3][2] = {{0}};
    size_t rp = 0, en = 0;
    for (size_t i = 0; i < m.nparams; i++) {
        if (strcmp(m.params[i].name, "regParam") == 0)
            rp = i;
        if (strcmp(m.params[i].name, "elasticNetParam") == 0)
            en = i;
    }
    for (size_t c = 0; c < 6; c++) {
        const char *a = en_combo_value(&m, c, rp), *b = en_combo_value(&m, c, en);
        seen[a[2] - '1'][b[0] - '0']++;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            assert_int_equal(seen[i][j], 1);
    en_combo_text(&m, 5, true, text, sizeof text);
    assert_string_equal(text, "regParam=0.3, elasticNetParam=1");
    en_combo_text(&m, 0, false, text, sizeof text);
    assert_non_null(strstr(text, "maxIter=100"));
}

static void params_carry_columns_and_bins(void **state)
{
    (void)state;
    en_model_t m;
    sc_error_t *err = sc_error_new();
    assert_int_equal(en_model_default("gbt", 1, &m), 0);
    sc_params_t *p = en_params(&m, 0, 300, err);
    assert_non_null(p);
    bool pred = false, feat = false, bins = false;
    for (size_t i = 0; i < sc_params_count(p); i++) {
        const char *n = sc_params_name(p, i);
        pred |= strcmp(n, "predictionCol") == 0;
        feat |= strcmp(n, "featuresCol") == 0;
        bins |= strcmp(n, "maxBins") == 0;
    }
    assert_true(pred && feat && bins);
    assert_int_equal(sc_params_count(p), 3 + m.nparams);
    sc_params_destroy(p);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_known_models),
        cmocka_unit_test(overrides_replace_and_add),
        cmocka_unit_test(bad_specs_are_refused),
        cmocka_unit_test(combinations_enumerate_every_pair),
        cmocka_unit_test(params_carry_columns_and_bins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
