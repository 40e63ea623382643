/* Charts: every PNG is decoded here independently (signature, IHDR, chunk
 * CRCs, zlib inflate, the five row filters) and the pixels are checked
 * against where the data must land. Set CARPRICE_PLOT_SAMPLE_DIR to also get
 * realistic sample charts written there for a look. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "carprice/plot.h"

/* ---- an independent PNG reader ------------------------------------------ */

typedef struct {
    int w, h;
    unsigned char *rgb;
    unsigned filters_seen; /* bit f set when a row used filter type f */
} img_t;

static uint32_t be32(const unsigned char *q)
{
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

static void png_decode(const unsigned char *png, size_t len, img_t *img)
{
    static const unsigned char sig[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a};
    assert_true(len > 8);
    assert_memory_equal(png, sig, 8);
    memset(img, 0, sizeof *img);
    unsigned char *z = NULL;
    size_t zlen = 0, off = 8, nchunks = 0;
    bool ended = false;
    while (off < len) {
        assert_false(ended); /* nothing after IEND */
        assert_true(len - off >= 12);
        uint32_t clen = be32(png + off);
        assert_true(clen <= len - off - 12);
        const unsigned char *type = png + off + 4, *data = png + off + 8;
        assert_int_equal(crc32(0L, type, clen + 4), be32(data + clen));
        if (!memcmp(type, "IHDR", 4)) {
            assert_int_equal(nchunks, 0);
            assert_int_equal(clen, 13);
            img->w = (int)be32(data);
            img->h = (int)be32(data + 4);
            assert_int_equal(data[8], 8);  /* bit depth */
            assert_int_equal(data[9], 2);  /* RGB */
            assert_int_equal(data[10], 0); /* deflate */
            assert_int_equal(data[11], 0); /* filter method */
            assert_int_equal(data[12], 0); /* no interlace */
        } else if (!memcmp(type, "IDAT", 4)) {
            assert_true(nchunks > 0);
            z = realloc(z, zlen + clen + 1);
            assert_non_null(z);
            memcpy(z + zlen, data, clen);
            zlen += clen;
        } else if (!memcmp(type, "IEND", 4)) {
            assert_int_equal(clen, 0);
            ended = true;
        } else {
            fail_msg("unexpected chunk %.4s", (const char *)type);
        }
        nchunks++;
        off += 12 + clen;
    }
    assert_true(ended);
    assert_true(img->w > 0 && img->h > 0);
    size_t stride = (size_t)img->w * 3, raw_len = (stride + 1) * (size_t)img->h;
    unsigned char *raw = malloc(raw_len);
    assert_non_null(raw);
    uLongf got = (uLongf)raw_len;
    assert_int_equal(uncompress(raw, &got, z, (uLong)zlen), Z_OK);
    assert_int_equal(got, raw_len);
    free(z);
    img->rgb = malloc(stride * (size_t)img->h);
    assert_non_null(img->rgb);
    for (int y = 0; y < img->h; y++) {
        const unsigned char *in = raw + (size_t)y * (stride + 1);
        unsigned char *row = img->rgb + (size_t)y * stride;
        const unsigned char *up = y ? row - stride : NULL;
        int ft = in[0];
        assert_in_range(ft, 0, 4);
        img->filters_seen |= 1u << ft;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= 3 ? row[i - 3] : 0, b = up ? up[i] : 0, c = up && i >= 3 ? up[i - 3] : 0;
            int pred = ft == 0   ? 0
                       : ft == 1 ? a
                       : ft == 2 ? b
                       : ft == 3 ? (a + b) / 2
                                 : paeth(a, b, c);
            row[i] = (unsigned char)(in[1 + i] + pred);
        }
    }
    free(raw);
}

/* Encodes p, decodes it again and checks the pixels match the canvas. */
static void render(const cp_plot_t *p, img_t *img)
{
    unsigned char *png = NULL;
    size_t len = 0;
    assert_int_equal(cp_plot_png(p, &png, &len), CP_PLOT_OK);
    png_decode(png, len, img);
    free(png);
    int w, h;
    const unsigned char *rgb = cp_plot_rgb(p, &w, &h);
    assert_int_equal(img->w, w);
    assert_int_equal(img->h, h);
    assert_memory_equal(img->rgb, rgb, (size_t)w * (size_t)h * 3);
}

static const unsigned char *px(const img_t *img, int x, int y)
{
    assert_in_range(x, 0, img->w - 1);
    assert_in_range(y, 0, img->h - 1);
    return img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
}

/* The data colour (a blue), at any opacity that is clearly visible. */
static bool is_blue(const unsigned char *c)
{
    return c[2] > c[0] + 40 && c[2] > c[1] + 10;
}

static bool is_red(const unsigned char *c)
{
    return c[0] > c[1] + 60 && c[0] > c[2] + 60;
}

static bool is_dark(const unsigned char *c)
{
    return c[0] < 140 && c[1] < 140 && c[2] < 140;
}

static size_t count_in(const img_t *img, int x0, int y0, int x1, int y1,
                       bool (*pred)(const unsigned char *))
{
    size_t n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            n += pred(px(img, x, y));
    return n;
}

