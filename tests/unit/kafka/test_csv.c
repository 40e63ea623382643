/* The streaming CSV reader (carprice/csv.h) on the inputs that break naive
 * readers: quoted line breaks and doubled quotes, CRLF, empty vs missing
 * fields, unterminated quotes, oversized records, and tokens split across the
 * reader's 256 KiB input blocks. Also reads the raw generator's output back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/csv.h"
#include "carprice/data.h"

#define BLOCK ((size_t)256 << 10) /* the reader's input block */

typedef struct {
    FILE *f;
    cp_csv_reader_t *r;
} reader_t;

static reader_t open_mem(const char *text, size_t len, size_t max_record)
{
    reader_t rd;
    /* A real file, like the reader's inputs (block reads, short last read). */
    rd.f = tmpfile();
    assert_non_null(rd.f);
    assert_int_equal(fwrite(text, 1, len, rd.f), len);
    rewind(rd.f);
    assert_int_equal(cp_csv_reader_new(rd.f, "t.csv", max_record, &rd.r), CP_CSV_OK);
    return rd;
}

static reader_t open_str(const char *text)
{
    return open_mem(text, strlen(text), 0);
}

static void close_reader(reader_t *rd)
{
    cp_csv_reader_destroy(rd->r);
    fclose(rd->f);
}

/* Reads one record and checks its fields against NULL-terminated `want`. */
static void expect_record(cp_csv_reader_t *r, const char *const *want)
{
    assert_int_equal(cp_csv_read(r), CP_CSV_OK);
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(cp_csv_nfields(r), n);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *f = cp_csv_field(r, i, &len);
        assert_non_null(f);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(f, want[i], len);
    }
}

#define EXPECT(r, ...)                                                                             \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__, NULL};                                           \
        expect_record((r), want_);                                                                 \
    } while (0)

static void simple_records(void **state)
{
    (void)state;
    reader_t rd = open_str("a,b,c\n1,2,3\n");
    EXPECT(rd.r, "a", "b", "c");
    assert_int_equal(cp_csv_record_line(rd.r), 1);
    EXPECT(rd.r, "1", "2", "3");
    assert_int_equal(cp_csv_record_line(rd.r), 2);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    assert_int_equal(cp_csv_records(rd.r), 2);
    assert_string_equal(cp_csv_error(rd.r), "");
    close_reader(&rd);
}

static void embedded_newlines_and_quotes(void **state)
{
    (void)state;
    reader_t rd = open_str("id,description,year\n"
                           "1,\"Line one\nline \"\"two\"\", with, commas\n\nlast\",2019\n"
                           "2,\"\"\"\",2020\n"
                           "3,plain,2021\n");
    EXPECT(rd.r, "id", "description", "year");
    EXPECT(rd.r, "1", "Line one\nline \"two\", with, commas\n\nlast", "2019");
    assert_int_equal(cp_csv_record_line(rd.r), 2);
    assert_true(cp_csv_field_quoted(rd.r, 1));
    assert_false(cp_csv_field_quoted(rd.r, 0));
    EXPECT(rd.r, "2", "\"", "2020");
    assert_int_equal(cp_csv_record_line(rd.r), 6);
    EXPECT(rd.r, "3", "plain", "2021");
    assert_int_equal(cp_csv_record_line(rd.r), 7);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);
}

static void crlf_line_ends(void **state)
{
    (void)state;
    reader_t rd = open_str("a,b\r\n\"x\r\ny\",2\r\nlast,3");
    EXPECT(rd.r, "a", "b");
    EXPECT(rd.r, "x\r\ny", "2"); /* a line break inside quotes is data, kept as is */
    EXPECT(rd.r, "last", "3");   /* no line end after the last record */
    assert_int_equal(cp_csv_record_line(rd.r), 4);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);

    rd = open_str("a,b\rc,d\r"); /* bare CR ends records too */
    EXPECT(rd.r, "a", "b");
    EXPECT(rd.r, "c", "d");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);
}

