/* Small PNG charts for training reports (logged to MLflow as image artifacts):
 * predicted-vs-actual and residual scatters, histograms, horizontal bar charts.
 *
 * A cp_plot_t is an RGB canvas holding one chart at a time: each draw call
 * clears the canvas and draws a complete chart (title, axes with round ticks,
 * axis labels, light grid). Text uses a built-in 5x7 bitmap font, printable
 * ASCII only (other bytes show as '?'). Non-finite values are skipped and
 * counted (cp_plot_skipped), never drawn; no input at all gives a chart that
 * says "no data". Work is linear in the number of values, so a million
 * points take a fraction of a second.
 *
 * Not thread-safe: use one canvas per thread. */
#ifndef CARPRICE_PLOT_H
#define CARPRICE_PLOT_H

#include <stddef.h>

typedef struct cp_plot_s cp_plot_t;

typedef enum {
    CP_PLOT_OK = 0,
    CP_PLOT_EINVAL = -1, /* a NULL argument or an out-of-range parameter */
    CP_PLOT_ENOMEM = -2, /* out of memory */
    CP_PLOT_EIO = -3,    /* a file could not be written */
} cp_plot_err_t;

/* Scatter options, OR-ed together. */
enum {
    CP_PLOT_DIAGONAL = 1 << 0, /* same range on both axes and the y = x line, corner to corner */
    CP_PLOT_LOG_X = 1 << 1,    /* log10 x axis: x <= 0 is skipped and counted */
    CP_PLOT_LOG_Y = 1 << 2,    /* log10 y axis: y <= 0 is skipped and counted */
    CP_PLOT_ZERO_LINE = 1 << 3 /* a horizontal line at y = 0 (residual plots) */
};

#define CP_PLOT_MIN_SIZE 160  /* smallest width and height in pixels */
#define CP_PLOT_MAX_SIZE 4096 /* largest width and height in pixels */
#define CP_PLOT_MAX_BINS 1000 /* most histogram bins */

/* A white canvas of width x height pixels (each within CP_PLOT_MIN_SIZE ..
 * CP_PLOT_MAX_SIZE) whose charts carry `title` (copied; NULL means none).
 * Returns NULL on a size out of range or out of memory. */
cp_plot_t *cp_plot_new(int width, int height, const char *title);

/* Frees the canvas. Accepts NULL. */
void cp_plot_destroy(cp_plot_t *p);

/* Draws n points (x[i], y[i]); a point with a non-finite coordinate (or one
 * <= 0 on a log axis) is skipped. Dense regions show darker: a pixel's colour
 * depends on how many points cover it. flags: CP_PLOT_* above. xlabel and
 * ylabel may be NULL. Returns CP_PLOT_OK, CP_PLOT_EINVAL (p NULL, x or y NULL
 * with n > 0, unknown flags) or CP_PLOT_ENOMEM. */
int cp_plot_scatter(cp_plot_t *p, const double *x, const double *y, size_t n, const char *xlabel,
                    const char *ylabel, unsigned flags);

/* Draws a histogram of the finite values of v in `bins` equal bins (0 picks
 * a count from n; at most CP_PLOT_MAX_BINS). With n >= 1000 the x range spans
 * the 0.1 % .. 99.9 % quantiles so a few outliers do not squash the rest into
 * one bin; how many values fell outside is printed under the title, with n,
 * mean and standard deviation. xlabel may be NULL. Returns CP_PLOT_OK,
 * CP_PLOT_EINVAL (p NULL, v NULL with n > 0, bins out of range) or
 * CP_PLOT_ENOMEM. */
int cp_plot_histogram(cp_plot_t *p, const double *v, size_t n, int bins, const char *xlabel);

/* Draws one horizontal bar per (labels[i], values[i]), top to bottom in the
 * order given (sort first for a "top N" chart), each from 0 to its value
 * with the value printed at its end. Rows with a non-finite value are skipped
 * and counted. If the rows do not fit the height at a readable size, only the
 * first ones are drawn and the subtitle says "top K of N". Long labels are
 * cut with "...". xlabel may be NULL. Returns CP_PLOT_OK, CP_PLOT_EINVAL (p
 * NULL, labels or values NULL with n > 0, a NULL label) or CP_PLOT_ENOMEM. */
int cp_plot_bars(cp_plot_t *p, const char *const *labels, const double *values, size_t n,
                 const char *xlabel);

/* How many input values the last draw call skipped (non-finite, or <= 0 on a
 * log axis). A scatter point counts once even if both coordinates are bad. */
size_t cp_plot_skipped(const cp_plot_t *p);

/* The plot area of the last chart in pixels, edges included: x from *x0 to
 * *x1 left to right, y from *y0 (top) to *y1 (bottom). Any pointer may be NULL. */
void cp_plot_area(const cp_plot_t *p, int *x0, int *y0, int *x1, int *y1);

/* The axis ranges of the last chart, in data units (not log10 on log axes):
 * the left, right, bottom and top edges of the plot area. Any pointer may be
 * NULL. */
void cp_plot_range(const cp_plot_t *p, double *xmin, double *xmax, double *ymin, double *ymax);

/* The canvas pixels: height rows of width RGB triples, top row first.
 * Borrowed: valid until cp_plot_destroy; each draw call rewrites them. */
const unsigned char *cp_plot_rgb(const cp_plot_t *p, int *width, int *height);

/* Encodes the canvas as an 8-bit RGB PNG in a malloc'd buffer the caller
 * frees; *png and *len are set only on success. Returns CP_PLOT_OK,
 * CP_PLOT_EINVAL or CP_PLOT_ENOMEM. */
int cp_plot_png(const cp_plot_t *p, unsigned char **png, size_t *len);

/* Writes the PNG to `path`, replacing it. Returns CP_PLOT_OK, CP_PLOT_EINVAL,
 * CP_PLOT_ENOMEM or CP_PLOT_EIO (errno tells why). */
int cp_plot_write_png(const cp_plot_t *p, const char *path);

/* A static description of a cp_plot_err_t value. */
const char *cp_plot_strerror(int err);

#endif