/* Pixel column and row of a data point, as the chart's axes say. */
static void to_pixel(const cp_plot_t *p, double x, double y, bool logs, int *cx, int *cy)
{
    int x0, y0, x1, y1;
    double xmin, xmax, ymin, ymax;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    if (logs) {
        x = log10(x), y = log10(y);
        xmin = log10(xmin), xmax = log10(xmax), ymin = log10(ymin), ymax = log10(ymax);
    }
    *cx = (int)lrint(x0 + (x - xmin) / (xmax - xmin) * (x1 - x0));
    *cy = (int)lrint(y1 - (y - ymin) / (ymax - ymin) * (y1 - y0));
}

/* ---- tests ---------------------------------------------------------------- */

static void png_is_valid_and_matches_canvas(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(320, 240, "round trip");
    assert_non_null(p);
    double x[] = {1, 2, 3, 4, 5}, y[] = {2, 1, 4, 3, 5};
    assert_int_equal(cp_plot_scatter(p, x, y, 5, "x", "y", 0), CP_PLOT_OK);
    img_t img;
    render(p, &img);
    assert_int_equal(img.w, 320);
    assert_int_equal(img.h, 240);
    /* A chart has flat rows, edges and repeats: several filters get picked,
     * so the round trip above exercised more than one. */
    assert_true(__builtin_popcount(img.filters_seen) >= 2);
    free(img.rgb);
    cp_plot_destroy(p);

    /* A dense cloud over a grid has gradients and edges of many kinds: Sub,
     * Up and Paeth all get used, and decode to the same pixels. (None and
     * Average rarely win on white backgrounds.) */
    enum { N = 20000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < N; i++) {
        a[i] = (i * 7919) % 1000 + (i % 13) * 0.37;
        b[i] = a[i] + (i * 104729) % 300 - 150;
    }
    p = cp_plot_new(640, 480, "dense");
    assert_non_null(p);
    assert_int_equal(cp_plot_scatter(p, a, b, N, "a", "b", CP_PLOT_DIAGONAL), CP_PLOT_OK);
    render(p, &img);
    assert_int_equal(img.filters_seen & 0x16, 0x16);
    free(img.rgb);
    free(a);
    free(b);
    cp_plot_destroy(p);
}

static void fresh_canvas_is_white(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(CP_PLOT_MIN_SIZE, CP_PLOT_MIN_SIZE, NULL);
    assert_non_null(p);
    img_t img;
    render(p, &img);
    for (size_t i = 0; i < (size_t)img.w * (size_t)img.h * 3; i++)
        assert_int_equal(img.rgb[i], 255);
    free(img.rgb);
    cp_plot_destroy(p);
}

static void one_point_lands_where_the_axes_say(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 300, "one point");
    assert_non_null(p);
    double x = 3, y = 7;
    assert_int_equal(cp_plot_scatter(p, &x, &y, 1, "x", "y", 0), CP_PLOT_OK);
    int x0, y0, x1, y1, cx, cy;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    to_pixel(p, x, y, false, &cx, &cy);
    /* A lone value gets a range centred on it. */
    assert_in_range(cx, (x0 + x1) / 2 - 1, (x0 + x1) / 2 + 1);
    assert_in_range(cy, (y0 + y1) / 2 - 1, (y0 + y1) / 2 + 1);
    img_t img;
    render(p, &img);
    assert_true(is_blue(px(&img, cx, cy)));
    assert_true(is_blue(px(&img, cx + 3, cy)));
    assert_true(is_blue(px(&img, cx, cy - 3)));
    assert_false(is_blue(px(&img, cx + 5, cy)));
    assert_false(is_blue(px(&img, cx, cy + 5)));
    /* The dot (a disc of radius 3) is the only blue on the canvas. */
    assert_int_equal(count_in(&img, 0, 0, img.w - 1, img.h - 1, is_blue), 37);
    assert_int_equal(count_in(&img, cx - 3, cy - 3, cx + 3, cy + 3, is_blue), 37);
    assert_int_equal(cp_plot_skipped(p), 0);
    free(img.rgb);
    cp_plot_destroy(p);
}

static void points_keep_their_positions(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(500, 400, NULL);
    assert_non_null(p);
    double x[] = {0, 10, 10, 0}, y[] = {0, 0, 100, 50};
    assert_int_equal(cp_plot_scatter(p, x, y, 4, NULL, NULL, 0), CP_PLOT_OK);
    double xmin, xmax, ymin, ymax;
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    assert_true(xmin < 0 && xmax > 10 && ymin < 0 && ymax > 100);
    img_t img;
    render(p, &img);
    for (int i = 0; i < 4; i++) {
        int cx, cy;
        to_pixel(p, x[i], y[i], false, &cx, &cy);
        assert_int_equal(count_in(&img, cx - 3, cy - 3, cx + 3, cy + 3, is_blue), 37);
    }
    assert_int_equal(count_in(&img, 0, 0, img.w - 1, img.h - 1, is_blue), 4 * 37);
    free(img.rgb);
    cp_plot_destroy(p);
}