static void empty_and_missing_fields(void **state)
{
    (void)state;
    reader_t rd = open_str("a,,\"\",d,\n,\n\n");
    EXPECT(rd.r, "a", "", "", "d", "");
    assert_false(cp_csv_field_quoted(rd.r, 1));
    assert_true(cp_csv_field_quoted(rd.r, 2));
    size_t len = 99;
    assert_null(cp_csv_field(rd.r, 5, &len)); /* missing, not empty */
    assert_int_equal(len, 0);
    assert_false(cp_csv_field_quoted(rd.r, 5));
    EXPECT(rd.r, "", "");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END); /* the empty line is skipped */
    close_reader(&rd);
}

static void lenient_quotes(void **state)
{
    (void)state;
    /* A quote inside an unquoted field is literal; text after a closing
     * quote is appended, as Python's csv module does. */
    reader_t rd = open_str("5'10\" tall,\"ab\"cd,x\n");
    EXPECT(rd.r, "5'10\" tall", "abcd", "x");
    close_reader(&rd);
}

static void blank_lines_bom_and_nul(void **state)
{
    (void)state;
    static const char text[] = "\xEF\xBB\xBFh1,h2\n\n\r\nv\0w,2\n\n";
    reader_t rd = open_mem(text, sizeof text - 1, 0);
    EXPECT(rd.r, "h1", "h2"); /* no BOM in the first name */
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_OK);
    size_t len;
    const char *f = cp_csv_field(rd.r, 0, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(f, "v\0w", 3);
    assert_int_equal(cp_csv_record_line(rd.r), 4);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);
}

static void unterminated_quote_is_an_error_with_its_line(void **state)
{
    (void)state;
    reader_t rd = open_str("h1,h2\nok,1\nbad,\"never\nclosed\nat all\n");
    EXPECT(rd.r, "h1", "h2");
    EXPECT(rd.r, "ok", "1");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_QUOTE);
    const char *msg = cp_csv_error(rd.r);
    assert_non_null(strstr(msg, "t.csv:3:"));
    assert_non_null(strstr(msg, "unterminated quoted field"));
    assert_non_null(strstr(msg, "line 6"));
    /* Sticky. */
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_QUOTE);
    close_reader(&rd);

    rd = open_str("\"");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_QUOTE);
    assert_non_null(strstr(cp_csv_error(rd.r), "t.csv:1:"));
    close_reader(&rd);
}

static void oversized_record_is_an_error(void **state)
{
    (void)state;
    char text[512];
    memset(text, 0, sizeof text);
    strcpy(text, "a,b\nshort,1\n\"");
    size_t n = strlen(text);
    for (int i = 0; i < 300; i++)
        text[n++] = i % 50 == 49 ? '\n' : 'x';
    strcpy(text + n, "\",2\n");
    reader_t rd = open_mem(text, strlen(text), 128);
    EXPECT(rd.r, "a", "b");
    EXPECT(rd.r, "short", "1");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_TOOBIG);
    assert_non_null(strstr(cp_csv_error(rd.r), "t.csv:3:"));
    assert_non_null(strstr(cp_csv_error(rd.r), "longer than 128 bytes"));
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_TOOBIG);
    close_reader(&rd);

    /* Many tiny fields count too: the limit bounds the field table as well. */
    char commas[300];
    memset(commas, ',', sizeof commas - 1);
    commas[sizeof commas - 1] = '\0';
    rd = open_mem(commas, strlen(commas), 128);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_ERR_TOOBIG);
    close_reader(&rd);
}

static void empty_file_and_header_only(void **state)
{
    (void)state;
    reader_t rd = open_str("");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    assert_int_equal(cp_csv_records(rd.r), 0);
    close_reader(&rd);

    rd = open_str("vin,price\n");
    EXPECT(rd.r, "vin", "price");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);

    rd = open_str("vin,price"); /* header without a line end */
    EXPECT(rd.r, "vin", "price");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);
}

