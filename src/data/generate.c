/* Synthetic listings in the raw used_cars_data.csv layout. See docs/data.md
 * for the column formats and the price model implemented in price_of(). */
#include "carprice/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "rng.h"

/* ------------------------------------------------------------------------ */
/* Columns                                                                   */

static const char *const column_names[CP_DATA_NCOLUMNS] = {
    "vin",
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
    "year",
};

static const char header_line[] =
    "vin,back_legroom,bed,bed_height,bed_length,body_type,cabin,city,city_fuel_economy,"
    "combine_fuel_economy,daysonmarket,dealer_zip,description,engine_cylinders,"
    "engine_displacement,engine_type,exterior_color,fleet,frame_damaged,franchise_dealer,"
    "franchise_make,front_legroom,fuel_tank_volume,fuel_type,has_accidents,height,"
    "highway_fuel_economy,horsepower,interior_color,isCab,is_certified,is_cpo,is_new,is_oemcpo,"
    "latitude,length,listed_date,listing_color,listing_id,longitude,main_picture_url,"
    "major_options,make_name,maximum_seating,mileage,model_name,owner_count,power,price,salvage,"
    "savings_amount,seller_rating,sp_id,sp_name,theft_title,torque,transmission,"
    "transmission_display,trimId,trim_name,vehicle_damage_category,wheel_system,"
    "wheel_system_display,wheelbase,width,year\n";

const char *cp_data_column_name(int i)
{
    if (i < 0 || i >= CP_DATA_NCOLUMNS)
        return NULL;
    return column_names[i];
}

const char *cp_data_header_line(void)
{
    return header_line;
}

const char *cp_data_strerror(int err)
{
    switch (err) {
    case CP_DATA_OK:
        return "success";
    case CP_DATA_ERR_ARG:
        return "invalid argument";
    case CP_DATA_ERR_NOMEM:
        return "out of memory";
    case CP_DATA_ERR_IO:
        return "write failed";
    default:
        return "unknown error";
    }
}

/* ------------------------------------------------------------------------ */
/* Model constants                                                           */

/* Listings were scraped around this date; listed_date = scrape - days on market. */
#define SCRAPE_YEAR        2020
#define SCRAPE_MONTH       9
#define SCRAPE_DAY         5
#define CURRENT_MODEL_YEAR 2020

#define P_NEW 0.46
/* Multiplicative log-normal noise of a listing's price around the model. */
#define SIGMA_NEW  0.08
#define SIGMA_USED 0.17
#define P_OUTLIER  0.004 /* listings priced far off (sigma 0.5) */
#define ROW_CAP    (64 * 1024)
#define DESC_CAP   (16 * 1024)

/* Longest strings we build into fixed arrays. */
#define SMALL 160

/* ------------------------------------------------------------------------ */
/* Bounded writer                                                            */

typedef struct {
    char *p;
    char *end;
    int overflow; /* set once anything did not fit; content is then invalid */
} wr_t;

static void wr_mem(wr_t *w, const void *s, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void wr_str(wr_t *w, const char *s)
{
    wr_mem(w, s, strlen(s));
}

static void wr_ch(wr_t *w, char c)
{
    if (w->p >= w->end) {
        w->overflow = 1;
        return;
    }
    *w->p++ = c;
}

static void wr_uint(wr_t *w, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if ((size_t)(w->end - w->p) < (size_t)n) {
        w->overflow = 1;
        return;
    }
    while (n)
        *w->p++ = tmp[--n];
}

/* Zero-padded to `width` digits (dates, zips). */
static void wr_uint_pad(wr_t *w, unsigned v, int width)
{
    char tmp[16];
    for (int i = width - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    wr_mem(w, tmp, (size_t)width);
}

/* 5800 -> "5,800" */
static void wr_commas(wr_t *w, unsigned v)
{
    if (v >= 1000) {
        wr_uint(w, v / 1000);
        wr_ch(w, ',');
        wr_uint_pad(w, v % 1000, 3);
    } else {
        wr_uint(w, v);
    }
}

/* Python's str() of a float that holds a whole number: "123.0". */
static void wr_int_dot0(wr_t *w, long long v)
{
    if (v < 0) {
        wr_ch(w, '-');
        v = -v;
    }
    wr_uint(w, (uint64_t)v);
    wr_mem(w, ".0", 2);
}

/* v rounded to `dec` decimals, trailing zeros removed; keep_dot0 keeps one
 * zero after the point like Python's float repr ("40.0"), otherwise a whole
 * number is printed bare ("35 in" as the site shows it). */
static void wr_fixed(wr_t *w, double v, int dec, int keep_dot0)
{
    static const long long pow10[] = {1, 10, 100, 1000, 10000, 100000};
    long long scale = pow10[dec];
    long long n = llround(v * (double)scale);
    if (n < 0) {
        wr_ch(w, '-');
        n = -n;
    }
    wr_uint(w, (uint64_t)(n / scale));
    long long frac = n % scale;
    int digits = dec;
    while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (digits == 0) {
        if (keep_dot0)
            wr_mem(w, ".0", 2);
        return;
    }
    wr_ch(w, '.');
    wr_uint_pad(w, (unsigned)frac, digits);
}

/* Shortest decimal that reads back as the same float32, as the site's
 * ratings appear in the file ("4.4444447", "2.8", "5.0"). */
static void wr_float32(wr_t *w, float f)
{
    /* Ratings lie in [1, 5]: one integer digit, so `dec` decimals give dec+1
     * significant digits; 8 decimals always round-trip a float32. */
    for (int dec = 0; dec <= 8; dec++) {
        double scale = pow(10.0, dec);
        double n = nearbyint((double)f * scale);
        if ((float)(n / scale) == f || dec == 8) {
            uint64_t iv = (uint64_t)n;
            uint64_t div = (uint64_t)scale;
            wr_uint(w, iv / div);
            wr_ch(w, '.');
            if (dec == 0)
                wr_ch(w, '0');
            else
                wr_uint_pad(w, (unsigned)(iv % div), dec);
            return;
        }
    }
}

/* A CSV field quoted only when needed (delimiter, quote or line break inside),
 * embedded quotes doubled: the csv module's QUOTE_MINIMAL that wrote the file. */
static void wr_field(wr_t *w, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == ',' || c == '"' || c == '\n' || c == '\r')
            break;
    }
    if (i == n) {
        wr_mem(w, s, n);
        return;
    }
    wr_ch(w, '"');
    const char *run = s;
    for (const char *q = s + i; q < s + n; q++) {
        if (*q == '"') {
            wr_mem(w, run, (size_t)(q - run + 1));
            run = q; /* the quote is written again: doubled */
        }
    }
    wr_mem(w, run, (size_t)(s + n - run));
    wr_ch(w, '"');
}

static void wr_fstr(wr_t *w, const char *s)
{
    wr_field(w, s, strlen(s));
}

/* Concatenates n strings into dst (truncating to cap - 1 bytes). */
static void sjoin(char *dst, size_t cap, int n, const char *const *parts)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        if (k > cap - 1 - len)
            k = cap - 1 - len;
        memcpy(dst + len, parts[i], k);
        len += k;
    }
    dst[len] = '\0';
}

#define SJOIN(dst, ...)                                                                            \
    sjoin(dst, sizeof(dst), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),   \
          (const char *[]){__VA_ARGS__})

