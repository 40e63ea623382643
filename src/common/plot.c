/* Charts drawn into an RGB canvas with a built-in bitmap font, encoded as PNG
 * with zlib. See include/carprice/plot.h. */
#include "carprice/plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- font ---------------------------------------------------------------
 * 5x8 cells for ASCII 32..126: one byte per row, bit 4 is the leftmost column.
 * Capitals and digits use rows 0..6 (baseline under row 6); row 7 holds the
 * descenders of g, j, p, q, y and the underscore. Drawn by hand for this file. */
#define GLYPH_W   5
#define GLYPH_H   8
#define GLYPH_ADV 6 /* horizontal advance: one blank column between glyphs */

static const unsigned char font[95][GLYPH_H] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /*   */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00}, /* ! */
    {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00}, /* # */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00}, /* % */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00}, /* & */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00}, /* quote */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00}, /* ) */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00}, /* / */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00}, /* 9 */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* : */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00}, /* < */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00}, /* > */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00}, /* ? */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00}, /* @ */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* C */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00}, /* X */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04, 0x00}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00}, /* Z */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00}, /* backslash */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00}, /* ] */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* _ */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00}, /* b */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* c */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00}, /* d */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00}, /* e */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00}, /* f */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* h */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00}, /* k */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* l */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x15, 0x15, 0x00}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* n */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* o */
    {0x00, 0x00, 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00}, /* r */
    {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0x00}, /* s */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00}, /* w */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00}, /* ~ */
};

/* ---- canvas ------------------------------------------------------------- */

typedef struct {
    unsigned char r, g, b;
} rgb_t;

static const rgb_t C_GRID = {229, 229, 229};
static const rgb_t C_MINOR = {244, 244, 244};
static const rgb_t C_FRAME = {110, 110, 110};
static const rgb_t C_TEXT = {33, 33, 33};
static const rgb_t C_SUBTEXT = {105, 105, 105};
static const rgb_t C_DATA = {31, 119, 180};
static const rgb_t C_DIAG = {214, 39, 40};
static const rgb_t C_ZERO = {120, 120, 120};

#define MAX_TICKS 16
#define MAX_MINOR 128
#define TEXT_MAX  512
#define MIN_AREA  40 /* smallest plot area side in pixels */

/* One axis: its limits and ticks, in axis units (log10 of the data on a log axis). */
typedef struct {
    double lo, hi;
    bool log;
    int n, nminor;
    double t[MAX_TICKS];
    double minor[MAX_MINOR];
    char label[MAX_TICKS][24];
    bool integer; /* ticks at whole numbers only (counts) */
    int label_w;  /* widest tick label in pixels */
} axis_t;

struct cp_plot_s {
    int w, h;
    unsigned char *rgb;
    char *title;
    size_t skipped;
    int s;                  /* text scale: 1 or 2 pixels per font pixel */
    int ax0, ay0, ax1, ay1; /* plot area, inclusive */
    int cx0, cy0, cx1, cy1; /* clip rectangle, inclusive */
    axis_t x, y;
};

static void clip_all(cp_plot_t *p)
{
    p->cx0 = 0;
    p->cy0 = 0;
    p->cx1 = p->w - 1;
    p->cy1 = p->h - 1;
}

static void clip_area(cp_plot_t *p)
{
    p->cx0 = p->ax0;
    p->cy0 = p->ay0;
    p->cx1 = p->ax1;
    p->cy1 = p->ay1;
}

static void put(cp_plot_t *p, int x, int y, rgb_t c)
{
    if (x < p->cx0 || x > p->cx1 || y < p->cy0 || y > p->cy1)
        return;
    unsigned char *q = p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3;
    q[0] = c.r;
    q[1] = c.g;
    q[2] = c.b;
}

static unsigned char mix(unsigned char under, unsigned char over, double a)
{
    return (unsigned char)lrint(under + (over - under) * a);
}

static void blend(cp_plot_t *p, int x, int y, rgb_t c, double a)
{
    if (x < p->cx0 || x > p->cx1 || y < p->cy0 || y > p->cy1 || a <= 0)
        return;
    if (a > 1)
        a = 1;
    unsigned char *q = p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3;
    q[0] = mix(q[0], c.r, a);
    q[1] = mix(q[1], c.g, a);
    q[2] = mix(q[2], c.b, a);
}

/* Fills the rectangle with corners (x0, y0) and (x1, y1), both included. */
static void fill(cp_plot_t *p, int x0, int y0, int x1, int y1, rgb_t c)
{
    if (x0 < p->cx0)
        x0 = p->cx0;
    if (y0 < p->cy0)
        y0 = p->cy0;
    if (x1 > p->cx1)
        x1 = p->cx1;
    if (y1 > p->cy1)
        y1 = p->cy1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            put(p, x, y, c);
}

/* A straight line `width` pixels wide with soft edges; dashed when dash > 0,
 * with the pattern stretched so that the line starts and ends with a dash. */
static void line(cp_plot_t *p, double x0, double y0, double x1, double y1, double width, rgb_t c,
                 double dash, double gap)
{
    double dx = x1 - x0, dy = y1 - y0;
    bool steep = fabs(dy) > fabs(dx);
    if (steep) { /* walk along y */
        double t = x0;
        x0 = y0;
        y0 = t;
        t = x1;
        x1 = y1;
        y1 = t;
    }
    if (x0 > x1) {
        double t = x0;
        x0 = x1;
        x1 = t;
        t = y0;
        y0 = y1;
        y1 = t;
    }
    double len = hypot(x1 - x0, y1 - y0);
    double slope = x1 > x0 ? (y1 - y0) / (x1 - x0) : 0;
    double stretch = sqrt(1 + slope * slope); /* length per step along the major axis */
    double half = width * stretch / 2;        /* half width measured along the minor axis */
    double period = 0;
    if (dash > 0 && len > dash) {
        double k = floor((len + gap) / (dash + gap) + 0.5);
        if (k < 1)
            k = 1;
        period = (len + gap) / k; /* k dashes and k - 1 gaps fill the line exactly */
        dash = period - gap;
    }
    for (int i = (int)ceil(x0); i <= (int)floor(x1); i++) {
        double along = (i - x0) * stretch;
        if (period > 0 && fmod(along, period) > dash)
            continue;
        double m = y0 + slope * (i - x0);
        for (int j = (int)floor(m - half); j <= (int)ceil(m + half); j++) {
            double cover = half + 0.5 - fabs(j - m);
            if (cover <= 0)
                continue;
            if (steep)
                blend(p, j, i, c, cover);
            else
                blend(p, i, j, c, cover);
        }
    }
}

