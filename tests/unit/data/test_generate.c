/* Unit tests of the raw-format generator: determinism, header, and a strict
 * RFC 4180 parse of its output with per-column format and missing-value
 * checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carprice/buf.h"
#include "carprice/data.h"

/* The SPEC's column list, typed independently of the library's table. */
static const char *const expected_columns[] = {"vin",
                                               "back_legroom",
                                               "bed",
                                               "bed_height",
                                               "bed_length",
                                               "body_type",
                                               "cabin",
                                               "city",
                                               "city_fuel_economy",
                                               "combine_fuel_economy",
                                               "daysonmarket",
                                               "dealer_zip",
                                               "description",
                                               "engine_cylinders",
                                               "engine_displacement",
                                               "engine_type",
                                               "exterior_color",
                                               "fleet",
                                               "frame_damaged",
                                               "franchise_dealer",
                                               "franchise_make",
                                               "front_legroom",
                                               "fuel_tank_volume",
                                               "fuel_type",
                                               "has_accidents",
                                               "height",
                                               "highway_fuel_economy",
                                               "horsepower",
                                               "interior_color",
                                               "isCab",
                                               "is_certified",
                                               "is_cpo",
                                               "is_new",
                                               "is_oemcpo",
                                               "latitude",
                                               "length",
                                               "listed_date",
                                               "listing_color",
                                               "listing_id",
                                               "longitude",
                                               "main_picture_url",
                                               "major_options",
                                               "make_name",
                                               "maximum_seating",
                                               "mileage",
                                               "model_name",
                                               "owner_count",
                                               "power",
                                               "price",
                                               "salvage",
                                               "savings_amount",
                                               "seller_rating",
                                               "sp_id",
                                               "sp_name",
                                               "theft_title",
                                               "torque",
                                               "transmission",
                                               "transmission_display",
                                               "trimId",
                                               "trim_name",
                                               "vehicle_damage_category",
                                               "wheel_system",
                                               "wheel_system_display",
                                               "wheelbase",
                                               "width",
                                               "year"};

enum { NCOL = 66 };

/* Generates rows into a malloc'd string (caller frees). */
static char *generate(uint64_t seed, uint64_t first, uint64_t n, int header, size_t *len)
{
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);
    assert_non_null(f);
    cp_data_stats_t st;
    char err[256];
    assert_int_equal(cp_data_generate(seed, first, n, header, f, &st, err, sizeof err), 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(st.rows, n);
    assert_int_equal(st.bytes, size);
    *len = size;
    return data;
}

/* ---- a strict RFC 4180 reader ------------------------------------------ */

typedef struct {
    const char *p, *end;
    char *scratch; /* unescaped fields of the current record */
    size_t cap;
    char *field[NCOL + 8];
    int nfields;
    int had_newline_in_field;
    int had_quote_in_field;
} csv_t;

/* Reads one record. Returns 1 on success, 0 at end of input, -1 if malformed
 * (stray quote, unterminated quoted field, missing final newline). */
static int csv_next(csv_t *c)
{
    if (c->p >= c->end)
        return 0;
    size_t used = 0;
    c->nfields = 0;
    c->had_newline_in_field = 0;
    c->had_quote_in_field = 0;
    for (;;) {
        if (c->nfields >= NCOL + 8)
            return -1;
        char *out = c->scratch + used;
        c->field[c->nfields++] = out;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end)
                    return -1; /* unterminated */
                char ch = *c->p++;
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') {
                        c->p++;
                        c->had_quote_in_field = 1;
                    } else {
                        break;
                    }
                }
                if (ch == '\n')
                    c->had_newline_in_field = 1;
                if (used + 2 >= c->cap)
                    return -1;
                c->scratch[used++] = ch;
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n') {
                if (*c->p == '"' || *c->p == '\r')
                    return -1; /* must have been quoted */
                if (used + 2 >= c->cap)
                    return -1;
                c->scratch[used++] = *c->p++;
            }
        }
        c->scratch[used++] = '\0';
        (void)out;
        if (c->p >= c->end)
            return -1; /* every record ends with a newline */
        char sep = *c->p++;
        if (sep == '\n')
            return 1;
        if (sep != ',')
            return -1; /* junk after a closing quote */
    }
}

/* ---- small format matchers ----------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

/* "123" */
static int is_int(const char *s)
{
    return all_digits(s, strlen(s));
}

/* "123.0" */
static int is_int_dot0(const char *s)
{
    size_t n = strlen(s);
    return n > 2 && !strcmp(s + n - 2, ".0") && all_digits(s, n - 2);
}

