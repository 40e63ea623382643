/* Unit tests of apps/carprice/batches.c: batch and temporary names, the
 * manifest format, file-set comparison and the resume decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batches.h"

static void names_format(void **state)
{
    (void)state;
    char buf[CP_BATCH_NAME_CAP];
    assert_int_equal(cp_batch_name(1, buf, sizeof buf), 0);
    assert_string_equal(buf, "batch-00001");
    assert_int_equal(cp_batch_name(CP_BATCH_MAX, buf, sizeof buf), 0);
    assert_string_equal(buf, "batch-99999");
    assert_int_equal(cp_batch_name(0, buf, sizeof buf), -1);
    assert_int_equal(cp_batch_name(CP_BATCH_MAX + 1, buf, sizeof buf), -1);
    char small[11]; /* one short of "batch-00001" + NUL */
    assert_int_equal(cp_batch_name(1, small, sizeof small), -1);

    assert_int_equal(cp_batch_tmp_name(42, 1234, buf, sizeof buf), 0);
    assert_string_equal(buf, ".batch-00042.tmp-1234");
    assert_int_equal(cp_batch_tmp_name(42, 0, buf, sizeof buf), -1);
    assert_int_equal(cp_batch_tmp_name(0, 5, buf, sizeof buf), -1);
}