static void tokens_across_input_blocks(void **state)
{
    (void)state;
    /* One quoted field of 512 KiB with a doubled quote straddling the first
     * block boundary, then a CRLF straddling the second. */
    size_t total = 2 * BLOCK + 100;
    char *text = malloc(total + 1);
    assert_non_null(text);
    size_t o = 0;
    text[o++] = '"';
    for (; o < BLOCK - 1; o++)
        text[o] = o % 1000 == 0 ? '\n' : 'y';
    text[o++] = '"'; /* offset BLOCK - 1: last byte of the first block */
    text[o++] = '"'; /* offset BLOCK: first byte of the second */
    for (; o < 2 * BLOCK - 2; o++)
        text[o] = 'z';
    text[o++] = '"';  /* closes the field */
    text[o++] = '\r'; /* offset 2 * BLOCK - 1 */
    text[o++] = '\n'; /* offset 2 * BLOCK */
    memcpy(text + o, "next,1\n", 7);
    o += 7;
    text[o] = '\0';

    reader_t rd = open_mem(text, o, 1 << 20);
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_OK);
    assert_int_equal(cp_csv_nfields(rd.r), 1);
    size_t len;
    const char *f = cp_csv_field(rd.r, 0, &len);
    /* Everything between the outer quotes, with the doubled quote as one. */
    assert_int_equal(len, (BLOCK - 2) + 1 + (BLOCK - 3));
    assert_int_equal(f[BLOCK - 2], '"');
    assert_int_equal(f[BLOCK - 1], 'z');
    EXPECT(rd.r, "next", "1");
    assert_int_equal(cp_csv_read(rd.r), CP_CSV_END);
    close_reader(&rd);
    free(text);
}

static void reads_the_raw_generator_output(void **state)
{
    (void)state;
    enum { ROWS = 3000 };
    FILE *f = tmpfile();
    assert_non_null(f);
    char err[256];
    assert_int_equal(cp_data_generate(7, 0, ROWS, 1, f, NULL, err, sizeof err), CP_DATA_OK);
    rewind(f);
    cp_csv_reader_t *r;
    assert_int_equal(cp_csv_reader_new(f, "gen.csv", 0, &r), CP_CSV_OK);
    assert_int_equal(cp_csv_read(r), CP_CSV_OK);
    assert_int_equal(cp_csv_nfields(r), CP_DATA_NCOLUMNS);
    for (int i = 0; i < CP_DATA_NCOLUMNS; i++)
        assert_string_equal(cp_csv_field(r, (size_t)i, NULL), cp_data_column_name(i));
    size_t rows = 0, multiline = 0;
    uint64_t prev_line = cp_csv_record_line(r);
    int rc;
    while ((rc = cp_csv_read(r)) == CP_CSV_OK) {
        assert_int_equal(cp_csv_nfields(r), CP_DATA_NCOLUMNS);
        if (cp_csv_record_line(r) > prev_line + 1)
            multiline++;
        prev_line = cp_csv_record_line(r);
        rows++;
    }
    assert_int_equal(rc, CP_CSV_END);
    assert_int_equal(rows, ROWS);
    assert_true(multiline > 0); /* the generator does write quoted line breaks */
    cp_csv_reader_destroy(r);
    fclose(f);
}

static void bad_arguments(void **state)
{
    (void)state;
    cp_csv_reader_t *r = (cp_csv_reader_t *)1;
    assert_int_equal(cp_csv_reader_new(NULL, "x", 0, &r), CP_CSV_ERR_ARG);
    assert_null(r);
    assert_int_equal(cp_csv_read(NULL), CP_CSV_ERR_ARG);
    assert_null(cp_csv_field(NULL, 0, NULL));
    cp_csv_reader_destroy(NULL);
    assert_string_equal(cp_csv_strerror(CP_CSV_ERR_QUOTE), "unterminated quoted field");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_records),
        cmocka_unit_test(embedded_newlines_and_quotes),
        cmocka_unit_test(crlf_line_ends),
        cmocka_unit_test(empty_and_missing_fields),
        cmocka_unit_test(lenient_quotes),
        cmocka_unit_test(blank_lines_bom_and_nul),
        cmocka_unit_test(unterminated_quote_is_an_error_with_its_line),
        cmocka_unit_test(oversized_record_is_an_error),
        cmocka_unit_test(empty_file_and_header_only),
        cmocka_unit_test(tokens_across_input_blocks),
        cmocka_unit_test(reads_the_raw_generator_output),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