/* "-?d+.d{1,max}" */
static int is_decimal(const char *s, int max_dec)
{
    if (*s == '-')
        s++;
    const char *dot = strchr(s, '.');
    if (!dot || !all_digits(s, (size_t)(dot - s)))
        return 0;
    size_t dec = strlen(dot + 1);
    return dec >= 1 && (int)dec <= max_dec && all_digits(dot + 1, dec);
}

/* "35.1 in" / "35 in" / "--" */
static int is_measure(const char *s, const char *unit)
{
    if (!strcmp(s, "--"))
        return 1;
    size_t n = strlen(s), u = strlen(unit);
    if (n <= u || strcmp(s + n - u, unit))
        return 0;
    char num[32];
    if (n - u >= sizeof num)
        return 0;
    memcpy(num, s, n - u);
    num[n - u] = '\0';
    return is_int(num) || is_decimal(num, 1);
}

/* "1,750" */
static int is_rpm(const char *s, size_t n)
{
    return n == 5 && isdigit((unsigned char)s[0]) && s[1] == ',' && all_digits(s + 2, 3);
}

/* "240 hp", "240 hp @ 5,800 RPM" (unit "hp"), same for "lb-ft". */
static int is_power(const char *s, const char *unit, int *has_rpm)
{
    const char *sp = strchr(s, ' ');
    if (!sp || !all_digits(s, (size_t)(sp - s)))
        return 0;
    size_t u = strlen(unit);
    if (strncmp(sp + 1, unit, u))
        return 0;
    const char *rest = sp + 1 + u;
    if (!*rest) {
        *has_rpm = 0;
        return 1;
    }
    if (strncmp(rest, " @ ", 3))
        return 0;
    rest += 3;
    size_t n = strlen(rest);
    *has_rpm = 1;
    return n > 4 && !strcmp(rest + n - 4, " RPM") && is_rpm(rest, n - 4);
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return 1;
    return 0;
}

static int vin_ok(const char *v)
{
    static const int weights[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    static const char *letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
    static const int values[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    if (strlen(v) != 17)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        char ch = v[i];
        int val;
        if (isdigit((unsigned char)ch)) {
            val = ch - '0';
        } else {
            const char *p = strchr(letters, ch);
            if (!p || !ch)
                return 0; /* I, O, Q and lower case are not allowed */
            val = values[p - letters];
        }
        sum += val * weights[i];
    }
    char check = sum % 11 == 10 ? 'X' : (char)('0' + sum % 11);
    return v[8] == check;
}

static int date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 2005 && y <= 2020 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int options_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || strncmp(s, "['", 2) || strcmp(s + n - 2, "']"))
        return 0;
    /* items are 'Name' separated by ", " with no quote inside */
    int quotes = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\'')
            quotes++;
    return quotes % 2 == 0 && !strstr(s, "''");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- tests ---------------------------------------------------------------- */

static void header_is_exact(void **state)
{
    (void)state;
    char expect[2048] = "";
    for (int i = 0; i < NCOL; i++) {
        if (i)
            strcat(expect, ",");
        strcat(expect, expected_columns[i]);
        assert_string_equal(cp_data_column_name(i), expected_columns[i]);
    }
    strcat(expect, "\n");
    assert_string_equal(cp_data_header_line(), expect);
    assert_null(cp_data_column_name(NCOL));
    assert_null(cp_data_column_name(-1));

    size_t len;
    char *only = generate(1, 0, 0, 1, &len);
    assert_int_equal(len, strlen(expect));
    assert_memory_equal(only, expect, len);
    free(only);
}

