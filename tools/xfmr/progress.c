/* progress.c — the progress bar xfmr draws on stderr when it is a terminal (done/total,
 * percentage, rate, ETA, redrawn with \r), and the diagnostic printers (notes, warnings,
 * errors) that first clear a bar that is on screen. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REDRAW_SECONDS 0.1
#define BAR_WIDTH 24

static int g_bar_on_screen; /* a bar line is drawn and not yet ended with "\n" */

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void clear_bar(void) {
    if (g_bar_on_screen) {
        fputs("\r\033[K", stderr);
        g_bar_on_screen = 0;
    }
}

static void vmsg(const char *prefix, const char *fmt, va_list ap) {
    clear_bar();
    fprintf(stderr, "xfmr: %s", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg("error: ", fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

void cli_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_progress_start(cli_progress *p, const char *what, size_t total, size_t min_items) {
    memset(p, 0, sizeof *p);
    p->enabled = isatty(fileno(stderr));
    p->total = total;
    p->min_items = min_items;
    p->what = what;
    p->unit = "texts";
    p->t0 = cli_now();
    if (total > 0 && total <= min_items) p->enabled = 0;
}

static void fmt_duration(double s, char *buf, size_t size) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void draw(cli_progress *p, size_t done, double t) {
    double elapsed = t - p->t0, rate = elapsed > 0 ? (double)done / elapsed : 0;
    char eta[32] = "";
    fputs("\r\033[K", stderr);
    if (p->total > 0) {
        double frac = (double)done / (double)p->total;
        if (frac > 1) frac = 1;
        char bar[BAR_WIDTH + 1];
        int fill = (int)(frac * BAR_WIDTH);
        for (int k = 0; k < BAR_WIDTH; k++) bar[k] = k < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        if (rate > 0 && done < p->total) {
            fmt_duration((double)(p->total - done) / rate, eta, sizeof eta);
        } else {
            fmt_duration(elapsed, eta, sizeof eta);
        }
        fprintf(stderr, "%s [%s] %zu/%zu %3d%%  %.1f %s/s  %s %s", p->what, bar, done, p->total,
                (int)(frac * 100), rate, p->unit, done < p->total ? "ETA" : "in", eta);
    } else {
        fmt_duration(elapsed, eta, sizeof eta);
        fprintf(stderr, "%s %zu %s  %.1f %s/s  %s", p->what, done, p->unit, rate, p->unit, eta);
    }
    fflush(stderr);
    g_bar_on_screen = 1;
    p->drawn = 1;
    p->last_draw = t;
}

void cli_progress_update(cli_progress *p, size_t done) {
    if (!p->enabled || done <= p->min_items) return;
    double t = cli_now();
    if (p->drawn && g_bar_on_screen && t - p->last_draw < REDRAW_SECONDS) return;
    draw(p, done, t);
}

void cli_progress_finish(cli_progress *p, size_t done) {
    if (!p->enabled || !p->drawn) return;
    draw(p, done, cli_now());
    fputc('\n', stderr);
    g_bar_on_screen = 0;
}