static void names_parse(void **state)
{
    (void)state;
    unsigned n = 0;
    long pid = 0;
    assert_true(cp_batch_parse("batch-00001", &n));
    assert_int_equal(n, 1);
    assert_true(cp_batch_parse("batch-12345", &n));
    assert_int_equal(n, 12345);
    assert_true(cp_batch_parse("batch-00007", NULL));
    const char *bad[] = {"batch-00000",  "batch-1",     "batch-000001",
                         "batch-0001a",  "Batch-00001", "batch-00001/",
                         ".batch-00001", "batch_00001", "",
                         "batch-",       "batch- 0001", "batch-00001.tmp-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cp_batch_parse(bad[i], &n));
    assert_false(cp_batch_parse(NULL, &n));

    assert_true(cp_batch_parse_tmp(".batch-00042.tmp-1234", &n, &pid));
    assert_int_equal(n, 42);
    assert_int_equal(pid, 1234);
    const char *badtmp[] = {
        ".batch-00042.tmp-",  ".batch-00042.tmp-0", ".batch-00042.tmp-12x",
        "batch-00042.tmp-12", ".batch-0042.tmp-12", ".batch-00042.tmp--1",
        ".batch-00042.tmp12", ".batch-00000.tmp-5", ".batch-00042.tmp-99999999999999999999"};
    for (size_t i = 0; i < sizeof badtmp / sizeof badtmp[0]; i++)
        assert_false(cp_batch_parse_tmp(badtmp[i], &n, &pid));

    /* Round trips. */
    char buf[CP_BATCH_NAME_CAP];
    for (unsigned k = 1; k <= CP_BATCH_MAX; k += 997) {
        assert_int_equal(cp_batch_name(k, buf, sizeof buf), 0);
        assert_true(cp_batch_parse(buf, &n));
        assert_int_equal(n, k);
        assert_int_equal(cp_batch_tmp_name(k, 2147483647L, buf, sizeof buf), 0);
        assert_true(cp_batch_parse_tmp(buf, &n, &pid));
        assert_int_equal(n, k);
        assert_int_equal(pid, 2147483647L);
    }
}

static void data_files(void **state)
{
    (void)state;
    assert_true(cp_batch_is_data_file("part-00000-abc.c000.csv"));
    assert_true(cp_batch_is_data_file("x"));
    assert_false(cp_batch_is_data_file("_SUCCESS"));
    assert_false(cp_batch_is_data_file("_MANIFEST"));
    assert_false(cp_batch_is_data_file(".part-00000.csv.crc"));
    assert_false(cp_batch_is_data_file(""));
    assert_false(cp_batch_is_data_file(NULL));
}

static void manifest_round_trip(void **state)
{
    (void)state;
    char p2[] = "part-2.csv", p1[] = "part-1.csv", sp[] = "name with spaces.csv";
    cp_batch_file_t files[] = {
        {.name = p2, .size = 20},
        {.name = p1, .size = 0},
        {.name = sp, .size = INT64_MAX},
    };
    char *text = cp_batch_manifest_format(files, 3);
    assert_non_null(text);
    assert_string_equal(text, "carprice-batch-manifest 1\n"
                              "9223372036854775807 name with spaces.csv\n"
                              "0 part-1.csv\n"
                              "20 part-2.csv\n");
    cp_batch_file_t *back = NULL;
    size_t n = 0;
    assert_int_equal(cp_batch_manifest_parse(text, strlen(text), &back, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(back[0].name, "name with spaces.csv");
    assert_true(back[0].size == INT64_MAX);
    assert_string_equal(back[2].name, "part-2.csv");
    assert_int_equal(back[2].size, 20);
    char why[128];
    assert_true(cp_batch_files_match(files, 3, back, n, why, sizeof why));
    cp_batch_files_free(back, n);
    free(text);

    /* An empty batch has a header only. */
    text = cp_batch_manifest_format(NULL, 0);
    assert_string_equal(text, "carprice-batch-manifest 1\n");
    assert_int_equal(cp_batch_manifest_parse(text, strlen(text), &back, &n), 0);
    assert_int_equal(n, 0);
    cp_batch_files_free(back, n);
    free(text);

    /* Names that could not be read back are refused. */
    char with_nl[] = "a\nb", none[] = "", a[] = "a";
    cp_batch_file_t nl[] = {{.name = with_nl, .size = 1}};
    assert_null(cp_batch_manifest_format(nl, 1));
    cp_batch_file_t empty[] = {{.name = none, .size = 1}};
    assert_null(cp_batch_manifest_format(empty, 1));
    cp_batch_file_t neg[] = {{.name = a, .size = -1}};
    assert_null(cp_batch_manifest_format(neg, 1));
}

static void manifest_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "carprice-batch-manifest 2\n1 a\n",
        "carprice-batch-manifest 1\n1 a", /* no final line break */
        "carprice-batch-manifest 1\nx a\n",
        "carprice-batch-manifest 1\n1\n",
        "carprice-batch-manifest 1\n1 \n",
        "carprice-batch-manifest 1\n-1 a\n",
        "carprice-batch-manifest 1\n99999999999999999999 a\n",
        "carprice-batch-manifest 1\n\n",
        "<html>not found</html>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cp_batch_file_t *f = (cp_batch_file_t *)1;
        size_t n = 99;
        assert_int_equal(cp_batch_manifest_parse(bad[i], strlen(bad[i]), &f, &n), -1);
        assert_null(f);
        assert_int_equal(n, 0);
    }
    /* Length-bounded: bytes after len are not read. */
    const char *t = "carprice-batch-manifest 1\n5 a\nGARBAGE";
    cp_batch_file_t *f = NULL;
    size_t n = 0;
    assert_int_equal(cp_batch_manifest_parse(t, strlen(t) - 7, &f, &n), 0);
    assert_int_equal(n, 1);
    cp_batch_files_free(f, n);
    /* An embedded NUL in a name is refused. */
    const char nul[] = "carprice-batch-manifest 1\n5 a\0b\n";
    assert_int_equal(cp_batch_manifest_parse(nul, sizeof nul - 1, &f, &n), -1);
}

static void files_match(void **state)
{
    (void)state;
    char a[] = "a", b[] = "b", c[] = "c";
    cp_batch_file_t want[] = {{.name = a, .size = 1}, {.name = b, .size = 2}};
    cp_batch_file_t same[] = {{.name = b, .size = 2}, {.name = a, .size = 1}};
    cp_batch_file_t shorter[] = {{.name = a, .size = 1}, {.name = b, .size = 1}};
    cp_batch_file_t missing[] = {{.name = a, .size = 1}};
    cp_batch_file_t extra[] = {
        {.name = a, .size = 1}, {.name = b, .size = 2}, {.name = c, .size = 3}};
    char why[128];
    assert_true(cp_batch_files_match(want, 2, same, 2, why, sizeof why));
    assert_string_equal(why, "");
    assert_false(cp_batch_files_match(want, 2, shorter, 2, why, sizeof why));
    assert_string_equal(why, "b: 1 bytes, expected 2");
    assert_false(cp_batch_files_match(want, 2, missing, 1, why, sizeof why));
    assert_string_equal(why, "b is missing");
    assert_false(cp_batch_files_match(want, 2, extra, 3, why, sizeof why));
    assert_string_equal(why, "c is not expected");
    assert_false(cp_batch_files_match(want, 2, extra, 3, NULL, 0));
    assert_true(cp_batch_files_match(NULL, 0, NULL, 0, NULL, 0));
}

static void resume_decision(void **state)
{
    (void)state;
    unsigned b = 0;
    size_t left = 0;
    unsigned staged[] = {3, 1, 2, 5};

    /* Nothing published: the lowest staged batch. */
    assert_int_equal(cp_source_next(staged, 4, NULL, 0, &b, &left), CP_SOURCE_PUBLISH);
    assert_int_equal(b, 1);
    assert_int_equal(left, 4);

    /* 1 and 2 complete: 3 next. */
    cp_batch_published_t p1[] = {{2, true}, {1, true}};
    assert_int_equal(cp_source_next(staged, 4, p1, 2, &b, &left), CP_SOURCE_PUBLISH);
    assert_int_equal(b, 3);
    assert_int_equal(left, 2);

    /* 3 renamed but not marked: finish it before anything else. */
    cp_batch_published_t p2[] = {{1, true}, {2, true}, {3, false}};
    assert_int_equal(cp_source_next(staged, 4, p2, 3, &b, &left), CP_SOURCE_FINISH);
    assert_int_equal(b, 3);
    assert_int_equal(left, 2);

    /* A gap is no obstacle: 4 was never staged (an empty batch). */
    cp_batch_published_t p3[] = {{1, true}, {2, true}, {3, true}};
    assert_int_equal(cp_source_next(staged, 4, p3, 3, &b, &left), CP_SOURCE_PUBLISH);
    assert_int_equal(b, 5);
    assert_int_equal(left, 1);

    /* An unmarked higher batch does not jump the queue. */
    cp_batch_published_t p4[] = {{5, false}};
    assert_int_equal(cp_source_next(staged, 4, p4, 1, &b, &left), CP_SOURCE_PUBLISH);
    assert_int_equal(b, 1);
    assert_int_equal(left, 4);

    /* All complete, plus published batches that are no longer staged. */
    cp_batch_published_t p5[] = {{1, true}, {2, true}, {3, true}, {5, true}, {9, false}};
    b = 77;
    assert_int_equal(cp_source_next(staged, 4, p5, 5, &b, &left), CP_SOURCE_IDLE);
    assert_int_equal(b, 77);
    assert_int_equal(left, 0);

    /* Nothing staged. */
    assert_int_equal(cp_source_next(NULL, 0, p5, 5, &b, &left), CP_SOURCE_IDLE);

    /* A number listed twice counts once. */
    unsigned dup[] = {4, 4};
    assert_int_equal(cp_source_next(dup, 2, NULL, 0, &b, &left), CP_SOURCE_PUBLISH);
    assert_int_equal(b, 4);
    assert_int_equal(left, 1);

    /* NULL out-parameters are allowed. */
    assert_int_equal(cp_source_next(staged, 4, NULL, 0, NULL, NULL), CP_SOURCE_PUBLISH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_format),
        cmocka_unit_test(names_parse),
        cmocka_unit_test(data_files),
        cmocka_unit_test(manifest_round_trip),
        cmocka_unit_test(manifest_rejects_garbage),
        cmocka_unit_test(files_match),
        cmocka_unit_test(resume_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