static void same_seed_same_bytes(void **state)
{
    (void)state;
    size_t la, lb, lc;
    char *a = generate(11, 0, 3000, 1, &la);
    char *b = generate(11, 0, 3000, 1, &lb);
    char *c = generate(12, 0, 3000, 1, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_true(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);
}

static void chunks_concatenate(void **state)
{
    (void)state;
    size_t lw, l1, l2;
    char *whole = generate(5, 1000, 1500, 0, &lw);
    char *p1 = generate(5, 1000, 611, 0, &l1);
    char *p2 = generate(5, 1611, 889, 0, &l2);
    assert_int_equal(lw, l1 + l2);
    assert_memory_equal(whole, p1, l1);
    assert_memory_equal(whole + l1, p2, l2);
    free(whole);
    free(p1);
    free(p2);

    /* One row at a time through the row API gives the same bytes. */
    cp_data_gen_t *g = NULL;
    assert_int_equal(cp_data_gen_new(5, &g), 0);
    cp_buf_t buf;
    cp_buf_init(&buf, 1 << 24);
    for (uint64_t r = 1000; r < 1100; r++)
        assert_int_equal(cp_data_gen_append_row(g, r, &buf), 0);
    char *ref = generate(5, 1000, 100, 0, &lw);
    assert_int_equal(buf.len, lw);
    assert_memory_equal(buf.data, ref, lw);
    free(ref);
    cp_buf_free(&buf);
    cp_data_gen_destroy(g);
}

static void errors_are_reported(void **state)
{
    (void)state;
    cp_data_gen_t *g = NULL;
    assert_int_equal(cp_data_gen_new(1, NULL), CP_DATA_ERR_ARG);
    assert_int_equal(cp_data_gen_new(1, &g), 0);
    cp_buf_t small;
    cp_buf_init(&small, 10);
    assert_int_equal(cp_data_gen_append_row(g, 0, &small), CP_DATA_ERR_NOMEM);
    assert_int_equal(small.len, 0);
    assert_int_equal(cp_data_gen_append_row(NULL, 0, &small), CP_DATA_ERR_ARG);
    assert_int_equal(cp_data_gen_append_row(g, 0, NULL), CP_DATA_ERR_ARG);
    cp_buf_free(&small);
    cp_data_gen_destroy(g);
    cp_data_gen_destroy(NULL);

    char err[256] = "";
    assert_int_equal(cp_data_generate(1, 0, 10, 1, NULL, NULL, err, sizeof err), CP_DATA_ERR_ARG);
    assert_int_equal(cp_data_generate(1, UINT64_MAX, 10, 1, stdout, NULL, err, sizeof err),
                     CP_DATA_ERR_ARG);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        cp_data_stats_t st;
        assert_int_equal(cp_data_generate(1, 0, 5000, 1, full, &st, err, sizeof err),
                         CP_DATA_ERR_IO);
        assert_non_null(strstr(err, "write failed"));
        fclose(full);
    }
    for (int e = 0; e <= 4; e++)
        assert_non_null(cp_data_strerror(e));
}

/* Column indices used below. */
static int col(const char *name)
{
    for (int i = 0; i < NCOL; i++)
        if (!strcmp(expected_columns[i], name))
            return i;
    fail_msg("no column %s", name);
    return -1;
}

#define NROWS 20000