/* ---- text --------------------------------------------------------------- */

static const unsigned char *glyph(unsigned char ch)
{
    if (ch < 32 || ch > 126)
        ch = '?';
    return font[ch - 32];
}

static int text_w(const char *s, int scale)
{
    size_t n = strlen(s);
    return n ? ((int)n * GLYPH_ADV - 1) * scale : 0;
}

enum { AL_LEFT, AL_CENTER, AL_RIGHT };

/* Draws s with the top of its box at y; x is its left edge, centre or right
 * edge as `align` says. */
static void text(cp_plot_t *p, int x, int y, const char *s, int scale, rgb_t c, int align)
{
    int w = text_w(s, scale);
    if (align == AL_CENTER)
        x -= w / 2;
    else if (align == AL_RIGHT)
        x -= w;
    for (; *s; s++, x += GLYPH_ADV * scale) {
        const unsigned char *g = glyph((unsigned char)*s);
        for (int r = 0; r < GLYPH_H; r++)
            for (int col = 0; col < GLYPH_W; col++)
                if (g[r] & (0x10 >> col))
                    fill(p, x + col * scale, y + r * scale, x + (col + 1) * scale - 1,
                         y + (r + 1) * scale - 1, c);
    }
}

/* Draws s turned a quarter left (read bottom to top), its box's left edge at
 * x and centred vertically on y. */
static void text_up(cp_plot_t *p, int x, int y, const char *s, int scale, rgb_t c)
{
    int base = y + text_w(s, scale) / 2; /* where the first glyph starts */
    for (int i = 0; s[i]; i++) {
        const unsigned char *g = glyph((unsigned char)s[i]);
        for (int r = 0; r < GLYPH_H; r++)
            for (int col = 0; col < GLYPH_W; col++)
                if (g[r] & (0x10 >> col)) {
                    int px = x + r * scale;
                    int py = base - (i * GLYPH_ADV + col + 1) * scale + 1;
                    fill(p, px, py, px + scale - 1, py + scale - 1, c);
                }
    }
}

/* Copies s into out, '?' for bytes the font lacks, cut with "..." to fit
 * max_w pixels at this scale. NULL gives "". */
static void fit_text(char *out, size_t size, const char *s, int max_w, int scale)
{
    size_t n = 0;
    for (; s && s[n] && n + 1 < size; n++)
        out[n] = (s[n] >= 32 && s[n] <= 126) ? s[n] : '?';
    out[n] = '\0';
    int max_chars = (max_w / scale + 1) / GLYPH_ADV;
    if (max_chars < 0)
        max_chars = 0;
    if ((int)n <= max_chars)
        return;
    if (max_chars < 4) {
        out[max_chars] = '\0';
        return;
    }
    memcpy(out + max_chars - 3, "...", 4);
}

/* ---- numbers and ticks -------------------------------------------------- */

/* "2e-07" -> "2e-7", "1e+20" -> "1e20": exponents as people write them. */
static void tidy_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e)
        return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+')
        src++;
    else if (*src == '-')
        *dst++ = *src++;
    while (*src == '0' && src[1])
        src++;
    memmove(dst, src, strlen(src) + 1);
}

/* v with the fewest significant digits that still tell ticks apart, and k, M
 * or G for thousands, millions and billions. */