/* How many columns of the plot area have a red pixel within 2 rows of the
 * straight line from the bottom-left to the top-right corner; red elsewhere
 * fails the test. */
static int diagonal_columns(const cp_plot_t *p, const img_t *img)
{
    int x0, y0, x1, y1, hits = 0;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    for (int x = x0 + 1; x < x1; x++) {
        double yl = y1 - (double)(x - x0) / (x1 - x0) * (y1 - y0);
        bool hit = false;
        for (int y = y0 + 1; y < y1; y++) {
            if (!is_red(px(img, x, y)))
                continue;
            assert_true(fabs(y - yl) <= 2.5);
            hit = true;
        }
        hits += hit;
    }
    return hits;
}

static void diagonal_runs_corner_to_corner(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(640, 480, "predicted vs actual");
    assert_non_null(p);
    double actual[] = {10, 20, 30, 40}, pred[] = {12, 18, 33, 41};
    assert_int_equal(cp_plot_scatter(p, actual, pred, 4, "actual", "predicted", CP_PLOT_DIAGONAL),
                     CP_PLOT_OK);
    double xmin, xmax, ymin, ymax;
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    assert_true(xmin == ymin && xmax == ymax);
    assert_true(xmin < 10 && xmax > 41);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    assert_int_equal(x1 - x0, y1 - y0); /* square, so y = x is at 45 degrees */
    img_t img;
    render(p, &img);
    /* The dash pattern starts and ends at the corners. */
    assert_true(is_red(px(&img, x0 + 2, y1 - 2)));
    assert_true(is_red(px(&img, x1 - 2, y0 + 2)));
    int hits = diagonal_columns(p, &img);
    assert_true(hits > (x1 - x0) / 2); /* dashes cover more than the gaps */
    assert_true(hits < x1 - x0 - 10);  /* and it is dashed */
    free(img.rgb);
    cp_plot_destroy(p);
}

static void log_axes_place_prices_by_decade(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(600, 600, "log");
    assert_non_null(p);
    double a[] = {1000, 5000, 20000, 100000, 0, -5, NAN};
    double b[] = {1200, 4000, 25000, 90000, 10, 10, 10};
    assert_int_equal(cp_plot_scatter(p, a, b, 7, "actual", "predicted",
                                     CP_PLOT_DIAGONAL | CP_PLOT_LOG_X | CP_PLOT_LOG_Y),
                     CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 3); /* 0, -5 and NaN */
    double xmin, xmax;
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin > 500 && xmin < 1000 && xmax > 100000 && xmax < 200000);
    img_t img;
    render(p, &img);
    for (int i = 0; i < 4; i++) {
        int cx, cy;
        to_pixel(p, a[i], b[i], true, &cx, &cy);
        assert_true(is_blue(px(&img, cx, cy)));
    }
    /* 10k gets a grid line: grey, just under the top edge where no data is. */
    int gx, gy, x0, y0, y1;
    to_pixel(p, 10000, 10000, true, &gx, &gy);
    cp_plot_area(p, &x0, &y0, NULL, &y1);
    const unsigned char *g = px(&img, gx, y0 + 3);
    assert_true(g[0] == g[1] && g[1] == g[2] && g[0] > 200 && g[0] < 250);
    /* and a tick mark below the frame */
    assert_true(is_dark(px(&img, gx, y1 + 3)));
    assert_true(diagonal_columns(p, &img) > 100);
    free(img.rgb);
    /* y = x is not straight on mixed axes */
    assert_int_equal(cp_plot_scatter(p, a, b, 4, NULL, NULL, CP_PLOT_DIAGONAL | CP_PLOT_LOG_X),
                     CP_PLOT_EINVAL);
    cp_plot_destroy(p);
}

static void non_finite_values_are_skipped_and_counted(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 300, "skips");
    assert_non_null(p);
    double x[100], y[100];
    for (int i = 0; i < 100; i++)
        x[i] = i, y[i] = i % 7;
    x[3] = NAN;
    y[10] = INFINITY;
    x[20] = -INFINITY, y[20] = NAN; /* one point, counted once */
    assert_int_equal(cp_plot_scatter(p, x, y, 100, "x", "y", CP_PLOT_ZERO_LINE), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 3);
    double xmin, xmax, ymin, ymax;
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    assert_true(isfinite(xmin) && isfinite(xmax) && xmin < 0 && xmax > 99 && ymax > 6);
    img_t img;
    render(p, &img);
    free(img.rgb);

    double v[] = {1, 2, NAN, 3, INFINITY, -INFINITY, 2};
    assert_int_equal(cp_plot_histogram(p, v, 7, 3, "v"), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 3);
    render(p, &img);
    free(img.rgb);

    const char *labels[] = {"a", "nan", "c"};
    double vals[] = {2, NAN, 1};
    assert_int_equal(cp_plot_bars(p, labels, vals, 3, NULL), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 1);
    cp_plot_destroy(p);
}

/* The "no data" note: dark text in the middle of the plot area, and no data colour. */
static void assert_no_data(const cp_plot_t *p)
{
    img_t img;
    render(p, &img);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    int cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    assert_true(count_in(&img, cx - 30, cy - 8, cx + 30, cy + 8, is_dark) > 30);
    assert_int_equal(count_in(&img, 0, 0, img.w - 1, img.h - 1, is_blue), 0);
    free(img.rgb);
}