/* Decimal digits of v into dst (at least 21 bytes). */
static void utoa(char *dst, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                     */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static void wr_date(wr_t *w, long days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    wr_uint_pad(w, (unsigned)y, 4);
    wr_ch(w, '-');
    wr_uint_pad(w, (unsigned)m, 2);
    wr_ch(w, '-');
    wr_uint_pad(w, (unsigned)d, 2);
}

/* ------------------------------------------------------------------------ */
/* Generator state: per-seed lookup tables, built once                       */

typedef struct {
    double length, wheelbase, width, height, front_leg, back_leg, tank;
} dims_t;

/* Per-model facts the row generator consults, derived once from the
 * catalog's names so the hot path compares no strings. */
typedef struct {
    double p_cvt, p_manual, p_dct;
    uint8_t heavy_duty; /* "2500"/"250" trucks: diesel option */
    uint8_t sprinter;   /* diesel option */
    uint8_t flex_ok;    /* flex-fuel option */
    uint8_t hybrid_ok;  /* hybrid option */
    uint8_t cummins;    /* RAM heavy duty: I6 diesel */
    uint8_t lux6;       /* inline six instead of V6 */
    uint8_t subaru, flat6, w12;
    uint8_t big_block; /* V6/V8 rather than a turbo four */
} traits_t;

enum { OPT_PLAIN, OPT_THIRD_ROW, OPT_TOW, OPT_MODERN, OPT_CAMERA };

struct cp_data_gen_s {
    uint64_t seed;
    double *model_cdf;   /* cumulative model weights */
    double *make_cdf;    /* cumulative make weights (dealer franchises) */
    double *make_weight; /* listing share of each make, percent */
    double *city_cdf;
    double *city_factor; /* regional log-price adjustment */
    double *color_cdf;
    dims_t *model_dims;
    char (*model_slug)[64];  /* "ford_f-150" for picture urls */
    char *desc;              /* description scratch */
    char *row;               /* one record, before it is appended */
    traits_t *traits;        /* per model */
    uint8_t *opt_kind;       /* per option, OPT_* */
    double *color_adj;       /* per colour group, log-price adjustment */
    const char **make_group; /* dealer name for multi-brand franchises, per make */
};

static double state_factor(const char *st)
{
    static const struct {
        const char *st;
        double f;
    } t[] = {
        {"PR", 0.08},  {"HI", 0.06},  {"AK", 0.06},  {"CA", 0.04},  {"WA", 0.03},  {"OR", 0.02},
        {"NV", 0.02},  {"CO", 0.02},  {"NY", 0.02},  {"NJ", 0.02},  {"MA", 0.02},  {"UT", 0.01},
        {"CT", 0.01},  {"VA", 0.01},  {"MD", 0.01},  {"NM", -0.01}, {"TX", -0.01}, {"TN", -0.01},
        {"GA", -0.01}, {"NC", -0.01}, {"PA", -0.01}, {"ME", -0.01}, {"NE", -0.02}, {"MO", -0.02},
        {"WI", -0.02}, {"IN", -0.02}, {"KY", -0.02}, {"AL", -0.02}, {"OK", -0.03}, {"MI", -0.03},
        {"OH", -0.03},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].st, st) == 0)
            return t[i].f;
    return 0.0;
}

/* Typical dimensions by body type and size class (inches, gallons). A zero
 * back legroom is printed as the site's "--" placeholder. */
static dims_t base_dims(int body, int size)
{
    static const dims_t suv[5] = {{168, 101, 70, 63, 41.0, 35.5, 12.5},
                                  {180, 105, 73, 66, 41.0, 37.5, 14.5},
                                  {188, 111, 75, 68, 41.0, 38.5, 17.5},
                                  {198, 115, 78, 70, 41.0, 38.8, 19.5},
                                  {210, 121, 80, 76, 41.1, 39.0, 24.0}};
    static const dims_t sedan[5] = {{175, 102, 67, 58, 42.0, 34.0, 11.5},
                                    {182, 106, 71, 57, 42.3, 36.0, 13.2},
                                    {192, 111, 73, 57, 42.3, 38.0, 16.0},
                                    {198, 116, 75, 58, 42.0, 39.5, 18.5},
                                    {206, 124, 76, 59, 41.5, 41.0, 21.0}};
    static const dims_t pickup[5] = {{212, 128, 74, 71, 41.2, 35.2, 21.0},
                                     {212, 128, 74, 71, 41.2, 35.2, 21.0},
                                     {212, 128, 74, 71, 41.2, 35.2, 21.0},
                                     {220, 136, 78, 74, 41.0, 36.0, 22.0},
                                     {232, 145, 80, 77, 43.9, 43.6, 26.0}};
    static const dims_t hatch[2] = {{160, 99, 67, 59, 41.5, 33.8, 10.5},
                                    {173, 104, 70, 58, 42.2, 35.5, 12.5}};
    static const dims_t minivan = {203, 121, 79, 70, 40.9, 39.6, 19.5};
    static const dims_t coupe[4] = {{170, 98, 72, 50, 42.5, 29.0, 13.0},
                                    {177, 96, 72, 51, 42.8, 24.0, 16.9},
                                    {188, 107, 75, 54, 44.5, 30.0, 16.0},
                                    {198, 116, 76, 57, 42.0, 34.0, 18.5}};
    static const dims_t van = {236, 148, 80, 100, 41.0, 0, 25.0};
    static const dims_t wagon = {190, 108, 73, 66, 42.8, 39.5, 18.5};
    static const dims_t convertible = {154, 91, 68, 49, 43.1, 0, 11.9};
    if (size > 4)
        size = 4;
    switch (body) {
    case BODY_SUV:
        return suv[size];
    case BODY_SEDAN:
        return sedan[size];
    case BODY_PICKUP:
        return pickup[size];
    case BODY_HATCH:
        return hatch[size > 1 ? 1 : size];
    case BODY_MINIVAN:
        return minivan;
    case BODY_COUPE:
        return coupe[size > 3 ? 3 : size];
    case BODY_VAN:
        return van;
    case BODY_WAGON:
        return wagon;
    default:
        return convertible;
    }
}

static void slugify(char *dst, size_t cap, const char *make, const char *model)
{
    size_t n = 0;
    const char *parts[2] = {make, model};
    for (int p = 0; p < 2; p++) {
        if (p == 1 && n + 1 < cap)
            dst[n++] = '_';
        for (const char *s = parts[p]; *s && n + 1 < cap; s++) {
            char c = *s;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            else if (c == ' ')
                c = '_';
            dst[n++] = c;
        }
    }
    dst[n] = '\0';
}

static double unit_hash(uint64_t a, uint64_t b)
{
    return (double)(cp_hash2(a, b) >> 11) * 0x1.0p-53;
}

static int make_is(int make, const char *name)
{
    return strcmp(cp_makes[make].name, name) == 0;
}

static int has_word(const char *s, const char *w)
{
    return strstr(s, w) != NULL;
}

static traits_t model_traits(const cp_model_t *m)
{
    traits_t t;
    memset(&t, 0, sizeof t);
    int mk = m->make;
    t.p_manual = 0.01;
    if ((make_is(mk, "Nissan") || make_is(mk, "Subaru") || make_is(mk, "Mitsubishi")) &&
        m->body != BODY_PICKUP && m->hp < 300)
        t.p_cvt = 0.85;
    else if ((make_is(mk, "Honda") || make_is(mk, "Toyota") || make_is(mk, "Hyundai") ||
              make_is(mk, "Kia")) &&
             m->size <= 1 && m->body != BODY_PICKUP)
        t.p_cvt = 0.6;
    static const char *const sporty[] = {"Mustang", "Camaro", "Miata", "WRX",       "Wrangler",
                                         "Civic",   "Golf",   "911",   "Challenger"};
    for (size_t i = 0; i < sizeof sporty / sizeof sporty[0]; i++)
        if (has_word(m->name, sporty[i]))
            t.p_manual = 0.15;
    if (make_is(mk, "Volkswagen") || make_is(mk, "Porsche") || has_word(m->name, "Focus") ||
        has_word(m->name, "Fiesta"))
        t.p_dct = 0.3;
    t.heavy_duty = has_word(m->name, "2500") || has_word(m->name, "250");
    t.sprinter = !strcmp(m->name, "Sprinter");
    int truck_make = make_is(mk, "Ford") || make_is(mk, "Chevrolet") || make_is(mk, "GMC") ||
                     make_is(mk, "RAM") || make_is(mk, "Nissan") || make_is(mk, "Toyota");
    t.flex_ok = truck_make && (m->body == BODY_PICKUP || m->body == BODY_VAN ||
                               (m->body == BODY_SUV && m->size >= 3));
    t.hybrid_ok = m->size <= 3 && (m->body == BODY_SEDAN || m->body == BODY_SUV) &&
                  (make_is(mk, "Toyota") || make_is(mk, "Honda") || make_is(mk, "Hyundai") ||
                   make_is(mk, "Kia") || make_is(mk, "Lexus") || has_word(m->name, "Escape") ||
                   has_word(m->name, "Fusion"));
    t.cummins = make_is(mk, "RAM");
    t.lux6 = make_is(mk, "BMW") || make_is(mk, "Mercedes-Benz");
    t.subaru = make_is(mk, "Subaru");
    t.flat6 = make_is(mk, "Porsche") && m->body == BODY_COUPE;
    t.w12 = make_is(mk, "Bentley");
    t.big_block = m->body == BODY_PICKUP || m->body == BODY_VAN || m->body == BODY_MINIVAN ||
                  (m->body == BODY_SUV && m->size >= 3);
    return t;
}