static void parses_as_raw_layout(void **state)
{
    (void)state;
    size_t len;
    char *data = generate(99, 0, NROWS, 1, &len);
    csv_t c = {data, data + len, malloc(1 << 20), 1 << 20, {0}, 0, 0, 0};
    assert_non_null(c.scratch);

    assert_int_equal(csv_next(&c), 1);
    assert_int_equal(c.nfields, NCOL);
    for (int i = 0; i < NCOL; i++)
        assert_string_equal(c.field[i], expected_columns[i]);

    static const char *const bodies[] = {"SUV / Crossover",
                                         "Sedan",
                                         "Pickup Truck",
                                         "Hatchback",
                                         "Minivan",
                                         "Coupe",
                                         "Van",
                                         "Wagon",
                                         "Convertible",
                                         "",
                                         NULL};
    static const char *const fuels[] = {
        "Gasoline",  "Flex Fuel Vehicle",      "Hybrid",  "Diesel", "Electric",
        "Biodiesel", "Compressed Natural Gas", "Propane", "",       NULL};
    static const char *const colors[] = {"BLACK",   "WHITE",  "GRAY",  "SILVER", "BLUE", "RED",
                                         "UNKNOWN", "GREEN",  "BROWN", "ORANGE", "GOLD", "YELLOW",
                                         "TEAL",    "PURPLE", "PINK",  NULL};
    static const char *const bool3[] = {"True", "False", "", NULL};
    static const char *const bool2[] = {"True", "False", NULL};
    static const char *const true_or_empty[] = {"True", "", NULL};
    static const char *const beds[] = {"Short Bed", "Regular Bed", "Long Bed", "", NULL};
    static const char *const cabins[] = {"Crew Cab", "Extended Cab", "Regular Cab", "", NULL};
    static const char *const transmissions[] = {"A", "M", "CVT", "Dual Clutch", "", NULL};
    static const char *const drives[] = {"FWD", "AWD", "4WD", "RWD", "4X2", "", NULL};
    static const char *const drive_names[] = {
        "Front-Wheel Drive", "All-Wheel Drive", "Four-Wheel Drive", "Rear-Wheel Drive", "4X2", ""};
    const char *history[] = {"fleet", "frame_damaged", "has_accidents",
                             "isCab", "salvage",       "theft_title"};
    const char *inches[] = {"back_legroom", "bed_height", "bed_length", "front_legroom",
                            "height",       "length",     "wheelbase",  "width"};
    const char *int_dot0[] = {
        "city_fuel_economy", "highway_fuel_economy", "horsepower", "engine_displacement",
        "mileage",           "owner_count",          "sp_id"};

    long empty[NCOL] = {0};
    long records = 0, multiline = 0, quoted_quotes = 0, zip_leading_zero = 0;
    long torque_no_rpm = 0, power_rpm = 0, dashes = 0;
    uint64_t *ids = calloc(NROWS, sizeof *ids);
    assert_non_null(ids);
    int rc;
    while ((rc = csv_next(&c)) == 1) {
        char **f = c.field;
        assert_int_equal(c.nfields, NCOL);
        records++;
        multiline += c.had_newline_in_field;
        quoted_quotes += c.had_quote_in_field;
        for (int i = 0; i < NCOL; i++)
            empty[i] += f[i][0] == '\0';

        assert_true(vin_ok(f[col("vin")]));
        for (size_t i = 0; i < sizeof inches / sizeof inches[0]; i++) {
            const char *v = f[col(inches[i])];
            if (!strcmp(v, "--"))
                dashes++;
            if (*v && !is_measure(v, " in"))
                fail_msg("%s: '%s'", inches[i], v);
        }
        const char *tank = f[col("fuel_tank_volume")];
        assert_true(!*tank || is_measure(tank, " gal"));
        const char *seats = f[col("maximum_seating")];
        assert_true(!*seats || !strcmp(seats, "--") ||
                    (strlen(seats) > 6 && !strcmp(seats + strlen(seats) - 6, " seats")));
        assert_true(one_of(f[col("bed")], beds));
        assert_true(one_of(f[col("cabin")], cabins));
        assert_true(one_of(f[col("body_type")], bodies));
        assert_true(one_of(f[col("fuel_type")], fuels));
        assert_true(one_of(f[col("listing_color")], colors));
        assert_true(one_of(f[col("transmission")], transmissions));
        assert_true(one_of(f[col("is_new")], bool2));
        assert_true(one_of(f[col("franchise_dealer")], bool2));
        assert_true(one_of(f[col("is_cpo")], true_or_empty));
        assert_true(one_of(f[col("is_oemcpo")], true_or_empty));
        for (size_t i = 0; i < sizeof int_dot0 / sizeof int_dot0[0]; i++) {
            const char *v = f[col(int_dot0[i])];
            if (*v && !is_int_dot0(v))
                fail_msg("%s: '%s'", int_dot0[i], v);
        }
        const char *disp = f[col("engine_displacement")];
        assert_true(!*disp || !strcmp(disp + strlen(disp) - 4, "00.0"));
        assert_true(is_int_dot0(f[col("price")]));
        assert_true(is_int(f[col("daysonmarket")]));
        assert_true(is_int(f[col("savings_amount")]));
        assert_true(is_int(f[col("year")]));
        int year = atoi(f[col("year")]);
        assert_true(year >= 1985 && year <= 2021);
        const char *zip = f[col("dealer_zip")];
        assert_true(strlen(zip) == 5 && is_int(zip));
        zip_leading_zero += zip[0] == '0';
        assert_true(is_decimal(f[col("latitude")], 4));
        assert_true(is_decimal(f[col("longitude")], 4));
        assert_true(date_ok(f[col("listed_date")]));
        const char *id = f[col("listing_id")];
        assert_true(strlen(id) == 9 && is_int(id));
        ids[records - 1] = strtoull(id, NULL, 10);
        const char *url = f[col("main_picture_url")];
        assert_true(!*url || (!strncmp(url, "https://static.cargurus.com/images/forsale/", 43) &&
                              !strcmp(url + strlen(url) - 5, ".jpeg")));
        const char *opts = f[col("major_options")];
        if (*opts && !options_ok(opts))
            fail_msg("major_options: '%s'", opts);
        assert_true(*f[col("make_name")] && *f[col("model_name")] && *f[col("sp_name")] &&
                    *f[col("city")] && *f[col("exterior_color")]);
        int has_rpm;
        const char *power = f[col("power")];
        if (*power) {
            if (!is_power(power, "hp", &has_rpm))
                fail_msg("power: '%s'", power);
            power_rpm += has_rpm;
        }
        const char *torque = f[col("torque")];
        if (*torque) {
            if (!is_power(torque, "lb-ft", &has_rpm))
                fail_msg("torque: '%s'", torque);
            torque_no_rpm += !has_rpm;
        }
        const char *rating = f[col("seller_rating")];
        if (*rating) {
            assert_true(is_decimal(rating, 8));
            double r = atof(rating);
            assert_true(r >= 1.0 && r <= 5.0);
        }
        const char *trim_id = f[col("trimId")];
        assert_true(!*trim_id ||
                    (strlen(trim_id) == 6 && trim_id[0] == 't' && is_int(trim_id + 1)));
        assert_int_equal(!*trim_id, !*f[col("trim_name")]);
        assert_string_equal(f[col("engine_cylinders")], f[col("engine_type")]);
        /* Wheel system code and display agree. */
        const char *ws = f[col("wheel_system")];
        assert_true(one_of(ws, drives));
        for (int i = 0; drives[i]; i++)
            if (!strcmp(ws, drives[i]))
                assert_string_equal(f[col("wheel_system_display")], drive_names[i]);
        /* The vehicle-history columns are present or absent together. */
        int hist_empty = !*f[col(history[0])];
        for (size_t i = 0; i < sizeof history / sizeof history[0]; i++) {
            assert_true(one_of(f[col(history[i])], bool3));
            assert_int_equal(!*f[col(history[i])], hist_empty);
        }
        if (!strcmp(f[col("is_new")], "True"))
            assert_true(hist_empty && !*f[col("owner_count")]);
        assert_int_equal(!*f[col("franchise_make")], !strcmp(f[col("franchise_dealer")], "False"));
    }
    assert_int_equal(rc, 0);
    assert_int_equal(records, NROWS);

    /* Entirely empty columns, as in the raw file. */
    assert_int_equal(empty[col("combine_fuel_economy")], NROWS);
    assert_int_equal(empty[col("is_certified")], NROWS);
    assert_int_equal(empty[col("vehicle_damage_category")], NROWS);
    /* Never empty. */
    const char *full_cols[] = {
        "vin",       "city",      "daysonmarket", "dealer_zip",    "franchise_dealer",
        "is_new",    "latitude",  "listed_date",  "listing_color", "listing_id",
        "longitude", "make_name", "model_name",   "price",         "savings_amount",
        "sp_name",   "year"};
    for (size_t i = 0; i < sizeof full_cols / sizeof full_cols[0]; i++)
        assert_int_equal(empty[col(full_cols[i])], 0);

    /* Missing-value shares in plausible bands around the real file's. */
    struct {
        const char *name;
        double lo, hi;
    } bands[] = {
        {"bed", 0.97, 1.0},
        {"cabin", 0.95, 1.0},
        {"back_legroom", 0.03, 0.08},
        {"bed_length", 0.70, 0.92},
        {"body_type", 0.0, 0.015},
        {"city_fuel_economy", 0.12, 0.22},
        {"description", 0.015, 0.04},
        {"engine_type", 0.02, 0.05},
        {"fleet", 0.42, 0.54},
        {"franchise_make", 0.15, 0.24},
        {"fuel_type", 0.015, 0.04},
        {"horsepower", 0.04, 0.08},
        {"is_cpo", 0.90, 0.97},
        {"is_oemcpo", 0.92, 0.98},
        {"main_picture_url", 0.10, 0.15},
        {"major_options", 0.05, 0.09},
        {"mileage", 0.03, 0.07},
        {"owner_count", 0.45, 0.56},
        {"power", 0.12, 0.20},
        {"torque", 0.13, 0.21},
        {"seller_rating", 0.005, 0.025},
        {"transmission", 0.01, 0.035},
        {"trim_name", 0.025, 0.055},
        {"wheel_system", 0.035, 0.065},
    };
    for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++) {
        double share = (double)empty[col(bands[i].name)] / NROWS;
        if (share < bands[i].lo || share > bands[i].hi)
            fail_msg("%s empty share %.4f outside [%.3f, %.3f]", bands[i].name, share, bands[i].lo,
                     bands[i].hi);
    }

    /* Quirks that must be present. */
    assert_true(multiline >= 50);       /* quoted line breaks in descriptions */
    assert_true(quoted_quotes >= 1000); /* embedded, doubled quotes */
    assert_true(zip_leading_zero >= 100);
    assert_true(torque_no_rpm >= 100);
    assert_true(power_rpm >= NROWS / 2);
    assert_true(dashes >= 100);

    /* More physical lines than records, as a naive line reader would see. */
    long lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    assert_true(lines > NROWS + 1);

    qsort(ids, NROWS, sizeof *ids, cmp_u64);
    for (size_t i = 1; i < NROWS; i++)
        assert_true(ids[i] != ids[i - 1]);

    free(ids);
    free(c.scratch);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_is_exact),      cmocka_unit_test(same_seed_same_bytes),
        cmocka_unit_test(chunks_concatenate),   cmocka_unit_test(errors_are_reported),
        cmocka_unit_test(parses_as_raw_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