static void fmt_compact(char *out, size_t size, double v, int digits)
{
    static const struct {
        double div;
        const char *suffix;
    } units[] = {{1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (fabs(v) >= units[i].div && fabs(v) < 1e15) {
            snprintf(out, size, "%.*g%s", digits, v / units[i].div, units[i].suffix);
            return;
        }
    snprintf(out, size, "%.*g", digits, v);
    tidy_exponent(out);
}

/* Labels for evenly spaced ticks: the same number of decimals on each, and
 * thousands as "k" once the numbers get long. */
static void fmt_linear(char *out, size_t size, double v, double step, double maxabs)
{
    if (maxabs >= 1e15 || (maxabs > 0 && maxabs < 1e-4)) {
        snprintf(out, size, "%.2g", v);
        tidy_exponent(out);
        return;
    }
    /* the largest unit that keeps the step at one decimal or better; plain
     * numbers up to 9999 */
    static const struct {
        double div, from;
        const char *suffix;
    } units[] = {{1e9, 1e9, "G"}, {1e6, 1e6, "M"}, {1e3, 1e4, "k"}, {1, 0, ""}};
    size_t u = 0;
    while (units[u].div > 1 && (maxabs < units[u].from || step / units[u].div < 0.1))
        u++;
    double div = units[u].div;
    const char *suffix = units[u].suffix;
    double st = step / div;
    int decimals = st >= 1 ? 0 : (int)ceil(-log10(st) - 1e-9);
    if (decimals > 8)
        decimals = 8;
    snprintf(out, size, "%.*f%s", decimals, v / div, v == 0 ? "" : suffix);
}

/* 1, 2 or 5 times a power of ten, near span / target. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void ticks_linear(axis_t *a, double lo, double hi, int target, bool to_log)
{
    double step = nice_step(hi - lo, target);
    if (a->integer && step < 1)
        step = 1;
    double first = ceil(lo / step - 1e-9) * step;
    double maxabs = fmax(fabs(first), fabs(floor(hi / step + 1e-9) * step));
    a->n = 0;
    for (int i = 0; a->n < MAX_TICKS; i++) {
        double v = first + i * step;
        if (v > hi + step * 1e-9)
            break;
        if (fabs(v) < step * 1e-9)
            v = 0;
        if (to_log && v <= 0)
            continue;
        fmt_linear(a->label[a->n], sizeof a->label[0], v, step, maxabs);
        a->t[a->n++] = to_log ? log10(v) : v;
    }
}

/* Ticks on a log axis: whole decades if at least two fit, thinned to about
 * `target`; else 1-2-5 or 1..9 times decades; else evenly spaced values. */
static void ticks_log(axis_t *a, int target)
{
    a->n = 0;
    a->nminor = 0;
    int d0 = (int)ceil(a->lo - 1e-9), d1 = (int)floor(a->hi + 1e-9);
    if (d1 - d0 + 1 >= 2) {
        int k = (d1 - d0 + target) / target; /* ceil((d1 - d0 + 1) / target) */
        for (int d = d0; d <= d1 && a->n < MAX_TICKS; d++) {
            if ((d - d0) % k)
                continue;
            a->t[a->n] = d;
            fmt_compact(a->label[a->n], sizeof a->label[0], pow(10, d), 3);
            a->n++;
        }
        if (k == 1) /* light lines at 2..9 times each decade */
            for (int d = d0 - 1; d <= d1; d++)
                for (int m = 2; m <= 9 && a->nminor < MAX_MINOR; m++) {
                    double v = d + log10(m);
                    if (v > a->lo && v < a->hi)
                        a->minor[a->nminor++] = v;
                }
        return;
    }
    static const int sets[2][10] = {{1, 2, 5, 0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}};
    for (int si = 0; si < 2; si++) {
        a->n = 0;
        for (int d = d0 - 1; d <= d1 && a->n < MAX_TICKS; d++)
            for (int i = 0; sets[si][i] && a->n < MAX_TICKS; i++) {
                double v = d + log10(sets[si][i]);
                if (v < a->lo - 1e-12 || v > a->hi + 1e-12)
                    continue;
                a->t[a->n] = v;
                fmt_compact(a->label[a->n], sizeof a->label[0], sets[si][i] * pow(10, d), 3);
                a->n++;
            }
        if (a->n >= 3 && a->n <= target + 1)
            return;
    }
    ticks_linear(a, pow(10, a->lo), pow(10, a->hi), target, true);
}

/* Picks ticks for an axis `len` pixels long: as many (up to 10) as leave
 * room between their labels. */
static void axis_ticks(axis_t *a, int len, bool horizontal, int scale)
{
    int target = len / (horizontal ? 40 : 32) / scale;
    target = target < 2 ? 2 : target > 10 ? 10 : target;
    for (; target >= 2; target--) {
        a->nminor = 0;
        if (a->log)
            ticks_log(a, target);
        else
            ticks_linear(a, a->lo, a->hi, target, false);
        a->label_w = 0;
        for (int i = 0; i < a->n; i++) {
            int w = text_w(a->label[i], scale);
            if (w > a->label_w)
                a->label_w = w;
        }
        /* about a label's width of space between labels */
        double need = horizontal ? 2 * a->label_w + 12 * scale : 2.5 * GLYPH_H * scale;
        bool fits = true;
        for (int i = 1; i < a->n; i++)
            if ((a->t[i] - a->t[i - 1]) / (a->hi - a->lo) * len < need)
                fits = false;
        if (fits)
            return;
    }
}

/* Linear coordinates beyond this magnitude are drawn at it, so that spans,
 * margins and ticks stay finite. */
#define COORD_MAX 1e300

static double clamp_coord(double v)
{
    return v > COORD_MAX ? COORD_MAX : v < -COORD_MAX ? -COORD_MAX : v;
}

/* Whether [lo, hi] is too narrow for distinct tick labels: one value. */
static bool degenerate(double lo, double hi)
{
    return !(hi - lo > fmax(fabs(lo), fabs(hi)) * 1e-9);
}

/* Limits covering [lo, hi] with a margin; a single value gets some room. */
static void axis_limits(axis_t *a, double lo, double hi, double margin)
{
    if (degenerate(lo, hi)) {
        double mid = lo / 2 + hi / 2;
        double d = a->log ? 0.5 : (mid == 0 ? 1 : fabs(mid) * 0.1);
        lo = mid - d;
        hi = mid + d;
    }
    double pad = (hi - lo) * margin;
    a->lo = lo - pad;
    a->hi = hi + pad;
}

/* Pixel column of axis value u. */
static double px_x(const cp_plot_t *p, double u)
{
    return p->ax0 + (u - p->x.lo) / (p->x.hi - p->x.lo) * (p->ax1 - p->ax0);
}

/* Pixel row of axis value u (up is smaller). */
static double px_y(const cp_plot_t *p, double u)
{
    return p->ay1 - (u - p->y.lo) / (p->y.hi - p->y.lo) * (p->ay1 - p->ay0);
}

/* A pixel coordinate as an int; far-off (or NaN) positions become ones far
 * outside any canvas instead of overflowing the conversion. */
static int to_px(double v)
{
    if (!(v > -1e6))
        return -1000000;
    return v > 1e6 ? 1000000 : (int)lrint(v);
}

/* ---- chart frame ---------------------------------------------------------- */

/* Text and spacing of one chart, decided before drawing anything. */
typedef struct {
    char title[TEXT_MAX], xlabel[TEXT_MAX], ylabel[TEXT_MAX];
    char sub[2][TEXT_MAX]; /* up to two lines of notes under the title */
    int nsub;
    bool y_ticks; /* false for bar charts, whose rows carry labels instead */
    int left;     /* extra room left of the plot area (bar labels) */
} frame_t;

static int pad_px(const cp_plot_t *p)
{
    return 10 * p->s;
}

static int title_scale(const cp_plot_t *p)
{
    return p->w >= 480 ? p->s + 1 : p->s;
}

/* Places the plot area, then picks the ticks that fit it. `square` keeps the
 * area square (for y = x charts). */
static void layout(cp_plot_t *p, frame_t *f, bool square)
{
    int s = p->s, ts = title_scale(p), pad = pad_px(p), tick = 4 * s;
    fit_text(f->title, sizeof f->title, p->title, p->w - 2 * pad, ts);
    int top = pad;
    if (f->title[0])
        top += GLYPH_H * ts + 4 * s;
    top += f->nsub * (GLYPH_H * s + 2 * s);
    top += 8 * s;
    int bottom = pad + tick + 3 * s + GLYPH_H * s;
    if (f->xlabel[0])
        bottom += 6 * s + GLYPH_H * s;
    p->ay0 = top;
    p->ay1 = p->h - 1 - bottom;
    if (p->ay1 - p->ay0 < MIN_AREA)
        p->ay0 = p->ay1 - MIN_AREA;
    if (f->y_ticks)
        axis_ticks(&p->y, p->ay1 - p->ay0, false, s);
    int left = pad + f->left;
    if (f->ylabel[0])
        left += GLYPH_H * s + 8 * s;
    if (f->y_ticks)
        left += p->y.label_w + 3 * s + tick;
    p->ax0 = left;
    p->ax1 = p->w - 1 - 2 * pad;
    /* Labels never take the whole canvas (they may overlap the area instead):
     * CP_PLOT_MIN_SIZE leaves room for this. */
    if (p->ax1 - p->ax0 < MIN_AREA)
        p->ax0 = p->ax1 - MIN_AREA;
    if (square) {
        int w = p->ax1 - p->ax0, h = p->ay1 - p->ay0;
        if (w > h)
            p->ax0 += (w - h) / 2, p->ax1 = p->ax0 + h;
        else
            p->ay0 += (h - w) / 2, p->ay1 = p->ay0 + w;
    }
    axis_ticks(&p->x, p->ax1 - p->ax0, true, s);
}

static void clear(cp_plot_t *p)
{
    memset(p->rgb, 0xff, (size_t)p->w * (size_t)p->h * 3);
    clip_all(p);
}

/* Grid lines under the data. */
static void draw_grid(cp_plot_t *p, bool y_ticks)
{
    clip_area(p);
    for (int i = 0; i < p->x.nminor; i++) {
        int x = to_px(px_x(p, p->x.minor[i]));
        fill(p, x, p->ay0, x, p->ay1, C_MINOR);
    }
    for (int i = 0; y_ticks && i < p->y.nminor; i++) {
        int y = to_px(px_y(p, p->y.minor[i]));
        fill(p, p->ax0, y, p->ax1, y, C_MINOR);
    }
    for (int i = 0; i < p->x.n; i++) {
        int x = to_px(px_x(p, p->x.t[i]));
        fill(p, x, p->ay0, x, p->ay1, C_GRID);
    }
    for (int i = 0; y_ticks && i < p->y.n; i++) {
        int y = to_px(px_y(p, p->y.t[i]));
        fill(p, p->ax0, y, p->ax1, y, C_GRID);
    }
    clip_all(p);
}

/* Frame, ticks, tick labels, axis labels, title and subtitle over the data. */
static void draw_frame(cp_plot_t *p, const frame_t *f)
{
    int s = p->s, ts = title_scale(p), pad = pad_px(p), tick = 4 * s;
    clip_all(p);
    fill(p, p->ax0, p->ay0, p->ax1, p->ay0, C_FRAME);
    fill(p, p->ax0, p->ay1, p->ax1, p->ay1, C_FRAME);
    fill(p, p->ax0, p->ay0, p->ax0, p->ay1, C_FRAME);
    fill(p, p->ax1, p->ay0, p->ax1, p->ay1, C_FRAME);
    /* On a crowded axis a label that would touch the previous one is left out. */
    int free_x = 0;
    for (int i = 0; i < p->x.n; i++) {
        int x = to_px(px_x(p, p->x.t[i]));
        fill(p, x, p->ay1 + 1, x + s - 1, p->ay1 + tick, C_FRAME);
        /* keep the outermost labels inside the canvas */
        int w = text_w(p->x.label[i], s), lx = x - w / 2;
        if (lx + w > p->w - 1)
            lx = p->w - 1 - w;
        if (lx < 0)
            lx = 0;
        if (lx < free_x)
            continue;
        text(p, lx, p->ay1 + tick + 3 * s, p->x.label[i], s, C_TEXT, AL_LEFT);
        free_x = lx + w + 4 * s;
    }
    int free_y = p->h;
    for (int i = 0; f->y_ticks && i < p->y.n; i++) { /* bottom to top */
        int y = to_px(px_y(p, p->y.t[i]));
        fill(p, p->ax0 - tick, y, p->ax0 - 1, y + s - 1, C_FRAME);
        int ty = y - (GLYPH_H - 1) * s / 2;
        if (ty + GLYPH_H * s > free_y)
            continue;
        text(p, p->ax0 - tick - 3 * s, ty, p->y.label[i], s, C_TEXT, AL_RIGHT);
        free_y = ty - 2 * s;
    }
    if (f->xlabel[0]) { /* centred under the plot area, but never off the canvas */
        int w = text_w(f->xlabel, s), lx = (p->ax0 + p->ax1) / 2 - w / 2;
        if (lx + w > p->w - pad)
            lx = p->w - pad - w;
        if (lx < pad)
            lx = pad;
        text(p, lx, p->ay1 + tick + 3 * s + GLYPH_H * s + 6 * s, f->xlabel, s, C_TEXT, AL_LEFT);
    }
    if (f->ylabel[0]) {
        char cut[TEXT_MAX];
        fit_text(cut, sizeof cut, f->ylabel, p->ay1 - p->ay0, s);
        text_up(p, pad, (p->ay0 + p->ay1) / 2, cut, s, C_TEXT);
    }
    int y = pad;
    if (f->title[0]) {
        text(p, p->w / 2, y, f->title, ts, C_TEXT, AL_CENTER);
        y += GLYPH_H * ts + 4 * s;
    }
    for (int i = 0; i < f->nsub; i++, y += GLYPH_H * s + 2 * s)
        text(p, p->w / 2, y, f->sub[i], s, C_SUBTEXT, AL_CENTER);
}

static void draw_no_data(cp_plot_t *p)
{
    int s = p->s + 1;
    text(p, (p->ax0 + p->ax1) / 2, (p->ay0 + p->ay1) / 2 - GLYPH_H * s / 2, "no data", s, C_SUBTEXT,
         AL_CENTER);
}

/* Prepares a frame: labels cut to the canvas width, and room for them. */
static void frame_init(const cp_plot_t *p, frame_t *f, const char *xlabel, const char *ylabel)
{
    memset(f, 0, sizeof *f);
    int pad = pad_px(p);
    fit_text(f->xlabel, sizeof f->xlabel, xlabel, p->w - 2 * pad, p->s);
    fit_text(f->ylabel, sizeof f->ylabel, ylabel, p->h - 2 * pad, p->s);
    f->y_ticks = true;
}

/* Appends printf output to the notes under the title, separated by ", ",
 * on a second line when the first is full. */
static void sub_add(const cp_plot_t *p, frame_t *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sub_add(const cp_plot_t *p, frame_t *f, const char *fmt, ...)
{
    char piece[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    int max_w = p->w - 2 * pad_px(p);
    char line_buf[2 * TEXT_MAX + 2];
    if (f->nsub) {
        snprintf(line_buf, sizeof line_buf, "%s, %s", f->sub[f->nsub - 1], piece);
        if (text_w(line_buf, p->s) > max_w && f->nsub < 2)
            snprintf(line_buf, sizeof line_buf, "%s", piece), f->nsub++;
    } else {
        snprintf(line_buf, sizeof line_buf, "%s", piece);
        f->nsub = 1;
    }
    fit_text(f->sub[f->nsub - 1], sizeof f->sub[0], line_buf, max_w, p->s);
}

/* ---- charts ------------------------------------------------------------- */

/* The axis coordinates of a point, or false if it cannot be drawn. */
static bool to_axis(double v, bool log_axis, double *u)
{
    if (!isfinite(v) || (log_axis && v <= 0))
        return false;
    *u = log_axis ? log10(v) : clamp_coord(v);
    return true;
}

int cp_plot_scatter(cp_plot_t *p, const double *x, const double *y, size_t n, const char *xlabel,
                    const char *ylabel, unsigned flags)
{
    const unsigned known = CP_PLOT_DIAGONAL | CP_PLOT_LOG_X | CP_PLOT_LOG_Y | CP_PLOT_ZERO_LINE;
    if (!p || (n > 0 && (!x || !y)) || (flags & ~known))
        return CP_PLOT_EINVAL;
    bool lx = flags & CP_PLOT_LOG_X, ly = flags & CP_PLOT_LOG_Y, diag = flags & CP_PLOT_DIAGONAL;
    if (diag && lx != ly) /* y = x is not a straight line on mixed axes */
        return CP_PLOT_EINVAL;

    size_t used = 0, skipped = 0;
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double u, v;
        if (!to_axis(x[i], lx, &u) || !to_axis(y[i], ly, &v)) {
            skipped++;
            continue;
        }
        xmin = fmin(xmin, u);
        xmax = fmax(xmax, u);
        ymin = fmin(ymin, v);
        ymax = fmax(ymax, v);
        used++;
    }
    if (!used)
        xmin = ymin = 0, xmax = ymax = 1;
    if (diag) {
        xmin = ymin = fmin(xmin, ymin);
        xmax = ymax = fmax(xmax, ymax);
    }

    frame_t f;
    frame_init(p, &f, xlabel, ylabel);
    sub_add(p, &f, "n = %zu", used);
    if (skipped)
        sub_add(p, &f, "%zu skipped (%s)", skipped, lx || ly ? "non-finite or <= 0" : "non-finite");
    memset(&p->x, 0, sizeof p->x);
    memset(&p->y, 0, sizeof p->y);
    p->x.log = lx;
    p->y.log = ly;
    axis_limits(&p->x, xmin, xmax, 0.04);
    axis_limits(&p->y, ymin, ymax, 0.04);
    layout(p, &f, diag);

    /* Points land in a count per pixel; a pixel covered k times gets the
     * colour of k layers of a translucent dot, so the cost is one pass over
     * the points and one over the plot area. */
    int aw = p->ax1 - p->ax0 + 1, ah = p->ay1 - p->ay0 + 1;
    float *cnt = NULL;
    if (used) {
        cnt = calloc((size_t)aw * (size_t)ah, sizeof *cnt);
        if (!cnt)
            return CP_PLOT_ENOMEM;
    }
    clear(p);
    p->skipped = skipped;
    draw_grid(p, true);
    if (used) {
        int r = used <= 1000 ? 3 : used <= 20000 ? 2 : 1;
        double alpha = used <= 1000 ? 0.7 : used <= 20000 ? 0.3 : 0.18;
        for (size_t i = 0; i < n; i++) {
            double u, v;
            if (!to_axis(x[i], lx, &u) || !to_axis(y[i], ly, &v))
                continue;
            int cx = to_px(px_x(p, u)) - p->ax0, cy = to_px(px_y(p, v)) - p->ay0;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    int qx = cx + dx, qy = cy + dy;
                    if (dx * dx + dy * dy > r * r + 0.8 * r || qx < 0 || qx >= aw || qy < 0 ||
                        qy >= ah)
                        continue;
                    cnt[(size_t)qy * (size_t)aw + (size_t)qx] += 1;
                }
        }
        double k = log1p(-alpha);
        for (int qy = 0; qy < ah; qy++)
            for (int qx = 0; qx < aw; qx++) {
                float c = cnt[(size_t)qy * (size_t)aw + (size_t)qx];
                if (c > 0)
                    blend(p, p->ax0 + qx, p->ay0 + qy, C_DATA, 1 - exp(c * k));
            }
        free(cnt);
    }
    clip_area(p);
    if ((flags & CP_PLOT_ZERO_LINE) && !ly && p->y.lo < 0 && p->y.hi > 0) {
        double y0 = px_y(p, 0);
        line(p, p->ax0, y0, p->ax1, y0, 1.5 * p->s, C_ZERO, 6 * p->s, 4 * p->s);
    }
    if (diag)
        line(p, p->ax0, p->ay1, p->ax1, p->ay0, 1.5 * p->s, C_DIAG, 8 * p->s, 5 * p->s);
    draw_frame(p, &f);
    if (!used)
        draw_no_data(p);
    return CP_PLOT_OK;
}

/* The k-th smallest of a[0..n-1] (0-based), reordering a so that a[0..k] <= a[k]:
 * quickselect with random pivots, linear time on average whatever the input order. */
static double select_kth(double *a, size_t n, size_t k, uint64_t *rng)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k;
    while (lo < hi) {
        *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
        double pivot = a[lo + (ptrdiff_t)((*rng >> 11) % (uint64_t)(hi - lo + 1))];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition: the pivot value stops both scans */
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                double t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        /* now a[lo..j] <= pivot, a[i..hi] >= pivot, and anything between equals it */
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            return a[want];
    }
    return a[want];
}

int cp_plot_histogram(cp_plot_t *p, const double *v, size_t n, int bins, const char *xlabel)
{
    if (!p || (n > 0 && !v) || bins < 0 || bins > CP_PLOT_MAX_BINS)
        return CP_PLOT_EINVAL;
    size_t used = 0;
    double mean = 0, m2 = 0, lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        double x = clamp_coord(v[i]);
        used++;
        double d = x - mean; /* Welford: stable for a million values */
        mean += d / (double)used;
        m2 += d * (x - mean);
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    if (used >= 1000) {
        double *copy = malloc(used * sizeof *copy); /* reordered by select_kth */
        if (!copy)
            return CP_PLOT_ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(v[i]))
                copy[k++] = clamp_coord(v[i]);
        uint64_t rng = 0x9e3779b97f4a7c15ULL;
        size_t khi = (size_t)ceil(0.999 * (double)(used - 1));
        double qhi = select_kth(copy, used, khi, &rng);
        double qlo = select_kth(copy, khi + 1, (size_t)floor(0.001 * (double)(used - 1)), &rng);
        free(copy);
        if (!degenerate(qlo, qhi))
            lo = qlo, hi = qhi;
    }
    if (!used)
        lo = 0, hi = 1;
    if (degenerate(lo, hi)) {
        double mid = lo / 2 + hi / 2, d = mid == 0 ? 1 : fabs(mid) * 0.1;
        lo = mid - d, hi = mid + d;
    }
    int nb = bins;
    if (!nb) {
        nb = (int)lrint(sqrt((double)used));
        nb = nb < 5 ? 5 : nb > 60 ? 60 : nb;
    }
    size_t *count = calloc((size_t)nb, sizeof *count);
    if (!count)
        return CP_PLOT_ENOMEM;
    size_t outside = 0, maxc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        double x = clamp_coord(v[i]);
        if (x < lo || x > hi) {
            outside++;
            continue;
        }
        double t = (x - lo) / (hi - lo) * nb;
        int b = t < 0 ? 0 : t >= nb ? nb - 1 : (int)t;
        if (++count[b] > maxc)
            maxc = count[b];
    }

    frame_t f;
    frame_init(p, &f, xlabel, "count");
    sub_add(p, &f, "n = %zu", used);
    char num[32];
    if (used) {
        fmt_compact(num, sizeof num, mean, 3);
        sub_add(p, &f, "mean = %s", num);
    }
    if (used > 1) {
        fmt_compact(num, sizeof num, sqrt(m2 / (double)(used - 1)), 3);
        sub_add(p, &f, "sd = %s", num);
    }
    if (outside)
        sub_add(p, &f, "%zu outside the range shown", outside);
    if (n - used)
        sub_add(p, &f, "%zu non-finite skipped", n - used);
    memset(&p->x, 0, sizeof p->x);
    memset(&p->y, 0, sizeof p->y);
    axis_limits(&p->x, lo, hi, 0.02);
    p->y.lo = 0;
    p->y.hi = maxc ? (double)maxc * 1.08 : 1;
    p->y.integer = true;
    layout(p, &f, false);

    clear(p);
    p->skipped = n - used;
    draw_grid(p, true);
    clip_area(p);
    double bw = (hi - lo) / nb;
    for (int b = 0; b < nb && used; b++) {
        if (!count[b])
            continue;
        int x0 = to_px(px_x(p, lo + b * bw)), x1 = to_px(px_x(p, lo + (b + 1) * bw));
        if (x1 - x0 >= 4)
            x1--; /* a white seam between wide bars */
        if (x1 <= x0)
            x1 = x0 + 1;
        int top = to_px(px_y(p, (double)count[b]));
        fill(p, x0, top, x1 - 1, p->ay1, C_DATA);
    }
    free(count);
    draw_frame(p, &f);
    if (!used)
        draw_no_data(p);
    return CP_PLOT_OK;
}