static void empty_input_says_no_data(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 300, "empty");
    assert_non_null(p);
    assert_int_equal(cp_plot_scatter(p, NULL, NULL, 0, "x", "y", CP_PLOT_DIAGONAL), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 0);
    assert_no_data(p);
    assert_int_equal(cp_plot_scatter(p, NULL, NULL, 0, "x", "y", CP_PLOT_LOG_X | CP_PLOT_LOG_Y),
                     CP_PLOT_OK);
    assert_no_data(p);
    assert_int_equal(cp_plot_histogram(p, NULL, 0, 0, "residual"), CP_PLOT_OK);
    assert_no_data(p);
    assert_int_equal(cp_plot_bars(p, NULL, NULL, 0, "importance"), CP_PLOT_OK);
    assert_no_data(p);
    /* all values unusable is the same as none, but counted */
    double nan2[] = {NAN, INFINITY};
    assert_int_equal(cp_plot_scatter(p, nan2, nan2, 2, NULL, NULL, 0), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 2);
    assert_no_data(p);
    assert_int_equal(cp_plot_histogram(p, nan2, 2, 10, NULL), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 2);
    assert_no_data(p);
    const char *labels[] = {"a", "b"};
    assert_int_equal(cp_plot_bars(p, labels, nan2, 2, NULL), CP_PLOT_OK);
    assert_int_equal(cp_plot_skipped(p), 2);
    assert_no_data(p);
    cp_plot_destroy(p);
}

/* Blue runs down the column x: their middle rows, top to bottom. */
static int bar_rows(const img_t *img, int x, int y0, int y1, int *mid, int max)
{
    int n = 0;
    for (int y = y0; y <= y1 && n < max; y++) {
        if (!is_blue(px(img, x, y)))
            continue;
        int start = y;
        while (y <= y1 && is_blue(px(img, x, y)))
            y++;
        mid[n++] = (start + y - 1) / 2;
    }
    return n;
}

/* Length of the blue run starting at column x0 in row y. */
static int run_right(const img_t *img, int x0, int y)
{
    int x = x0;
    while (x < img->w && is_blue(px(img, x, y)))
        x++;
    return x - x0;
}

static void bars_are_proportional_and_in_order(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(600, 400, "feature importance");
    assert_non_null(p);
    const char *labels[] = {"f_age", "make", "mileage_km"};
    double values[] = {0.4, 0.2, 0.1};
    assert_int_equal(cp_plot_bars(p, labels, values, 3, "importance"), CP_PLOT_OK);
    double xmin, xmax;
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin == 0 && xmax > 0.4);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    img_t img;
    render(p, &img);
    int mid[8];
    assert_int_equal(bar_rows(&img, x0 + 2, y0, y1, mid, 8), 3);
    int len[3];
    for (int i = 0; i < 3; i++) {
        len[i] = run_right(&img, x0 + 1, mid[i]) + 1; /* the bar starts under the frame */
        double want = values[i] / xmax * (x1 - x0);
        assert_true(fabs(len[i] - want) <= 1.5);
        /* its label sits left of the plot area on the same row */
        assert_true(count_in(&img, 0, mid[i] - 4, x0 - 2, mid[i] + 4, is_dark) > 10);
    }
    assert_true(abs(len[0] - 2 * len[1]) <= 2);
    assert_true(abs(len[1] - 2 * len[2]) <= 2);
    assert_true(mid[0] < mid[1] && mid[1] < mid[2]); /* first given is on top */
    free(img.rgb);

    /* negative values grow left from the zero line */
    double signed_values[] = {3, -1};
    assert_int_equal(cp_plot_bars(p, labels, signed_values, 2, NULL), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin < -1 && xmax > 3);
    cp_plot_area(p, &x0, &y0, &x1, &y1); /* the labels differ, so does the area */
    render(p, &img);
    assert_int_equal(bar_rows(&img, x0 + (x1 - x0) * 2 / 3, y0, y1, mid, 8), 1);
    int zx = (int)lrint(x0 + (0 - xmin) / (xmax - xmin) * (x1 - x0));
    assert_true(is_blue(px(&img, zx - 3, y0 + (y1 - y0) * 3 / 4)));
    assert_false(is_blue(px(&img, zx + 3, y0 + (y1 - y0) * 3 / 4)));
    free(img.rgb);
    cp_plot_destroy(p);
}

static void many_bars_show_the_top_ones(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 200, "top");
    assert_non_null(p);
    enum { N = 100 };
    const char *labels[N];
    double values[N];
    for (int i = 0; i < N; i++)
        labels[i] = "a_rather_long_feature_name_that_will_not_fit", values[i] = N - i;
    assert_int_equal(cp_plot_bars(p, labels, values, N, NULL), CP_PLOT_OK);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    assert_true(x0 < 400 / 2); /* the long label was cut */
    img_t img;
    render(p, &img);
    int mid[N];
    int rows = bar_rows(&img, x0 + 2, y0, y1, mid, N);
    assert_in_range(rows, 3, 20);
    /* the first (largest) bar is drawn, as long as the scale says */
    double xmax;
    cp_plot_range(p, NULL, &xmax, NULL, NULL);
    assert_true(fabs(run_right(&img, x0 + 1, mid[0]) + 1 - 100 / xmax * (x1 - x0)) <= 1.5);
    free(img.rgb);
    cp_plot_destroy(p);
}