int cp_data_gen_new(uint64_t seed, cp_data_gen_t **out)
{
    if (!out)
        return CP_DATA_ERR_ARG;
    *out = NULL;
    cp_data_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return CP_DATA_ERR_NOMEM;
    g->seed = seed;
    g->model_cdf = calloc(cp_nmodels, sizeof *g->model_cdf);
    g->make_cdf = calloc(cp_nmakes, sizeof *g->make_cdf);
    g->make_weight = calloc(cp_nmakes, sizeof *g->make_weight);
    g->city_cdf = calloc(cp_ncities, sizeof *g->city_cdf);
    g->city_factor = calloc(cp_ncities, sizeof *g->city_factor);
    g->color_cdf = calloc(cp_ncolors, sizeof *g->color_cdf);
    g->model_dims = calloc(cp_nmodels, sizeof *g->model_dims);
    g->model_slug = calloc(cp_nmodels, sizeof *g->model_slug);
    g->desc = malloc(DESC_CAP);
    g->row = malloc(ROW_CAP);
    g->traits = calloc(cp_nmodels, sizeof *g->traits);
    g->opt_kind = calloc(cp_noptions, 1);
    g->color_adj = calloc(cp_ncolors, sizeof *g->color_adj);
    g->make_group = calloc(cp_nmakes, sizeof *g->make_group);
    if (!g->model_cdf || !g->make_cdf || !g->make_weight || !g->city_cdf || !g->city_factor ||
        !g->color_cdf || !g->model_dims || !g->model_slug || !g->desc || !g->row || !g->traits ||
        !g->opt_kind || !g->color_adj || !g->make_group) {
        cp_data_gen_destroy(g);
        return CP_DATA_ERR_NOMEM;
    }

    double acc = 0;
    for (size_t i = 0; i < cp_nmodels; i++) {
        const cp_model_t *m = &cp_models[i];
        acc += m->weight;
        g->model_cdf[i] = acc;
        g->make_weight[m->make] += m->weight;
        slugify(g->model_slug[i], sizeof g->model_slug[i], cp_makes[m->make].name, m->name);
        /* Each model gets its own fixed dimensions: the class average moved a
         * few percent, the same for every seed (they are vehicle facts). */
        dims_t d = base_dims(m->body, m->size);
        double *f[] = {&d.length,    &d.wheelbase, &d.width, &d.height,
                       &d.front_leg, &d.back_leg,  &d.tank};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
            *f[k] *= 1.0 + 0.06 * (unit_hash(i, k) - 0.5);
        if (m->seats <= 2)
            d.back_leg = 0;
        g->model_dims[i] = d;
        g->traits[i] = model_traits(m);
    }
    for (size_t i = 0; i < cp_noptions; i++) {
        const char *n = cp_options[i].name;
        if (!strcmp(n, "Third Row Seating"))
            g->opt_kind[i] = OPT_THIRD_ROW;
        else if (!strcmp(n, "Tow Package"))
            g->opt_kind[i] = OPT_TOW;
        else if (!strcmp(n, "CarPlay") || !strcmp(n, "Android Auto") ||
                 !strcmp(n, "Blind Spot Monitoring") || !strcmp(n, "Adaptive Cruise Control"))
            g->opt_kind[i] = OPT_MODERN;
        else if (!strcmp(n, "Backup Camera"))
            g->opt_kind[i] = OPT_CAMERA;
    }
    for (size_t i = 0; i < cp_nmakes; i++) {
        if (make_is((int)i, "Jeep") || make_is((int)i, "Dodge") || make_is((int)i, "RAM") ||
            make_is((int)i, "Chrysler"))
            g->make_group[i] = "Chrysler Dodge Jeep RAM";
        else if (make_is((int)i, "Buick") || make_is((int)i, "GMC"))
            g->make_group[i] = "Buick GMC";
    }
    acc = 0;
    for (size_t i = 0; i < cp_nmakes; i++) {
        acc += g->make_weight[i];
        g->make_cdf[i] = acc;
    }
    acc = 0;
    for (size_t i = 0; i < cp_ncities; i++) {
        acc += cp_cities[i].weight;
        g->city_cdf[i] = acc;
        g->city_factor[i] = state_factor(cp_cities[i].state);
    }
    acc = 0;
    for (size_t i = 0; i < cp_ncolors; i++) {
        acc += cp_colors[i].weight;
        g->color_cdf[i] = acc;
        const char *grp = cp_colors[i].group;
        if (!strcmp(grp, "RED") || !strcmp(grp, "BLUE"))
            g->color_adj[i] = -0.01;
        else if (strcmp(grp, "BLACK") && strcmp(grp, "WHITE") && strcmp(grp, "GRAY") &&
                 strcmp(grp, "SILVER") && strcmp(grp, "UNKNOWN"))
            g->color_adj[i] = -0.03;
    }
    *out = g;
    return CP_DATA_OK;
}

void cp_data_gen_destroy(cp_data_gen_t *g)
{
    if (!g)
        return;
    free(g->model_cdf);
    free(g->make_cdf);
    free(g->make_weight);
    free(g->city_cdf);
    free(g->city_factor);
    free(g->color_cdf);
    free(g->model_dims);
    free(g->model_slug);
    free(g->desc);
    free(g->row);
    free(g->traits);
    free(g->opt_kind);
    free(g->color_adj);
    free(g->make_group);
    free(g);
}