/* Pixels needed right of zero (positive bars, `right`) or left of it
 * (negative bars) at k pixels per unit: the longest bar plus its printed
 * value, over the first `rows` finite values; value widths times `shrink`. */
static double bar_text_room(const cp_plot_t *p, const double *values, size_t n, size_t rows,
                            double k, bool right, double shrink)
{
    double need = 0;
    for (size_t i = 0, r = 0; i < n && r < rows; i++) {
        if (!isfinite(values[i]))
            continue;
        r++;
        double v = clamp_coord(values[i]);
        if ((v >= 0) != right)
            continue;
        char num[32];
        fmt_compact(num, sizeof num, values[i], 3);
        double w = fabs(v) * k + (text_w(num, p->s) + 10 * p->s) * shrink; /* gap, text, margin */
        need = fmax(need, w);
    }
    return need;
}

int cp_plot_bars(cp_plot_t *p, const char *const *labels, const double *values, size_t n,
                 const char *xlabel)
{
    if (!p || (n > 0 && (!labels || !values)))
        return CP_PLOT_EINVAL;
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i])
            return CP_PLOT_EINVAL;
        finite += isfinite(values[i]) != 0;
    }
    int s = p->s, row_min = GLYPH_H * s + 4 * s, max_bar = 3 * GLYPH_H * s;

    frame_t f;
    frame_init(p, &f, xlabel, NULL);
    f.y_ticks = false;
    if (n - finite)
        sub_add(p, &f, "%zu non-finite skipped", n - finite);
    int label_max = p->w * 2 / 5;
    int label_w = 0;
    for (size_t i = 0; i < n; i++) {
        char cut[TEXT_MAX];
        fit_text(cut, sizeof cut, labels[i], label_max, s);
        int w = text_w(cut, s);
        label_w = w > label_w ? w : label_w;
    }
    f.left = label_w + 8 * s;
    memset(&p->x, 0, sizeof p->x);
    memset(&p->y, 0, sizeof p->y);
    p->x.lo = 0;
    p->x.hi = 1;
    layout(p, &f, false);
    size_t rows = finite;
    if (rows * (size_t)row_min > (size_t)(p->ay1 - p->ay0)) {
        /* Say "top K of N" with K = N first to reserve the room: the final
         * K has no more digits, so the note cannot grow. */
        f.nsub = 0;
        sub_add(p, &f, "top %zu of %zu", rows, finite);
        if (n - finite)
            sub_add(p, &f, "%zu non-finite skipped", n - finite);
        layout(p, &f, false);
        rows = (size_t)((p->ay1 - p->ay0) / row_min);
        f.nsub = 0;
        sub_add(p, &f, "top %zu of %zu", rows, finite);
        if (n - finite)
            sub_add(p, &f, "%zu non-finite skipped", n - finite);
    }

    /* The x range leaves room for each value printed at its bar's end:
     * the largest scale k (pixels per unit) at which, with zero placed so
     * that the negative bars' texts fit on the left, the positive ones fit
     * on the right. */
    double vmin = 0, vmax = 0, plot_w = p->ax1 - p->ax0;
    for (size_t i = 0, k = 0; i < n && k < rows; i++)
        if (isfinite(values[i])) {
            k++;
            vmin = fmin(vmin, clamp_coord(values[i]));
            vmax = fmax(vmax, clamp_coord(values[i]));
        }
    if (vmax == 0 && vmin == 0)
        vmax = 1;
    double shrink = 1; /* texts get at most 2/3 of the width */
    double left0 = bar_text_room(p, values, n, rows, 0, false, 1);
    double right0 = bar_text_room(p, values, n, rows, 0, true, 1);
    if (left0 + right0 > plot_w * 2 / 3)
        shrink = plot_w * 2 / 3 / (left0 + right0);
    double lo_k = 0, hi_k = plot_w / (vmax - vmin);
    for (int it = 0; it < 60; it++) {
        double mid = (lo_k + hi_k) / 2;
        if (bar_text_room(p, values, n, rows, mid, false, shrink) +
                bar_text_room(p, values, n, rows, mid, true, shrink) <=
            plot_w)
            lo_k = mid;
        else
            hi_k = mid;
    }
    double px_per_unit = lo_k > 0 ? lo_k : plot_w / (vmax - vmin) / 3;
    p->x.lo = -bar_text_room(p, values, n, rows, px_per_unit, false, shrink) / px_per_unit;
    p->x.hi = p->x.lo + plot_w / px_per_unit;
    axis_ticks(&p->x, p->ax1 - p->ax0, true, s);
    p->y.lo = 0;
    p->y.hi = rows ? (double)rows : 1;

    clear(p);
    p->skipped = n - finite;
    draw_grid(p, false);
    double row_h = rows ? (double)(p->ay1 - p->ay0) / (double)rows : 0;
    double thick = fmin(row_h * 0.7, max_bar);
    int zx = to_px(px_x(p, 0));
    for (size_t i = 0, k = 0; i < n && k < rows; i++) {
        if (!isfinite(values[i]))
            continue;
        double mid = p->ay0 + row_h * ((double)k + 0.5);
        k++;
        int y0 = (int)lrint(mid - thick / 2), y1 = (int)lrint(mid + thick / 2) - 1;
        int ex = to_px(px_x(p, clamp_coord(values[i])));
        clip_area(p);
        if (ex > zx)
            fill(p, zx, y0, ex - 1, y1, C_DATA);
        else if (ex < zx)
            fill(p, ex + 1, y0, zx, y1, C_DATA);
        char num[32];
        fmt_compact(num, sizeof num, values[i], 3);
        int ty = (int)lrint(mid) - (GLYPH_H - 1) * s / 2;
        if (values[i] >= 0)
            text(p, ex + 4 * s, ty, num, s, C_SUBTEXT, AL_LEFT);
        else
            text(p, ex - 4 * s, ty, num, s, C_SUBTEXT, AL_RIGHT);
        clip_all(p);
        char cut[TEXT_MAX];
        fit_text(cut, sizeof cut, labels[i], label_max, s);
        text(p, p->ax0 - 6 * s, ty, cut, s, C_TEXT, AL_RIGHT);
    }
    if (p->x.lo < 0) {
        clip_area(p);
        fill(p, zx, p->ay0, zx, p->ay1, C_FRAME);
    }
    draw_frame(p, &f);
    if (!rows)
        draw_no_data(p);
    return CP_PLOT_OK;
}

