/* The DataFrame surface against the real server: multi-line CSV read with an
 * explicit schema, transformations, named SQL parameters, partitioned
 * Parquet write and read back, schema, explain, persist/unpersist, temp views
 * over batch and streaming data, and the keep-alive thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparkconnect/sparkconnect.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != SC_OK)                                                                       \
            fail_msg("%s: %s", #call, sc_error_message(err));                                      \
    } while (0)

static const char *remote(void)
{
    const char *r = getenv("CARPRICE_SPARK_REMOTE");
    return r && *r ? r : "sc://127.0.0.1:15002";
}

static void read_transform_write_read(void **state)
{
    (void)state;
    sc_error_t *err = sc_error_new();
    sc_session_t *s = NULL;
    CHECK(sc_session_new(remote(), NULL, &s, err));
    CHECK(sc_session_keepalive(s, 200, err));

    /* Quoted line breaks and doubled quotes inside fields: 3 records, 5 lines. */
    char dir[128], csv[160], parquet[192];
    snprintf(dir, sizeof dir, "/tmp/carprice-test-df-%d", (int)getpid());
    snprintf(csv, sizeof csv, "%s/in.csv", dir);
    snprintf(parquet, sizeof parquet, "file://%s/out.parquet", dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("id,make,description,price\n"
          "1,Ford,\"line one\nline two\",100.5\n"
          "2,Kia,\"says \"\"hi\"\"\",200\n"
          "3,Ford,\"a,b\nc\",\n",
          f);
    fclose(f);
    const char *ok[] = {"header", "multiLine", "escape"};
    const char *ov[] = {"true", "true", "\""};
    sc_read_opts_t ro = {.format = "csv",
                         .schema = "id INT, make STRING, description STRING, price DOUBLE",
                         .option_keys = ok,
                         .option_values = ov,
                         .noptions = 3};
    char path[200];
    snprintf(path, sizeof path, "file://%s", csv);
    const char *paths[] = {path};
    sc_df_t *raw = NULL;
    CHECK(sc_read(s, &ro, paths, 1, &raw, err));
    int64_t n = 0;
    CHECK(sc_df_count(raw, &n, err));
    assert_int_equal(n, 3);

    char *ddl = NULL;
    CHECK(sc_df_schema(raw, &ddl, err));
    assert_string_equal(ddl, "id INT, make STRING, description STRING, price DOUBLE");
    free(ddl);

    sc_df_t *with = NULL, *fords = NULL;
    CHECK(sc_df_with_column(raw, "lines", "size(split(description, '\\n'))", &with, err));
    CHECK(sc_df_filter(with, "make = 'Ford'", &fords, err));
    char *plan = NULL;
    CHECK(sc_df_explain(fords, "simple", &plan, err));
    assert_non_null(strstr(plan, "Filter"));
    free(plan);
    CHECK(sc_df_persist(fords, err));
    sc_write_opts_t wo = {.format = "parquet",
                          .mode = "overwrite",
                          .partition_by = (const char *const[]){"make"},
                          .npartition_by = 1};
    CHECK(sc_df_write(fords, &wo, parquet, err));
    CHECK(sc_df_unpersist(fords, err));
    /* Writing again without overwrite is Spark's error, not a crash. */
    wo.mode = "error";
    assert_int_equal(sc_df_write(fords, &wo, parquet, err), SC_ERR_SERVER);
    wo.mode = "sideways";
    assert_int_equal(sc_df_write(fords, &wo, parquet, err), SC_ERR_INVALID_ARG);

    sc_read_opts_t pq = {.format = "parquet"};
    const char *ppaths[] = {parquet};
    sc_df_t *back = NULL;
    CHECK(sc_read(s, &pq, ppaths, 1, &back, err));
    CHECK(sc_df_create_view(back, "df_test_fords", true, err));
    sc_param_t args[] = {{.name = "min_lines", .kind = SC_PARAM_INT64, .i = 2},
                         {.name = "make", .kind = SC_PARAM_STRING, .s = "Ford"}};
    sc_df_t *q = NULL;
    CHECK(sc_sql(s,
                 "SELECT id, lines, description FROM df_test_fords "
                 "WHERE lines >= :min_lines AND make = :make ORDER BY id",
                 args, 2, &q, err));
    sc_result_t *r = NULL;
    CHECK(sc_df_collect(q, &r, err));
    assert_int_equal(sc_result_num_rows(r), 2);
    int64_t id, lines;
    const char *desc;
    size_t dlen;
    CHECK(sc_result_get_int64(r, 0, 0, &id, err));
    CHECK(sc_result_get_int64(r, 0, 1, &lines, err));
    CHECK(sc_result_get_string(r, 0, 2, &desc, &dlen, err));
    assert_int_equal(id, 1);
    assert_int_equal(lines, 2);
    assert_int_equal(dlen, strlen("line one\nline two"));
    assert_memory_equal(desc, "line one\nline two", dlen);
    CHECK(sc_result_get_int64(r, 1, 0, &id, err));
    assert_int_equal(id, 3);
    sc_result_destroy(r);

    /* A temp view over a stream is itself streaming. */
    sc_read_opts_t sro = {
        .format = "parquet", .schema = "id INT, lines INT, price DOUBLE", .streaming = true};
    char pdir[220];
    snprintf(pdir, sizeof pdir, "%s/make=Ford", parquet);
    const char *spaths[] = {pdir};
    sc_df_t *stream = NULL, *sv = NULL;
    CHECK(sc_read(s, &sro, spaths, 1, &stream, err));
    CHECK(sc_df_create_view(stream, "df_test_stream", true, err));
    CHECK(sc_sql(s, "SELECT id * 10 AS id10 FROM df_test_stream", NULL, 0, &sv, err));
    bool streaming = false;
    CHECK(sc_df_is_streaming(sv, &streaming, err));
    assert_true(streaming);
    CHECK(sc_df_is_streaming(back, &streaming, err));
    assert_false(streaming);
    sc_stream_opts_t so = {
        .format = "memory", .query_name = "df_test_mem", .trigger = SC_TRIGGER_AVAILABLE_NOW};
    sc_query_t *query = NULL;
    CHECK(sc_stream_start(sv, &so, &query, err));
    bool done = false;
    CHECK(sc_query_await(query, 60000, &done, err));
    assert_true(done);
    sc_df_t *mem = NULL;
    CHECK(sc_sql(s, "SELECT sum(id10) FROM df_test_mem", NULL, 0, &mem, err));
    CHECK(sc_df_collect(mem, &r, err));
    CHECK(sc_result_get_int64(r, 0, 0, &id, err));
    assert_int_equal(id, 40);
    sc_result_destroy(r);

    /* Interrupting with nothing running is harmless. */
    CHECK(sc_session_interrupt_all(s, err));
    usleep(500 * 1000); /* the keep-alive thread pings in the background */

    sc_df_t *dfs[] = {raw, with, fords, back, q, stream, sv, mem};
    for (size_t i = 0; i < sizeof dfs / sizeof dfs[0]; i++)
        sc_df_destroy(dfs[i]);
    sc_query_destroy(query);
    sc_session_destroy(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    sc_error_destroy(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_transform_write_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