/* Index of the first cdf entry above u * total. */
static size_t pick_cdf(const double *cdf, size_t n, double u)
{
    double x = u * cdf[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ------------------------------------------------------------------------ */
/* One listing                                                               */

typedef struct {
    /* dealer */
    int franchise;
    int franchise_make;
    int city;
    double lat, lon;
    unsigned zip;
    char name[SMALL];
    uint64_t sp_id;
    float rating;
} dealer_t;

typedef struct {
    int model, make, body;
    int is_new, year, age;
    int trim, ntrims;
    int drive, drive_optional;
    int fuel;
    int hp, hp_upgrade;
    const char *cyl; /* engine_cylinders / engine_type, NULL for none */
    int disp;        /* cc, 0 for none */
    int power_rpm, torque, torque_rpm;
    int mpg_city, mpg_hwy;
    int trans; /* 0 A, 1 M, 2 CVT, 3 Dual Clutch */
    const char *trans_display;
    int cabin; /* pickups: 0 crew, 1 extended, 2 regular */
    double bed_len;
    long mileage;
    int owners;
    int accidents, frame, salvage, theft, fleet, iscab, cpo, oemcpo, history;
    int color, color_name;
    int interior;
    int options[32], noptions;
    int dom;
    long listed;
    dealer_t dealer;
    double market; /* expected price without the listing's own noise */
    long long price;
    long long savings;
} car_t;

static const char *const transmission_codes[] = {"A", "M", "CVT", "Dual Clutch"};

/* Engine layout and displacement from power, body and fuel. */
static void choose_engine(const cp_data_gen_t *g, car_t *c, cp_rng_t *r)
{
    const cp_model_t *m = &cp_models[c->model];
    const traits_t *t = &g->traits[c->model];
    int hp = c->hp;
    c->cyl = NULL;
    c->disp = 0;
    if (c->fuel == FUEL_ELECTRIC)
        return;
    if (c->fuel == FUEL_DIESEL || c->fuel == FUEL_BIODIESEL) {
        if (m->body == BODY_PICKUP && m->size >= 4) {
            c->cyl = t->cummins ? "I6 Diesel" : "V8 Diesel";
            c->disp = t->cummins ? 6700 : 6600;
        } else if (m->body == BODY_VAN || hp > 230) {
            c->cyl = "V6 Diesel";
            c->disp = 3000;
        } else {
            c->cyl = "I4 Diesel";
            c->disp = 2000;
        }
        return;
    }
    int big_block = t->big_block;
    const char *base;
    if (t->subaru) {
        base = hp < 300 ? "H4" : "H6";
        c->disp = hp < 200 ? 2000 + 500 * cp_rng_range(r, 0, 1) : 2400 + 1200 * (hp >= 300);
    } else if (t->flat6) {
        base = "H6";
        c->disp = 3000;
    } else if (t->w12) {
        base = "W12";
        c->disp = 6000;
    } else if (hp < 110) {
        base = "I3";
        c->disp = 1000 + 200 * cp_rng_range(r, 0, 1);
    } else if (hp < 205) {
        base = "I4";
        int d = (1400 + (hp - 100) * 10 + 50) / 100 * 100;
        c->disp = d > 2700 ? 2700 : d;
    } else if (hp < 280) {
        if (!big_block && cp_rng_chance(r, 0.6)) {
            base = "I4";
            c->disp = 2000;
        } else {
            base = "V6";
            c->disp = 3000 + 100 * cp_rng_range(r, 0, 6);
        }
    } else if (hp < 345) {
        base = t->lux6 && cp_rng_chance(r, 0.5) ? "I6" : "V6";
        c->disp = base[0] == 'I' ? 3000 : 3300 + 100 * cp_rng_range(r, 0, 4);
    } else if (hp < 470) {
        if (cp_makes[c->make].luxury && !big_block && cp_rng_chance(r, 0.4)) {
            base = "V6";
            c->disp = 3000;
        } else {
            base = "V8";
            c->disp = 5000 + 100 * cp_rng_range(r, 0, 7);
        }
    } else {
        base = "V8";
        c->disp = 6200;
    }
    switch (c->fuel) {
    case FUEL_HYBRID:
        c->cyl = base[0] == 'V' ? "V6 Hybrid" : (base[0] == 'H' ? "H4 Hybrid" : "I4 Hybrid");
        break;
    case FUEL_FLEX:
        c->cyl = base[0] == 'V' ? (base[1] == '8' ? "V8 Flex Fuel Vehicle" : "V6 Flex Fuel Vehicle")
                                : "I4 Flex Fuel Vehicle";
        break;
    case FUEL_CNG:
        c->cyl = "V8 Compressed Natural Gas";
        break;
    case FUEL_PROPANE:
        c->cyl = "V8 Propane";
        break;
    default:
        c->cyl = base;
    }
}

static const char *const auto_names[11] = {NULL,
                                           NULL,
                                           NULL,
                                           NULL,
                                           "4-Speed Automatic",
                                           "5-Speed Automatic",
                                           "6-Speed Automatic",
                                           "7-Speed Automatic",
                                           "8-Speed Automatic",
                                           "9-Speed Automatic",
                                           "10-Speed Automatic"};
static const char *const overdrive_names[11] = {NULL,
                                                NULL,
                                                NULL,
                                                NULL,
                                                "4-Speed Automatic Overdrive",
                                                "5-Speed Automatic Overdrive",
                                                "6-Speed Automatic Overdrive",
                                                "7-Speed Automatic Overdrive",
                                                "8-Speed Automatic Overdrive",
                                                "9-Speed Automatic Overdrive",
                                                "10-Speed Automatic Overdrive"};
static const char *const dct_names[3] = {"6-Speed Dual Clutch", "7-Speed Dual Clutch",
                                         "8-Speed Dual Clutch"};

static void choose_transmission(const cp_data_gen_t *g, car_t *c, cp_rng_t *r)
{
    const traits_t *t = &g->traits[c->model];
    if (c->fuel == FUEL_ELECTRIC) {
        c->trans = 0;
        c->trans_display = cp_rng_chance(r, 0.5) ? "1-Speed Automatic" : "Automatic";
        return;
    }
    double p_cvt = t->p_cvt, p_manual = t->p_manual, p_dct = t->p_dct;
    if (c->fuel == FUEL_HYBRID)
        p_cvt = 0.9;
    if (c->age > 10)
        p_manual += 0.04;
    if (c->year < 2005)
        p_cvt = 0;
    double u = cp_rng_unif(r);
    if (u < p_cvt) {
        c->trans = 2;
        c->trans_display = "Continuously Variable Transmission";
    } else if (u < p_cvt + p_manual) {
        c->trans = 1;
        if (cp_rng_chance(r, 0.15))
            c->trans_display = "Manual";
        else
            c->trans_display = c->year >= 2010 ? "6-Speed Manual" : "5-Speed Manual";
    } else if (u < p_cvt + p_manual + p_dct) {
        c->trans = 3;
        c->trans_display = dct_names[cp_rng_below(r, 3)];
    } else {
        c->trans = 0;
        int speeds;
        if (c->year >= 2018)
            speeds = cp_rng_range(r, 8, 10);
        else if (c->year >= 2011)
            speeds = cp_rng_range(r, 6, 8);
        else
            speeds = cp_rng_range(r, 4, 6);
        if (speeds == 7)
            speeds = 6;
        double v = cp_rng_unif(r);
        if (v < 0.2)
            c->trans_display = "Automatic";
        else if (v < 0.5)
            c->trans_display = overdrive_names[speeds];
        else
            c->trans_display = auto_names[speeds];
    }
}

static void choose_dealer(const cp_data_gen_t *g, car_t *c, cp_rng_t *r)
{
    dealer_t *d = &c->dealer;
    uint64_t dense; /* dense dealer number: unique key of the dealer */
    int franchise;
    int fmake = -1;
    if (c->is_new || cp_rng_chance(r, 0.65)) {
        franchise = 1;
        if (c->is_new || cp_rng_chance(r, 0.5))
            fmake = c->make;
        else
            fmake = (int)pick_cdf(g->make_cdf, cp_nmakes, cp_rng_unif(r));
        uint32_t n = 8 + (uint32_t)(g->make_weight[fmake] * 60.0);
        dense = (uint64_t)fmake * 1000 + cp_rng_below(r, n);
    } else {
        franchise = 0;
        dense = 100000 + cp_rng_below(r, 4000);
    }
    /* Everything else about the dealer is a function of (seed, dealer). */
    cp_rng_t dr;
    cp_rng_seed(&dr, g->seed ^ 0xD1B54A32D192ED03ull, dense);
    d->franchise = franchise;
    d->franchise_make = fmake;
    d->city = (int)pick_cdf(g->city_cdf, cp_ncities, cp_rng_unif(&dr));
    const cp_city_t *city = &cp_cities[d->city];
    d->lat = city->lat + (cp_rng_unif(&dr) - 0.5) * 0.3;
    d->lon = city->lon + (cp_rng_unif(&dr) - 0.5) * 0.3;
    unsigned zip = (unsigned)atoi(city->zip);
    d->zip = zip + cp_rng_below(&dr, 12);
    d->sp_id =
        60000 + (dense < 100000 ? dense : 36000 + dense - 100000) * 10 + cp_rng_below(&dr, 10);
    int reviews = cp_rng_range(&dr, 1, 250);
    double mean = 3.0 + 1.9 * cp_rng_unif(&dr);
    long stars = lround(mean * reviews + (cp_rng_unif(&dr) - 0.5) * 2.0);
    if (stars < reviews)
        stars = reviews;
    if (stars > 5L * reviews)
        stars = 5L * reviews;
    d->rating = (float)stars / (float)reviews;

    const char *sur = cp_surnames[cp_rng_below(&dr, (uint32_t)cp_nsurnames)];
    const char *word = cp_dealer_words[cp_rng_below(&dr, (uint32_t)cp_ndealer_words)];
    int style = (int)cp_rng_below(&dr, 100);
    if (franchise) {
        const char *mkname = cp_makes[fmake].name;
        if (g->make_group[fmake] && style % 2)
            mkname = g->make_group[fmake];
        if (style < 40)
            SJOIN(d->name, sur, " ", mkname);
        else if (style < 65)
            SJOIN(d->name, mkname, " of ", city->city);
        else if (style < 85)
            SJOIN(d->name, city->city, " ", mkname);
        else if (style < 97)
            SJOIN(d->name, sur, " ", mkname, " of ", city->city);
        else
            SJOIN(d->name, sur, " ", mkname, ", Inc.");
    } else {
        if (style < 45)
            SJOIN(d->name, sur, " ", word);
        else if (style < 70)
            SJOIN(d->name, city->city, " ", word);
        else if (style < 85)
            SJOIN(d->name, sur, "'s ", word);
        else if (style < 95)
            SJOIN(d->name, sur, " & Sons ", word);
        else
            SJOIN(d->name, sur, " ", word, ", LLC");
    }
}

static void choose_options(const cp_data_gen_t *g, car_t *c, cp_rng_t *r)
{
    const cp_model_t *m = &cp_models[c->model];
    double tl = c->ntrims > 1 ? (double)c->trim / (c->ntrims - 1) : 0.5;
    int lux = cp_makes[c->make].luxury;
    c->noptions = 0;
    for (size_t i = 0; i < cp_noptions && c->noptions < 32; i++) {
        const cp_option_t *o = &cp_options[i];
        double p;
        int kind = g->opt_kind[i];
        if (kind == OPT_THIRD_ROW)
            p = m->seats >= 7 ? 0.9 : 0.0;
        else if (kind == OPT_TOW)
            p = (m->body == BODY_PICKUP || (m->body == BODY_SUV && m->size >= 3)) ? 0.4 : 0.0;
        else
            p = o->base + (o->top - o->base) * tl;
        if (o->lux && lux)
            p = p * 1.4 + 0.1;
        if (kind == OPT_MODERN && c->year < 2016)
            p *= 0.1;
        if (kind == OPT_CAMERA && c->year < 2012)
            p *= 0.3;
        if (cp_rng_chance(r, p > 0.98 ? 0.98 : p))
            c->options[c->noptions++] = (int)i;
    }
}

/* The price model (docs/data.md, "Price model"): returns log of the expected
 * price before the listing's own noise. */
static double log_market_value(const cp_data_gen_t *g, const car_t *c)
{
    const cp_model_t *m = &cp_models[c->model];
    double lv = log((double)m->msrp);
    lv += 0.08 * c->trim;
    if (c->hp_upgrade)
        lv += 0.45 * log(1.3);
    if (c->drive_optional && (c->drive == DRIVE_AWD || c->drive == DRIVE_4WD))
        lv += 0.06;
    switch (c->fuel) {
    case FUEL_HYBRID:
        lv += 0.08;
        break;
    case FUEL_DIESEL:
    case FUEL_BIODIESEL:
        lv += 0.12;
        break;
    case FUEL_CNG:
    case FUEL_PROPANE:
        lv += 0.05;
        break;
    default:
        break;
    }
    if (m->body == BODY_PICKUP)
        lv += c->cabin == 0 ? 0.05 : (c->cabin == 2 ? -0.08 : 0.0);
    if (!c->is_new) {
        double age = c->age;
        double dep = cp_makes[c->make].depreciation;
        lv -= 0.09;
        lv -= dep * 12.0 * (1.0 - exp(-age / 12.0));
        if (age > 25)
            lv += 0.03 * (age - 25);
        double miles = c->mileage > 400000 ? 400000 : (double)c->mileage;
        lv -= 0.28 * miles / 100000.0;
        if (c->accidents)
            lv -= 0.08;
        if (c->frame)
            lv -= 0.22;
        if (c->salvage)
            lv -= 0.40;
        if (c->theft)
            lv -= 0.15;
        if (c->fleet)
            lv -= 0.04;
        if (c->iscab)
            lv -= 0.12;
        if (c->owners > 1)
            lv -= 0.035 * (c->owners - 1);
        if (c->cpo)
            lv += 0.04;
    }
    lv += g->city_factor[c->dealer.city];
    lv += 0.012 * c->noptions;
    if (c->dealer.franchise)
        lv += 0.02;
    lv += g->color_adj[c->color];
    lv -= 0.02 * log1p(c->dom / 30.0);
    return lv;
}

/* Dealers' price endings: exact, ...99, ...90, ...995, round hundreds. */
static long long round_price(double p, cp_rng_t *r)
{
    long long v = llround(p);
    double u = cp_rng_unif(r);
    if (u < 0.45)
        return v;
    if (u < 0.65)
        return (v + 50) / 100 * 100 - 1;
    if (u < 0.80)
        return (v + 50) / 100 * 100 - 10;
    if (u < 0.90 && v > 5000)
        return (v + 500) / 1000 * 1000 - 5;
    return (v + 50) / 100 * 100;
}

static void build_car(const cp_data_gen_t *g, uint64_t row, car_t *c, cp_rng_t *r)
{
    (void)row;
    memset(c, 0, sizeof *c);
    c->is_new = cp_rng_chance(r, P_NEW);
    c->model = (int)pick_cdf(g->model_cdf, cp_nmodels, cp_rng_unif(r));
    const cp_model_t *m = &cp_models[c->model];
    c->make = m->make;
    c->body = m->body;

    if (c->is_new) {
        double u = cp_rng_unif(r);
        c->year = u < 0.72 ? 2020 : (u < 0.94 ? 2021 : 2019);
        if (c->year < m->first_year)
            c->year = m->first_year;
    } else {
        int age = cp_rng_chance(r, 0.05) ? 0 : (int)floor(exp(log(4.0) + 0.65 * cp_rng_normal(r)));
        if (age > 35)
            age = 35;
        int max_age = CURRENT_MODEL_YEAR - m->first_year;
        if (age > max_age)
            age = (int)cp_rng_below(r, (uint32_t)max_age + 1);
        c->year = CURRENT_MODEL_YEAR - age;
    }
    c->age = CURRENT_MODEL_YEAR - c->year;
    if (c->age < 0)
        c->age = 0;

    c->ntrims = cp_trim_families[m->trims].count;
    c->trim = (int)floor(c->ntrims * pow(cp_rng_unif(r), 1.3));
    if (c->trim >= c->ntrims)
        c->trim = c->ntrims - 1;

    c->drive = m->drive;
    c->drive_optional = 0;
    if (m->alt == ALT_AWD && cp_rng_chance(r, 0.35 + 0.3 * c->trim / (double)c->ntrims)) {
        c->drive = DRIVE_AWD;
        c->drive_optional = 1;
    } else if (m->alt == ALT_4WD && cp_rng_chance(r, 0.6)) {
        c->drive = DRIVE_4WD;
        c->drive_optional = 1;
    }

    const traits_t *t = &g->traits[c->model];
    c->fuel = m->fuel;
    if (c->fuel == FUEL_GAS) {
        double u = cp_rng_unif(r);
        if (t->heavy_duty && u < 0.35)
            c->fuel = u < 0.005 ? FUEL_BIODIESEL : FUEL_DIESEL;
        else if (t->sprinter && u < 0.5)
            c->fuel = FUEL_DIESEL;
        else if (t->flex_ok && u < 0.22)
            c->fuel = u < 0.0015 ? FUEL_CNG : (u < 0.0025 ? FUEL_PROPANE : FUEL_FLEX);
        else if (t->hybrid_ok && c->year >= 2006 && u < 0.06)
            c->fuel = FUEL_HYBRID;
    }

    c->hp_upgrade = (c->trim >= c->ntrims - 2 && cp_rng_chance(r, 0.55)) || cp_rng_chance(r, 0.06);
    double hp = m->hp * (c->hp_upgrade ? 1.3 : 1.0) * (1.0 - 0.007 * (c->age > 30 ? 30 : c->age));
    if (c->fuel == FUEL_HYBRID)
        hp *= 1.05;
    c->hp = (int)lround(hp);
    choose_engine(g, c, r);
    choose_transmission(g, c, r);

    /* Peak power/torque speeds. */
    if (c->fuel == FUEL_ELECTRIC) {
        c->power_rpm = 0;
        c->torque = (int)lround(c->hp * 1.3);
        c->torque_rpm = 0;
    } else if (c->fuel == FUEL_DIESEL || c->fuel == FUEL_BIODIESEL) {
        c->power_rpm = 2800 + 100 * cp_rng_range(r, 0, 8);
        c->torque = (int)lround(c->hp * 2.1);
        c->torque_rpm = 1600 + 100 * cp_rng_range(r, 0, 4);
    } else {
        int turbo = c->cyl && c->cyl[0] == 'I' && c->hp > 200;
        c->power_rpm = (turbo ? 5000 : 5400) + 50 * cp_rng_range(r, 0, 26);
        double tq = turbo ? 1.15 : (c->cyl && c->cyl[0] == 'V' && c->cyl[1] == '8' ? 1.05 : 0.92);
        c->torque = (int)lround(c->hp * tq * (0.95 + 0.1 * cp_rng_unif(r)));
        c->torque_rpm =
            turbo ? 1500 + 50 * cp_rng_range(r, 0, 20) : 3000 + 100 * cp_rng_range(r, 0, 18);
    }

    if (m->mpg_city && c->fuel != FUEL_ELECTRIC) {
        int dc = 0, dh = 0;
        if (c->hp_upgrade)
            dc -= 2, dh -= 3;
        if (c->drive == DRIVE_AWD || c->drive == DRIVE_4WD)
            dc -= 1, dh -= 1;
        if (c->age > 10)
            dc -= 1, dh -= 1;
        c->mpg_city = m->mpg_city + dc;
        c->mpg_hwy = m->mpg_hwy + dh;
        if (c->fuel == FUEL_HYBRID && m->fuel != FUEL_HYBRID) {
            c->mpg_city = (int)lround(c->mpg_city * 1.5);
            c->mpg_hwy = (int)lround(c->mpg_hwy * 1.2);
        }
        if (c->fuel == FUEL_FLEX)
            c->mpg_city -= 1;
        if (c->mpg_city < 9)
            c->mpg_city = 9;
        if (c->mpg_hwy < 11)
            c->mpg_hwy = 11;
    }

    if (m->body == BODY_PICKUP) {
        double u = cp_rng_unif(r);
        c->cabin = u < 0.72 ? 0 : (u < 0.9 ? 1 : 2);
        static const double beds[3][3] = {
            {67.1, 69.9, 78.9}, {78.9, 74.6, 79.4}, {97.6, 96.0, 98.0}};
        c->bed_len = beds[c->cabin][cp_rng_below(r, 3)];
        if (m->size <= 2)
            c->bed_len -= 6.0;
    }

    /* Mileage: new cars have delivery miles, used ones ~11.5k a year. */
    if (c->is_new) {
        c->mileage = cp_rng_chance(r, 0.05) ? cp_rng_range(r, 100, 2500)
                                            : (long)floor(-12.0 * log(1.0 - cp_rng_unif(r)));
    } else {
        double years = c->age < 1 ? 0.3 + 0.7 * cp_rng_unif(r) : (double)c->age;
        double miles = years * 11500.0 * exp(0.45 * cp_rng_normal(r));
        if (miles > 480000)
            miles = 480000;
        c->mileage = (long)lround(miles);
    }

    /* Vehicle history: only used listings carry a report. */
    c->history = !c->is_new && cp_rng_chance(r, 0.96);
    if (!c->is_new) {
        double pa = 0.08 + 0.012 * c->age;
        c->accidents = cp_rng_chance(r, pa > 0.35 ? 0.35 : pa);
        c->frame = cp_rng_chance(r, c->accidents ? 0.05 : 0.002);
        c->salvage = cp_rng_chance(r, 0.008 + 0.0008 * c->age);
        c->theft = cp_rng_chance(r, 0.003);
        c->fleet = cp_rng_chance(r, c->age <= 4 ? 0.22 : 0.10);
        c->iscab = cp_rng_chance(r, 0.012);
        c->owners = 1 + (int)floor(-log(1.0 - cp_rng_unif(r)) * (0.45 + 0.1 * c->age));
        if (c->owners > 12)
            c->owners = 12;
    }

    c->color = (int)pick_cdf(g->color_cdf, cp_ncolors, cp_rng_unif(r));
    c->color_name = (int)cp_rng_below(r, (uint32_t)cp_colors[c->color].count);
    c->interior = (int)cp_rng_below(r, (uint32_t)cp_ninteriors);

    choose_options(g, c, r);
    choose_dealer(g, c, r);
    if (!c->is_new && c->dealer.franchise && c->age <= 6 && !c->salvage && !c->frame &&
        cp_rng_chance(r, 0.22)) {
        c->cpo = 1;
        c->oemcpo = cp_rng_chance(r, 0.7);
    }

    double dom = exp((c->is_new ? 3.2 : 3.5) + 1.1 * cp_rng_normal(r));
    c->dom = dom > 3599 ? 3599 : (int)dom;
    c->listed =
        days_from_civil(SCRAPE_YEAR, SCRAPE_MONTH, SCRAPE_DAY) + cp_rng_range(r, 0, 14) - c->dom;

    double lmarket = log_market_value(g, c);
    double sigma = c->is_new ? SIGMA_NEW : SIGMA_USED;
    if (cp_rng_chance(r, P_OUTLIER))
        sigma = 0.5;
    double z = cp_rng_normal(r);
    c->market = exp(lmarket) + (c->is_new ? 0 : 800);
    double price = exp(lmarket + sigma * z) + (c->is_new ? 0 : 800);
    if (price < 600)
        price = 600;
    c->price = round_price(price, r);
    /* The savings the dealer offers: the cut from the first asking price.
     * Cars that sit longer and cars that were priced high get cut more often
     * and deeper, so the column leaks both the price level and the noise. */
    double zp = z > 0 ? z : 0;
    double p_cut = 0.12 + 0.45 * (1.0 - exp(-c->dom / 60.0)) + 0.12 * zp;
    if (cp_rng_chance(r, p_cut > 0.95 ? 0.95 : p_cut)) {
        double frac = (0.01 + 0.06 * cp_rng_unif(r)) * (1.0 + 0.5 * zp);
        c->savings = llround((double)c->price * frac);
    } else {
        c->savings = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Text fields                                                               */

static const char *vin_chars = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

static int vin_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    static const char *letters = "ABCDEFGHJKLMNPRSTUVWXYZ";
    static const int values[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *p = strchr(letters, ch);
    return p ? values[p - letters] : 0;
}

static void make_vin(const car_t *c, uint64_t row, cp_rng_t *r, char vin[18])
{
    static const int weights[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    static const char *year_codes = "ABCDEFGHJKLMNPRSTVWXY123456789";
    const char *wmi = cp_makes[c->make].wmi[cp_rng_below(r, 3)];
    memcpy(vin, wmi, 3);
    for (int i = 3; i < 8; i++)
        vin[i] = vin_chars[cp_rng_below(r, 33)];
    vin[9] = year_codes[(c->year - 1980) % 30];
    vin[10] = vin_chars[10 + cp_rng_below(r, 23)];
    uint64_t serial = (row * 7919 + cp_rng_below(r, 7919)) % 1000000;
    for (int i = 16; i >= 11; i--) {
        vin[i] = (char)('0' + serial % 10);
        serial /= 10;
    }
    int sum = 0;
    for (int i = 0; i < 17; i++)
        if (i != 8)
            sum += vin_value(vin[i]) * weights[i];
    vin[8] = sum % 11 == 10 ? 'X' : (char)('0' + sum % 11);
    vin[17] = '\0';
}

typedef struct {
    const car_t *c;
    char year[24];
    char miles[24];
    char below[24];
    char wheel[24];
    char engine[64];
    const char *trim;
} desc_ctx_t;

static void expand(wr_t *w, const char *tpl, const desc_ctx_t *x)
{
    const car_t *c = x->c;
    const cp_model_t *m = &cp_models[c->model];
    for (const char *s = tpl; *s;) {
        if (*s != '{') {
            const char *e = strchr(s, '{');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            wr_mem(w, s, n);
            s += n;
            continue;
        }
        const char *close = strchr(s, '}');
        if (!close) {
            wr_str(w, s);
            return;
        }
        size_t n = (size_t)(close - s - 1);
        const char *k = s + 1;
        const char *v = "";
#define KEY(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)
        if (KEY("Y"))
            v = x->year;
        else if (KEY("MK"))
            v = cp_makes[c->make].name;
        else if (KEY("MD"))
            v = m->name;
        else if (KEY("T"))
            v = x->trim;
        else if (KEY("COL"))
            v = cp_colors[c->color].names[c->color_name];
        else if (KEY("INT"))
            v = cp_interiors[c->interior];
        else if (KEY("D"))
            v = c->dealer.name;
        else if (KEY("C"))
            v = cp_cities[c->dealer.city].city;
        else if (KEY("M"))
            v = x->miles;
        else if (KEY("MB"))
            v = x->below;
        else if (KEY("DRV"))
            v = cp_drive_names[c->drive];
        else if (KEY("ENG"))
            v = x->engine;
        else if (KEY("TR"))
            v = c->trans_display;
        else if (KEY("W"))
            v = x->wheel;
        else if (KEY("BODY"))
            v = cp_body_names[c->body];
#undef KEY
        wr_str(w, v);
        s = close + 1;
    }
}

/* Builds the description into g->desc; returns its length. */
static size_t build_description(cp_data_gen_t *g, const car_t *c, const char *trim, cp_rng_t *r)
{
    wr_t w = {g->desc, g->desc + DESC_CAP - 1, 0};
    desc_ctx_t x = {.c = c, .trim = trim};
    utoa(x.year, (uint64_t)c->year);
    utoa(x.miles, (uint64_t)c->mileage);
    utoa(x.below, (uint64_t)cp_rng_range(r, 1200, 45000));
    utoa(x.wheel, 16 + cp_rng_below(r, 5));
    if (c->disp && c->cyl) {
        char litres[8] = {
            (char)('0' + c->disp / 1000), '.', (char)('0' + c->disp / 100 % 10), 'L', ' ', '\0'};
        SJOIN(x.engine, litres, c->cyl, cp_rng_chance(r, 0.5) ? " DOHC" : " 24V VVT");
    } else {
        SJOIN(x.engine, "Electric");
    }

    /* Rare on the real site, frequent enough here that small samples carry
     * quoted line breaks. */
    int multiline = cp_rng_chance(r, 0.012);
    const char *sep = multiline ? (cp_rng_chance(r, 0.5) ? "\n" : "\n\n") : " ";

    int kind = (int)cp_rng_below(r, 100);
    if (kind < 40) {
        if (kind < 10) {
            expand(&w, cp_desc_openers[cp_rng_below(r, (uint32_t)cp_ndesc_openers)], &x);
            wr_str(&w, sep);
        }
        wr_str(&w, "[!@@Additional Info@@!]");
        int n = cp_rng_range(r, 6, 24);
        uint32_t start = cp_rng_below(r, (uint32_t)cp_ndesc_features);
        for (int i = 0; i < n; i++) {
            if (i)
                wr_ch(&w, ',');
            uint32_t k = (start + (uint32_t)i * 7) % (uint32_t)cp_ndesc_features;
            expand(&w, cp_desc_features[k], &x);
        }
    } else {
        expand(&w, cp_desc_openers[cp_rng_below(r, (uint32_t)cp_ndesc_openers)], &x);
        int n = cp_rng_range(r, 3, 14);
        uint32_t start = cp_rng_below(r, (uint32_t)cp_ndesc_middles);
        for (int i = 0; i < n; i++) {
            wr_str(&w, multiline && i % 3 == 2 ? sep : " ");
            uint32_t k = (start + (uint32_t)i * 5) % (uint32_t)cp_ndesc_middles;
            expand(&w, cp_desc_middles[k], &x);
        }
        wr_str(&w, sep);
        expand(&w, cp_desc_closers[cp_rng_below(r, (uint32_t)cp_ndesc_closers)], &x);
    }
    if (w.overflow)
        return 0;
    return (size_t)(w.p - g->desc);
}

/* ------------------------------------------------------------------------ */
/* Row writer                                                                */

static void wr_bool(wr_t *w, int v)
{
    wr_str(w, v ? "True" : "False");
}

static void wr_inches(wr_t *w, double v, const char *unit)
{
    if (v <= 0) {
        wr_mem(w, "--", 2);
        return;
    }
    wr_fixed(w, v, 1, 0);
    wr_str(w, unit);
}

static void write_row(cp_data_gen_t *g, uint64_t row, wr_t *w)
{
    cp_rng_t r;
    cp_rng_seed(&r, g->seed, row);
    car_t c;
    build_car(g, row, &c, &r);
    const cp_model_t *m = &cp_models[c.model];
    const dims_t *dm = &g->model_dims[c.model];
    const dealer_t *d = &c.dealer;

    /* Missing-value pattern, decided up front (see docs/data.md). */
    int no_specs = cp_rng_chance(&r, 0.053);
    int no_body = cp_rng_chance(&r, 0.0045);
    int no_engine = c.fuel == FUEL_ELECTRIC || cp_rng_chance(&r, 0.03);
    int no_hp = no_specs || cp_rng_chance(&r, 0.004);
    int no_power = no_hp || cp_rng_chance(&r, 0.11);
    int no_torque = no_power || cp_rng_chance(&r, 0.015);
    int no_mpg = no_specs || !c.mpg_city || cp_rng_chance(&r, 0.10);
    int no_fuel = cp_rng_chance(&r, 0.028);
    int no_trans = cp_rng_chance(&r, 0.021);
    int no_trim = cp_rng_chance(&r, 0.039);
    int no_wheel = cp_rng_chance(&r, 0.049);
    int no_desc = cp_rng_chance(&r, 0.026);
    int no_pic = cp_rng_chance(&r, 0.123);
    int no_opts = cp_rng_chance(&r, 0.067) || c.noptions == 0;
    int no_miles = cp_rng_chance(&r, c.is_new ? 0.08 : 0.018);
    int no_owner = c.is_new || cp_rng_chance(&r, 0.08);
    int no_rating = cp_rng_chance(&r, 0.014);
    int no_spid = cp_rng_chance(&r, 0.00003);
    int seats_dash = cp_rng_chance(&r, 0.005);
    int dash_back = cp_rng_chance(&r, 0.01);
    int show_bed = cp_rng_chance(&r, 0.05);
    int show_cabin = cp_rng_chance(&r, 0.14);
    int torque_norpm = cp_rng_chance(&r, 0.06);
    int trim_drive = m->alt != ALT_NONE && cp_rng_chance(&r, 0.4);
    char vin[18];
    make_vin(&c, row, &r, vin);
    uint64_t pic_id = 1000000000000000000ull + cp_rng_next(&r) % 8999999999999999999ull;
    int pic_days = cp_rng_range(&r, 0, 3), pic_h = cp_rng_range(&r, 0, 23),
        pic_m = cp_rng_range(&r, 0, 59);
    uint64_t listing_id =
        100000000 + ((row * 0x9E3779B1ull + (g->seed & 0xFFFFFFF)) & (CP_DATA_MAX_UNIQUE_ROWS - 1));

    char trim[96];
    const char *tname = cp_trim_families[m->trims].names[c.trim];
    if (trim_drive)
        SJOIN(trim, tname, " ", c.drive == DRIVE_4X2 ? "4x2" : cp_drive_codes[c.drive]);
    else
        SJOIN(trim, tname);
    size_t desc_len = no_desc ? 0 : build_description(g, &c, trim, &r);

    /* vin */
    wr_mem(w, vin, 17);
    wr_ch(w, ',');
    /* back_legroom */
    if (!no_specs)
        wr_inches(w, dash_back ? 0 : dm->back_leg, " in");
    wr_ch(w, ',');
    /* bed, bed_height, bed_length */
    int pickup = m->body == BODY_PICKUP;
    if (pickup && show_bed)
        wr_str(w, c.bed_len < 70 ? "Short Bed" : (c.bed_len < 90 ? "Regular Bed" : "Long Bed"));
    wr_ch(w, ',');
    if (pickup && !no_specs) {
        if (cp_rng_chance(&r, 0.85))
            wr_mem(w, "--", 2);
        else
            wr_inches(w, 19.5 + 3.0 * cp_rng_unif(&r), " in");
    }
    wr_ch(w, ',');
    if (pickup && !no_specs)
        wr_inches(w, c.bed_len, " in");
    wr_ch(w, ',');
    /* body_type */
    if (!no_body)
        wr_str(w, cp_body_names[m->body]);
    wr_ch(w, ',');
    /* cabin */
    if (pickup && show_cabin)
        wr_str(w, c.cabin == 0 ? "Crew Cab" : (c.cabin == 1 ? "Extended Cab" : "Regular Cab"));
    wr_ch(w, ',');
    /* city */
    wr_fstr(w, cp_cities[d->city].city);
    wr_ch(w, ',');
    /* city_fuel_economy */
    if (!no_mpg)
        wr_int_dot0(w, c.mpg_city);
    wr_ch(w, ',');
    /* combine_fuel_economy: always empty in the raw file */
    wr_ch(w, ',');
    /* daysonmarket */
    wr_uint(w, (uint64_t)c.dom);
    wr_ch(w, ',');
    /* dealer_zip */
    wr_uint_pad(w, d->zip, 5);
    wr_ch(w, ',');
    /* description */
    if (desc_len)
        wr_field(w, g->desc, desc_len);
    wr_ch(w, ',');
    /* engine_cylinders */
    if (!no_engine && c.cyl)
        wr_str(w, c.cyl);
    wr_ch(w, ',');
    /* engine_displacement */
    if (!no_engine && c.disp)
        wr_int_dot0(w, c.disp);
    wr_ch(w, ',');
    /* engine_type */
    if (!no_engine && c.cyl)
        wr_str(w, c.cyl);
    wr_ch(w, ',');
    /* exterior_color */
    wr_fstr(w, cp_colors[c.color].names[c.color_name]);
    wr_ch(w, ',');
    /* fleet, frame_damaged */
    if (c.history)
        wr_bool(w, c.fleet);
    wr_ch(w, ',');
    if (c.history)
        wr_bool(w, c.frame);
    wr_ch(w, ',');
    /* franchise_dealer, franchise_make */
    wr_bool(w, d->franchise);
    wr_ch(w, ',');
    if (d->franchise)
        wr_str(w, cp_makes[d->franchise_make].name);
    wr_ch(w, ',');
    /* front_legroom, fuel_tank_volume */
    if (!no_specs)
        wr_inches(w, dm->front_leg, " in");
    wr_ch(w, ',');
    if (!no_specs)
        wr_inches(w, c.fuel == FUEL_ELECTRIC ? 0 : dm->tank, " gal");
    wr_ch(w, ',');
    /* fuel_type */
    if (!no_fuel)
        wr_str(w, cp_fuel_names[c.fuel]);
    wr_ch(w, ',');
    /* has_accidents */
    if (c.history)
        wr_bool(w, c.accidents);
    wr_ch(w, ',');
    /* height */
    if (!no_specs)
        wr_inches(w, dm->height, " in");
    wr_ch(w, ',');
    /* highway_fuel_economy */
    if (!no_mpg)
        wr_int_dot0(w, c.mpg_hwy);
    wr_ch(w, ',');
    /* horsepower */
    if (!no_hp)
        wr_int_dot0(w, c.hp);
    wr_ch(w, ',');
    /* interior_color */
    wr_fstr(w, cp_interiors[c.interior]);
    wr_ch(w, ',');
    /* isCab */
    if (c.history)
        wr_bool(w, c.iscab);
    wr_ch(w, ',');
    /* is_certified: always empty */
    wr_ch(w, ',');
    /* is_cpo: True or empty */
    if (c.cpo)
        wr_str(w, "True");
    wr_ch(w, ',');
    /* is_new */
    wr_bool(w, c.is_new);
    wr_ch(w, ',');
    /* is_oemcpo */
    if (c.oemcpo)
        wr_str(w, "True");
    wr_ch(w, ',');
    /* latitude */
    wr_fixed(w, d->lat, 4, 1);
    wr_ch(w, ',');
    /* length */
    if (!no_specs)
        wr_inches(w, dm->length + (pickup ? (c.bed_len - 67.0) * 0.8 : 0), " in");
    wr_ch(w, ',');
    /* listed_date */
    wr_date(w, c.listed);
    wr_ch(w, ',');
    /* listing_color */
    wr_str(w, cp_colors[c.color].group);
    wr_ch(w, ',');
    /* listing_id */
    wr_uint(w, listing_id);
    wr_ch(w, ',');
    /* longitude */
    wr_fixed(w, d->lon, 4, 1);
    wr_ch(w, ',');
    /* main_picture_url */
    if (!no_pic) {
        int y, mo, dd;
        civil_from_days(c.listed + pic_days, &y, &mo, &dd);
        wr_str(w, "https://static.cargurus.com/images/forsale/");
        wr_uint_pad(w, (unsigned)y, 4);
        wr_ch(w, '/');
        wr_uint_pad(w, (unsigned)mo, 2);
        wr_ch(w, '/');
        wr_uint_pad(w, (unsigned)dd, 2);
        wr_ch(w, '/');
        wr_uint_pad(w, (unsigned)pic_h, 2);
        wr_ch(w, '/');
        wr_uint_pad(w, (unsigned)pic_m, 2);
        wr_ch(w, '/');
        wr_uint(w, (uint64_t)c.year);
        wr_ch(w, '_');
        wr_str(w, g->model_slug[c.model]);
        wr_str(w, "-pic-");
        wr_uint(w, pic_id);
        wr_str(w, "-152x114.jpeg");
    }
    wr_ch(w, ',');
    /* major_options: a Python list literal */
    if (!no_opts) {
        if (c.noptions > 1)
            wr_ch(w, '"');
        wr_mem(w, "['", 2);
        for (int i = 0; i < c.noptions; i++) {
            if (i)
                wr_mem(w, "', '", 4);
            wr_str(w, cp_options[c.options[i]].name);
        }
        wr_mem(w, "']", 2);
        if (c.noptions > 1)
            wr_ch(w, '"');
    }
    wr_ch(w, ',');
    /* make_name */
    wr_fstr(w, cp_makes[c.make].name);
    wr_ch(w, ',');
    /* maximum_seating */
    if (!no_specs) {
        if (seats_dash) {
            wr_mem(w, "--", 2);
        } else {
            wr_uint(w, m->seats);
            wr_str(w, " seats");
        }
    }
    wr_ch(w, ',');
    /* mileage */
    if (!no_miles)
        wr_int_dot0(w, c.mileage);
    wr_ch(w, ',');
    /* model_name */
    wr_fstr(w, m->name);
    wr_ch(w, ',');
    /* owner_count */
    if (!no_owner)
        wr_int_dot0(w, c.owners);
    wr_ch(w, ',');
    /* power: "240 hp @ 5,800 RPM" (electric: no rpm) */
    if (!no_power) {
        int quoted = c.power_rpm >= 1000;
        if (quoted)
            wr_ch(w, '"');
        wr_uint(w, (uint64_t)c.hp);
        wr_str(w, " hp");
        if (c.power_rpm) {
            wr_str(w, " @ ");
            wr_commas(w, (unsigned)c.power_rpm);
            wr_str(w, " RPM");
        }
        if (quoted)
            wr_ch(w, '"');
    }
    wr_ch(w, ',');
    /* price */
    wr_int_dot0(w, c.price);
    wr_ch(w, ',');
    /* salvage */
    if (c.history)
        wr_bool(w, c.salvage);
    wr_ch(w, ',');
    /* savings_amount */
    wr_uint(w, (uint64_t)c.savings);
    wr_ch(w, ',');
    /* seller_rating */
    if (!no_rating)
        wr_float32(w, d->rating);
    wr_ch(w, ',');
    /* sp_id */
    if (!no_spid)
        wr_int_dot0(w, (long long)d->sp_id);
    wr_ch(w, ',');
    /* sp_name */
    wr_fstr(w, d->name);
    wr_ch(w, ',');
    /* theft_title */
    if (c.history)
        wr_bool(w, c.theft);
    wr_ch(w, ',');
    /* torque: "250 lb-ft @ 1,750 RPM", sometimes without rpm */
    if (!no_torque) {
        int rpm = torque_norpm ? 0 : c.torque_rpm;
        if (rpm >= 1000)
            wr_ch(w, '"');
        wr_uint(w, (uint64_t)c.torque);
        wr_str(w, " lb-ft");
        if (rpm) {
            wr_str(w, " @ ");
            wr_commas(w, (unsigned)rpm);
            wr_str(w, " RPM");
        }
        if (rpm >= 1000)
            wr_ch(w, '"');
    }
    wr_ch(w, ',');
    /* transmission, transmission_display */
    if (!no_trans)
        wr_str(w, transmission_codes[c.trans]);
    wr_ch(w, ',');
    if (!no_trans)
        wr_fstr(w, c.trans_display);
    wr_ch(w, ',');
    /* trimId, trim_name */
    if (!no_trim) {
        wr_ch(w, 't');
        wr_uint(w, 10000 + cp_hash2((uint64_t)c.model * 64 + (uint64_t)c.trim, (uint64_t)c.year) %
                               90000);
    }
    wr_ch(w, ',');
    if (!no_trim)
        wr_fstr(w, trim);
    wr_ch(w, ',');
    /* vehicle_damage_category: always empty */
    wr_ch(w, ',');
    /* wheel_system, wheel_system_display */
    if (!no_wheel)
        wr_str(w, cp_drive_codes[c.drive]);
    wr_ch(w, ',');
    if (!no_wheel)
        wr_str(w, cp_drive_names[c.drive]);
    wr_ch(w, ',');
    /* wheelbase, width */
    if (!no_specs)
        wr_inches(w, dm->wheelbase + (pickup ? (c.bed_len - 67.0) * 0.8 : 0), " in");
    wr_ch(w, ',');
    if (!no_specs)
        wr_inches(w, dm->width, " in");
    wr_ch(w, ',');
    /* year */
    wr_uint(w, (uint64_t)c.year);
    wr_ch(w, '\n');
}

int cp_data_gen_append_row(cp_data_gen_t *g, uint64_t row, cp_buf_t *out)
{
    if (!g || !out)
        return CP_DATA_ERR_ARG;
    wr_t w = {g->row, g->row + ROW_CAP, 0};
    write_row(g, row, &w);
    if (w.overflow)
        return CP_DATA_ERR_NOMEM; /* cannot happen with the built-in tables */
    if (cp_buf_append(out, g->row, (size_t)(w.p - g->row)) != 0)
        return CP_DATA_ERR_NOMEM;
    return CP_DATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Streaming                                                                 */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_err(char *errbuf, size_t errlen, const char *msg, int errnum)
{
    if (!errbuf || !errlen)
        return;
    if (errnum)
        snprintf(errbuf, errlen, "%s: %s", msg, strerror(errnum));
    else
        snprintf(errbuf, errlen, "%s", msg);
}

#define FLUSH_AT (1u << 20)

int cp_data_generate(uint64_t seed, uint64_t first_row, uint64_t nrows, int header, FILE *out,
                     cp_data_stats_t *stats, char *errbuf, size_t errlen)
{
    cp_data_stats_t st = {0, 0, 0.0};
    if (stats)
        *stats = st;
    if (!out || first_row > UINT64_MAX - nrows) {
        set_err(errbuf, errlen, "invalid arguments", 0);
        return CP_DATA_ERR_ARG;
    }
    double t0 = now_seconds();
    cp_data_gen_t *g = NULL;
    int rc = cp_data_gen_new(seed, &g);
    if (rc != CP_DATA_OK) {
        set_err(errbuf, errlen, "cannot allocate the generator", 0);
        return rc;
    }
    cp_buf_t buf;
    cp_buf_init(&buf, FLUSH_AT + ROW_CAP);
    if (header && cp_buf_append(&buf, header_line, sizeof header_line - 1) != 0) {
        rc = CP_DATA_ERR_NOMEM;
        set_err(errbuf, errlen, "cannot allocate the output buffer", 0);
    }
    for (uint64_t i = 0; rc == CP_DATA_OK && i < nrows; i++) {
        rc = cp_data_gen_append_row(g, first_row + i, &buf);
        if (rc != CP_DATA_OK) {
            set_err(errbuf, errlen, "cannot allocate the output buffer", 0);
            break;
        }
        st.rows++;
        if (buf.len >= FLUSH_AT || i + 1 == nrows) {
            if (fwrite(buf.data, 1, buf.len, out) != buf.len) {
                rc = CP_DATA_ERR_IO;
                set_err(errbuf, errlen, "write failed", errno);
                break;
            }
            st.bytes += buf.len;
            cp_buf_reset(&buf);
        }
    }
    if (rc == CP_DATA_OK && buf.len) { /* header only (nrows == 0) */
        if (fwrite(buf.data, 1, buf.len, out) != buf.len) {
            rc = CP_DATA_ERR_IO;
            set_err(errbuf, errlen, "write failed", errno);
        } else {
            st.bytes += buf.len;
        }
    }
    if (rc == CP_DATA_OK && fflush(out) != 0) {
        rc = CP_DATA_ERR_IO;
        set_err(errbuf, errlen, "write failed", errno);
    }
    cp_buf_free(&buf);
    cp_data_gen_destroy(g);
    st.seconds = now_seconds() - t0;
    if (stats)
        *stats = st;
    return rc;
}