/* ---- PNG ---------------------------------------------------------------- */

static void put_be32(unsigned char *q, uint32_t v)
{
    q[0] = (unsigned char)(v >> 24);
    q[1] = (unsigned char)(v >> 16);
    q[2] = (unsigned char)(v >> 8);
    q[3] = (unsigned char)v;
}

/* Completes the chunk whose `len` data bytes already sit at q + 8: length,
 * type and CRC. Returns the end of the chunk. */
static unsigned char *chunk_close(unsigned char *q, const char *type, size_t len)
{
    put_be32(q, (uint32_t)len);
    memcpy(q + 4, type, 4);
    uLong crc = crc32(0L, q + 4, (uInt)(len + 4));
    put_be32(q + 8 + len, (uint32_t)crc);
    return q + 12 + len;
}

static int paeth(int a, int b, int c)
{
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Byte i of a row filtered with PNG filter type ft (bpp 3). */
static unsigned char filtered(int ft, const unsigned char *row, const unsigned char *prev, size_t i)
{
    int x = row[i], a = i >= 3 ? row[i - 3] : 0, b = prev ? prev[i] : 0;
    int c = prev && i >= 3 ? prev[i - 3] : 0;
    switch (ft) {
    case 1:
        return (unsigned char)(x - a);
    case 2:
        return (unsigned char)(x - b);
    case 3:
        return (unsigned char)(x - (a + b) / 2);
    case 4:
        return (unsigned char)(x - paeth(a, b, c));
    default:
        return (unsigned char)x;
    }
}

int cp_plot_png(const cp_plot_t *p, unsigned char **png, size_t *len)
{
    if (!p || !png || !len)
        return CP_PLOT_EINVAL;
    size_t stride = (size_t)p->w * 3, raw_len = (stride + 1) * (size_t)p->h;
    unsigned char *raw = malloc(raw_len);
    if (!raw)
        return CP_PLOT_ENOMEM;
    /* Each row takes the filter whose output has the smallest sum of
     * magnitudes, the usual heuristic: flat areas and gradients shrink. */
    for (int y = 0; y < p->h; y++) {
        const unsigned char *row = p->rgb + (size_t)y * stride;
        const unsigned char *prev = y ? row - stride : NULL;
        int best = 0;
        unsigned long best_sum = ULONG_MAX;
        for (int ft = 0; ft < 5; ft++) {
            unsigned long sum = 0;
            for (size_t i = 0; i < stride && sum < best_sum; i++)
                sum += (unsigned long)abs((signed char)filtered(ft, row, prev, i));
            if (sum < best_sum)
                best_sum = sum, best = ft;
        }
        unsigned char *out = raw + (size_t)y * (stride + 1);
        out[0] = (unsigned char)best;
        for (size_t i = 0; i < stride; i++)
            out[1 + i] = filtered(best, row, prev, i);
    }

    uLong zcap = compressBound((uLong)raw_len);
    size_t cap = 8 + (12 + 13) + (12 + (size_t)zcap) + 12;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        free(raw);
        return CP_PLOT_ENOMEM;
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    unsigned char *q = buf + 8;
    put_be32(q + 8, (uint32_t)p->w);
    put_be32(q + 12, (uint32_t)p->h);
    q[16] = 8; /* bit depth */
    q[17] = 2; /* colour type: RGB */
    q[18] = 0; /* deflate */
    q[19] = 0; /* adaptive filtering */
    q[20] = 0; /* not interlaced */
    q = chunk_close(q, "IHDR", 13);
    uLongf zlen = zcap;
    int zrc = compress2(q + 8, &zlen, raw, (uLong)raw_len, 6);
    free(raw);
    if (zrc != Z_OK) {
        free(buf);
        return CP_PLOT_ENOMEM; /* compress2 fails only for memory with a compressBound buffer */
    }
    q = chunk_close(q, "IDAT", zlen);
    q = chunk_close(q, "IEND", 0);
    *png = buf;
    *len = (size_t)(q - buf);
    return CP_PLOT_OK;
}

int cp_plot_write_png(const cp_plot_t *p, const char *path)
{
    if (!p || !path)
        return CP_PLOT_EINVAL;
    unsigned char *png;
    size_t len;
    int rc = cp_plot_png(p, &png, &len);
    if (rc)
        return rc;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(png);
        return CP_PLOT_EIO;
    }
    bool ok = fwrite(png, 1, len, fp) == len;
    int saved = errno;
    free(png);
    if (fclose(fp) != 0 && ok)
        return CP_PLOT_EIO;
    if (!ok) {
        errno = saved;
        return CP_PLOT_EIO;
    }
    return CP_PLOT_OK;
}