static bool is_grey_text(const unsigned char *c)
{
    return c[0] == c[1] && c[1] == c[2] && c[0] < 160;
}

/* Grey (value label) pixels right of the bars, inside the plot area, in the
 * row band of bar `row` of `rows`. */
static size_t value_label_pixels(int width, const double *values, int rows, int row)
{
    cp_plot_t *p = cp_plot_new(width, 400, NULL);
    assert_non_null(p);
    const char *labels[] = {"a", "b", "c"};
    assert_int_equal(cp_plot_bars(p, labels, values, (size_t)rows, NULL), CP_PLOT_OK);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    img_t img;
    render(p, &img);
    int band = (y1 - y0) / rows;
    /* strictly inside the frame, whose edges are grey too */
    size_t n =
        count_in(&img, x0 + 1, y0 + 1 + row * band, x1 - 1, y0 + (row + 1) * band, is_grey_text);
    free(img.rgb);
    cp_plot_destroy(p);
    return n;
}

static void bar_values_are_printed_whole(void **state)
{
    (void)state;
    /* the shorter bar has the longer label: it must fit too */
    double values[] = {1, 0.999, 0.5};
    for (int row = 0; row < 3; row++) {
        size_t narrow = value_label_pixels(400, values, 3, row);
        assert_true(narrow > 20);
        assert_int_equal(narrow, value_label_pixels(1600, values, 3, row));
    }
}

/* Height of the blue column at x, from the bottom of the plot area up. */
static int run_up(const img_t *img, int x, int y1)
{
    int y = y1 - 1;
    while (y >= 0 && is_blue(px(img, x, y)))
        y--;
    return y1 - y;
}

static void histogram_bars_follow_counts(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(600, 400, "histogram");
    assert_non_null(p);
    /* three bins over [0.5, 2.5], edges at 1.1667 and 1.8333; values on
     * either side of each edge */
    double v[66];
    int k = 0;
    for (int i = 0; i < 10; i++)
        v[k++] = 0.5;
    for (int i = 0; i < 5; i++)
        v[k++] = 1.16;
    for (int i = 0; i < 30; i++)
        v[k++] = 1.17;
    for (int i = 0; i < 20; i++)
        v[k++] = 1.84;
    v[k++] = 2.5;
    assert_int_equal(cp_plot_histogram(p, v, 66, 3, "value"), CP_PLOT_OK);
    double xmin, xmax, ymin, ymax;
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    assert_true(xmin < 0.5 && xmax > 2.5 && ymin == 0 && ymax >= 30);
    int x0, y0, x1, y1;
    cp_plot_area(p, &x0, &y0, &x1, &y1);
    img_t img;
    render(p, &img);
    /* bins are [0.5, 1.17), [1.17, 1.83), [1.83, 2.5]: sample each bin's middle */
    int h[3];
    double centres[] = {0.5 + 1.0 / 3, 1.5, 2.5 - 1.0 / 3};
    for (int b = 0; b < 3; b++) {
        int cx = (int)lrint(x0 + (centres[b] - xmin) / (xmax - xmin) * (x1 - x0));
        h[b] = run_up(&img, cx, y1);
    }
    double unit = (double)(y1 - y0) / ymax; /* pixels per count */
    assert_true(fabs(h[0] - 15 * unit) <= 1.5);
    assert_true(fabs(h[1] - 30 * unit) <= 1.5);
    assert_true(fabs(h[2] - 21 * unit) <= 1.5);
    free(img.rgb);
    cp_plot_destroy(p);
}

static void histogram_range_ignores_a_few_outliers(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 300, NULL);
    assert_non_null(p);
    enum { N = 10000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N; i++)
        v[i] = (i % 200) - 100.0; /* -100 .. 99 */
    v[7] = 1e9, v[8] = -1e9;
    assert_int_equal(cp_plot_histogram(p, v, N, 0, NULL), CP_PLOT_OK);
    double xmin, xmax;
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin > -110 && xmax < 110);
    assert_int_equal(cp_plot_skipped(p), 0); /* outside the range is not "skipped" */
    free(v);
    cp_plot_destroy(p);
}

/* Magnitudes near the largest double, and spans too narrow to label, still
 * give a finite, drawable chart. */