/* ---- canvas lifetime and accessors ---------------------------------------- */

cp_plot_t *cp_plot_new(int width, int height, const char *title)
{
    if (width < CP_PLOT_MIN_SIZE || width > CP_PLOT_MAX_SIZE || height < CP_PLOT_MIN_SIZE ||
        height > CP_PLOT_MAX_SIZE)
        return NULL;
    cp_plot_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->w = width;
    p->h = height;
    p->rgb = malloc((size_t)width * (size_t)height * 3);
    p->title = strdup(title ? title : "");
    if (!p->rgb || !p->title) {
        cp_plot_destroy(p);
        return NULL;
    }
    /* 5x7 glyphs doubled from 400 pixels up: readable at report sizes */
    p->s = (width < height ? width : height) >= 400 ? 2 : 1;
    clear(p);
    p->ax1 = width - 1;
    p->ay1 = height - 1;
    p->x.hi = p->y.hi = 1;
    return p;
}

void cp_plot_destroy(cp_plot_t *p)
{
    if (!p)
        return;
    free(p->rgb);
    free(p->title);
    free(p);
}

size_t cp_plot_skipped(const cp_plot_t *p)
{
    return p ? p->skipped : 0;
}

void cp_plot_area(const cp_plot_t *p, int *x0, int *y0, int *x1, int *y1)
{
    if (!p)
        return;
    if (x0)
        *x0 = p->ax0;
    if (y0)
        *y0 = p->ay0;
    if (x1)
        *x1 = p->ax1;
    if (y1)
        *y1 = p->ay1;
}

static double axis_value(const axis_t *a, double u)
{
    return a->log ? pow(10, u) : u;
}

void cp_plot_range(const cp_plot_t *p, double *xmin, double *xmax, double *ymin, double *ymax)
{
    if (!p)
        return;
    if (xmin)
        *xmin = axis_value(&p->x, p->x.lo);
    if (xmax)
        *xmax = axis_value(&p->x, p->x.hi);
    if (ymin)
        *ymin = axis_value(&p->y, p->y.lo);
    if (ymax)
        *ymax = axis_value(&p->y, p->y.hi);
}

const unsigned char *cp_plot_rgb(const cp_plot_t *p, int *width, int *height)
{
    if (!p)
        return NULL;
    if (width)
        *width = p->w;
    if (height)
        *height = p->h;
    return p->rgb;
}

const char *cp_plot_strerror(int err)
{
    switch (err) {
    case CP_PLOT_OK:
        return "success";
    case CP_PLOT_EINVAL:
        return "invalid argument";
    case CP_PLOT_ENOMEM:
        return "out of memory";
    case CP_PLOT_EIO:
        return "cannot write the file";
    default:
        return "unknown plot error";
    }
}