static void extreme_values_still_draw(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(400, 300, "extremes");
    assert_non_null(p);
    double x[] = {-DBL_MAX, DBL_MAX, 0, 1e308, DBL_MIN};
    double y[] = {DBL_MAX, -DBL_MAX, 0, -1e308, 5e-324};
    img_t img;
    double xmin, xmax, ymin, ymax;
    assert_int_equal(cp_plot_scatter(p, x, y, 5, "x", "y", 0), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, &ymin, &ymax);
    assert_true(isfinite(xmin) && isfinite(xmax) && xmin < -1e299 && xmax > 1e299);
    assert_true(isfinite(ymin) && isfinite(ymax));
    render(p, &img);
    int cx, cy; /* the point at the origin sits in the middle */
    to_pixel(p, 0, 0, false, &cx, &cy);
    assert_true(is_blue(px(&img, cx, cy)));
    free(img.rgb);
    assert_int_equal(cp_plot_scatter(p, x, y, 5, NULL, NULL, CP_PLOT_DIAGONAL), CP_PLOT_OK);
    render(p, &img);
    free(img.rgb);

    assert_int_equal(cp_plot_histogram(p, x, 5, 0, NULL), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(isfinite(xmin) && isfinite(xmax));
    render(p, &img);
    free(img.rgb);

    const char *labels[] = {"huge", "tiny", "minus"};
    double vals[] = {DBL_MAX, DBL_MIN, -1e308};
    assert_int_equal(cp_plot_bars(p, labels, vals, 3, NULL), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(isfinite(xmin) && isfinite(xmax) && xmin < 0 && xmax > 0);
    render(p, &img);
    free(img.rgb);

    /* 1 and the next few doubles: one value, labelled around it */
    double near[] = {1, 1 + 2e-16, 1 + 4e-16};
    assert_int_equal(cp_plot_scatter(p, near, near, 3, NULL, NULL, 0), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin < 0.95 && xmax > 1.05);
    assert_int_equal(cp_plot_histogram(p, near, 3, 0, NULL), CP_PLOT_OK);
    cp_plot_range(p, &xmin, &xmax, NULL, NULL);
    assert_true(xmin < 0.95 && xmax > 1.05);
    cp_plot_destroy(p);
}

/* The smallest canvas, with the widest tick labels and long texts, keeps a
 * usable plot area for every chart. */
static void smallest_canvas_keeps_a_plot_area(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(CP_PLOT_MIN_SIZE, CP_PLOT_MIN_SIZE, "a long title for a tiny chart");
    assert_non_null(p);
    double x[] = {-123456.789012, 987654.321098}, y[] = {-0.000123456, 987654321.5};
    const char *labels[] = {"a_feature_name_that_is_long", "another_long_feature_name"};
    for (int chart = 0; chart < 3; chart++) {
        int rc = chart == 0   ? cp_plot_scatter(p, x, y, 2, "a long x label", "a long y label", 0)
                 : chart == 1 ? cp_plot_histogram(p, y, 2, 0, "a long x label")
                              : cp_plot_bars(p, labels, y, 2, "a long x label");
        assert_int_equal(rc, CP_PLOT_OK);
        int x0, y0, x1, y1;
        cp_plot_area(p, &x0, &y0, &x1, &y1);
        assert_true(x0 >= 0 && y0 >= 0 && x1 < CP_PLOT_MIN_SIZE && y1 < CP_PLOT_MIN_SIZE);
        assert_true(x1 - x0 >= 40 && y1 - y0 >= 40);
        img_t img;
        render(p, &img);
        assert_true(count_in(&img, x0, y0, x1, y1, is_blue) > 0);
        /* the x axis keeps tick labels */
        assert_true(count_in(&img, x0, y1 + 4, x1, y1 + 14, is_dark) > 10);
        free(img.rgb);
    }
    cp_plot_destroy(p);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    assert_null(cp_plot_new(CP_PLOT_MIN_SIZE - 1, 300, "x"));
    assert_null(cp_plot_new(300, CP_PLOT_MAX_SIZE + 1, "x"));
    assert_null(cp_plot_new(-5, -5, NULL));
    cp_plot_t *p = cp_plot_new(300, 200, "x");
    assert_non_null(p);
    double d[] = {1, 2};
    const char *labels[] = {"a", NULL};
    assert_int_equal(cp_plot_scatter(NULL, d, d, 2, NULL, NULL, 0), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_scatter(p, NULL, d, 2, NULL, NULL, 0), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_scatter(p, d, NULL, 2, NULL, NULL, 0), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_scatter(p, d, d, 2, NULL, NULL, 1u << 12), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_histogram(p, NULL, 2, 0, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_histogram(p, d, 2, -1, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_histogram(p, d, 2, CP_PLOT_MAX_BINS + 1, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_histogram(p, d, 2, CP_PLOT_MAX_BINS, NULL), CP_PLOT_OK);
    assert_int_equal(cp_plot_bars(p, labels, d, 2, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_bars(p, NULL, d, 1, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_bars(p, labels, NULL, 1, NULL), CP_PLOT_EINVAL);
    unsigned char *png = NULL;
    size_t len = 0;
    assert_int_equal(cp_plot_png(NULL, &png, &len), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_png(p, NULL, &len), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_png(p, &png, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_write_png(p, NULL), CP_PLOT_EINVAL);
    assert_int_equal(cp_plot_write_png(p, "/nonexistent-dir/x.png"), CP_PLOT_EIO);
    assert_string_equal(cp_plot_strerror(CP_PLOT_EINVAL), "invalid argument");
    assert_string_not_equal(cp_plot_strerror(CP_PLOT_ENOMEM), cp_plot_strerror(CP_PLOT_EIO));
    assert_non_null(cp_plot_strerror(12345));
    assert_int_equal(cp_plot_skipped(NULL), 0);
    assert_null(cp_plot_rgb(NULL, NULL, NULL));
    cp_plot_destroy(NULL);
    cp_plot_destroy(p);
}

static void write_png_writes_the_same_bytes(void **state)
{
    (void)state;
    cp_plot_t *p = cp_plot_new(300, 200, "file");
    assert_non_null(p);
    double v[] = {1, 2, 2, 3, 3, 3};
    assert_int_equal(cp_plot_histogram(p, v, 6, 0, "v"), CP_PLOT_OK);
    char path[] = "/tmp/carprice-plot-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    unsigned char *png;
    size_t len;
    assert_int_equal(cp_plot_png(p, &png, &len), CP_PLOT_OK);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char *got = malloc(len + 1);
    assert_non_null(got);
    assert_int_equal(fread(got, 1, len + 1, fp), len);
    assert_memory_equal(got, png, len);
    fclose(fp);
    unlink(path);
    free(got);
    free(png);
    cp_plot_destroy(p);
}

/* Draws an empty chart on p and returns a copy of the band above the plot
 * area, where the title is. */
static unsigned char *title_band(cp_plot_t *p, size_t *size)
{
    assert_int_equal(cp_plot_scatter(p, NULL, NULL, 0, NULL, NULL, 0), CP_PLOT_OK);
    int w, y0;
    const unsigned char *rgb = cp_plot_rgb(p, &w, NULL);
    cp_plot_area(p, NULL, &y0, NULL, NULL);
    *size = (size_t)w * (size_t)y0 * 3;
    unsigned char *band = malloc(*size);
    assert_non_null(band);
    memcpy(band, rgb, *size);
    return band;
}

static void every_glyph_is_drawn_and_distinct(void **state)
{
    (void)state;
    unsigned char *bands[95] = {0};
    size_t size = 0;
    for (int c = 32; c <= 126; c++) {
        char title[2] = {(char)c, 0};
        cp_plot_t *p = cp_plot_new(200, 160, title);
        assert_non_null(p);
        bands[c - 32] = title_band(p, &size);
        size_t dark = 0;
        for (size_t i = 0; i < size; i += 3)
            dark += bands[c - 32][i] < 100;
        if (c == ' ')
            assert_int_equal(dark, 0);
        else if (dark == 0)
            fail_msg("glyph '%c' draws nothing", c);
        for (int o = 32; o < c; o++)
            if (!memcmp(bands[o - 32], bands[c - 32], size))
                fail_msg("glyphs '%c' and '%c' look the same", o, c);
        cp_plot_destroy(p);
    }
    /* bytes outside printable ASCII show as '?' rather than vanish */
    cp_plot_t *q = cp_plot_new(200, 160, "\x01");
    assert_non_null(q);
    unsigned char *b = title_band(q, &size);
    assert_memory_equal(b, bands['?' - 32], size);
    free(b);
    cp_plot_destroy(q);
    for (int i = 0; i < 95; i++)
        free(bands[i]);
}

static void long_text_stays_on_the_canvas(void **state)
{
    (void)state;
    char title[2000];
    memset(title, 'W', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    cp_plot_t *p = cp_plot_new(300, 200, title);
    assert_non_null(p);
    double d[] = {1, 2};
    assert_int_equal(cp_plot_scatter(p, d, d, 2, title, title, 0), CP_PLOT_OK);
    img_t img;
    render(p, &img);
    /* the outermost columns stay blank: text was cut, not run off the edge */
    for (int y = 0; y < img.h; y++) {
        assert_int_equal(px(&img, 0, y)[0], 255);
        assert_int_equal(px(&img, img.w - 1, y)[0], 255);
    }
    int x0, x1;
    cp_plot_area(p, &x0, NULL, &x1, NULL);
    assert_true(x1 - x0 > 100); /* the labels did not eat the plot */
    free(img.rgb);
    cp_plot_destroy(p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic pseudo-random numbers: uniform (0, 1) and standard normal. */
static uint64_t rng_state = 42;

static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static void a_million_points_are_fast(void **state)
{
    (void)state;
    enum { N = 1000000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < N; i++) {
        a[i] = exp(9.5 + 0.8 * normal());
        b[i] = a[i] * exp(0.2 * normal());
    }
    a[5] = NAN;
    cp_plot_t *p = cp_plot_new(800, 800, "a million points");
    assert_non_null(p);
    double t0 = now_s();
    assert_int_equal(cp_plot_scatter(p, a, b, N, "actual", "predicted",
                                     CP_PLOT_DIAGONAL | CP_PLOT_LOG_X | CP_PLOT_LOG_Y),
                     CP_PLOT_OK);
    double t1 = now_s();
    assert_int_equal(cp_plot_skipped(p), 1);
    for (int i = 0; i < N; i++)
        b[i] -= a[i];
    assert_int_equal(cp_plot_histogram(p, b, N, 0, "residual"), CP_PLOT_OK);
    double t2 = now_s();
    unsigned char *png;
    size_t len;
    assert_int_equal(cp_plot_png(p, &png, &len), CP_PLOT_OK);
    double t3 = now_s();
    print_message("1e6 points: scatter %.3f s, histogram %.3f s, png %.3f s (%zu bytes)\n", t1 - t0,
                  t2 - t1, t3 - t2, len);
    /* generous for sanitizer builds; quadratic work would take hours */
    assert_true(t3 - t0 < 30);
    free(png);
    free(a);
    free(b);
    cp_plot_destroy(p);
}

/* Realistic report charts, written only when CARPRICE_PLOT_SAMPLE_DIR is set. */
static void sample_charts(void **state)
{
    (void)state;
    const char *dir = getenv("CARPRICE_PLOT_SAMPLE_DIR");
    if (!dir || !*dir)
        skip();
    enum { N = 20000 };
    double *actual = malloc(N * sizeof *actual), *pred = malloc(N * sizeof *pred);
    double *resid = malloc(N * sizeof *resid);
    assert_non_null(actual);
    assert_non_null(pred);
    assert_non_null(resid);
    for (int i = 0; i < N; i++) {
        actual[i] = round(exp(9.6 + 0.75 * normal()));
        pred[i] = actual[i] * exp(0.18 * normal());
        resid[i] = pred[i] - actual[i];
    }
    actual[0] = NAN;
    char path[4096];
    cp_plot_t *p = cp_plot_new(800, 800, "Predicted vs actual price (test set)");
    assert_non_null(p);
    assert_int_equal(cp_plot_scatter(p, actual, pred, N, "actual price (EUR)",
                                     "predicted price (EUR)",
                                     CP_PLOT_DIAGONAL | CP_PLOT_LOG_X | CP_PLOT_LOG_Y),
                     CP_PLOT_OK);
    snprintf(path, sizeof path, "%s/plot-pred-vs-actual.png", dir);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    cp_plot_destroy(p);

    p = cp_plot_new(900, 600, "Residuals (predicted - actual)");
    assert_non_null(p);
    assert_int_equal(cp_plot_histogram(p, resid, N, 0, "residual (EUR)"), CP_PLOT_OK);
    snprintf(path, sizeof path, "%s/plot-residual-hist.png", dir);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    assert_int_equal(cp_plot_scatter(p, pred, resid, N, "predicted price (EUR)", "residual (EUR)",
                                     CP_PLOT_LOG_X | CP_PLOT_ZERO_LINE),
                     CP_PLOT_OK);
    snprintf(path, sizeof path, "%s/plot-residual-scatter.png", dir);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    cp_plot_destroy(p);

    const char *names[] = {"f_age",         "mileage_km", "make",    "model",
                           "engine_power",  "fuel_type",  "gearbox", "body_type",
                           "f_km_per_year", "region",     "seller",  "colour",
                           "doors",         "f_is_new",   "damage",  "first_owner"};
    double imp[] = {0.312, 0.201, 0.118, 0.094, 0.071, 0.052, 0.041,  0.033,
                    0.027, 0.019, 0.012, 0.008, 0.005, 0.004, 0.0025, 0.0011};
    p = cp_plot_new(900, 600, "Feature importance (top 16)");
    assert_non_null(p);
    assert_int_equal(cp_plot_bars(p, names, imp, 16, "importance (gain share)"), CP_PLOT_OK);
    snprintf(path, sizeof path, "%s/plot-importance.png", dir);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    cp_plot_destroy(p);

    p = cp_plot_new(640, 480, "Nothing to show");
    assert_non_null(p);
    assert_int_equal(cp_plot_scatter(p, NULL, NULL, 0, "x", "y", 0), CP_PLOT_OK);
    snprintf(path, sizeof path, "%s/plot-empty.png", dir);
    assert_int_equal(cp_plot_write_png(p, path), CP_PLOT_OK);
    cp_plot_destroy(p);
    free(actual);
    free(pred);
    free(resid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_is_valid_and_matches_canvas),
        cmocka_unit_test(fresh_canvas_is_white),
        cmocka_unit_test(one_point_lands_where_the_axes_say),
        cmocka_unit_test(points_keep_their_positions),
        cmocka_unit_test(diagonal_runs_corner_to_corner),
        cmocka_unit_test(log_axes_place_prices_by_decade),
        cmocka_unit_test(non_finite_values_are_skipped_and_counted),
        cmocka_unit_test(empty_input_says_no_data),
        cmocka_unit_test(bars_are_proportional_and_in_order),
        cmocka_unit_test(bar_values_are_printed_whole),
        cmocka_unit_test(many_bars_show_the_top_ones),
        cmocka_unit_test(histogram_bars_follow_counts),
        cmocka_unit_test(histogram_range_ignores_a_few_outliers),
        cmocka_unit_test(extreme_values_still_draw),
        cmocka_unit_test(smallest_canvas_keeps_a_plot_area),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(write_png_writes_the_same_bytes),
        cmocka_unit_test(every_glyph_is_drawn_and_distinct),
        cmocka_unit_test(long_text_stays_on_the_canvas),
        cmocka_unit_test(a_million_points_are_fast),
        cmocka_unit_test(sample_charts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
