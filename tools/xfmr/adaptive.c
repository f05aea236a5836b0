/* adaptive.c — the CLI side of token pruning/merging and early exit (--keep, --keep-schedule,
 * --pool-pruned, --merge, --exit-cos, --exit-min-layers, --exit-target with --exit-calib): turns the shared
 * model options into xf_model_set_adaptive / xf_model_calibrate_exit calls. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_adaptive_on(const cli_model_opts *mo) {
    return mo->keep < 1.0 || mo->keep_schedule || mo->exit_cos <= 1.0 || mo->exit_target > 0;
}

/* "a,b,c" -> up to cap floats; -1 after a printed error. */
static int parse_schedule(const char *s, float *out, size_t cap, size_t *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v > 0 && v <= 1)) {
            cli_error("--keep-schedule '%s': item %zu is not a share in (0, 1]", s, *n + 1);
            return -1;
        }
        if (*n == cap) {
            cli_error("--keep-schedule '%s' has more than %zu items", s, cap);
            return -1;
        }
        out[(*n)++] = (float)v;
        p = *end ? end + 1 : end;
    }
    if (!*n) {
        cli_error("--keep-schedule is empty");
        return -1;
    }
    return 0;
}

int cli_apply_adaptive(const cli_model_opts *mo, xf_model *model) {
    if (mo->merge && !(mo->keep < 1.0 || mo->keep_schedule)) return cli_error("--merge needs the shares to merge down to: --keep K or --keep-schedule LIST");
    if (!cli_adaptive_on(mo)) return CLI_EXIT_OK;
    if (mo->exit_target > 0 && !mo->exit_calib) return cli_error("--exit-target needs calibration texts: --exit-calib FILE");
    if (mo->exit_calib && !(mo->exit_target > 0)) return cli_error("--exit-calib is for --exit-target T");
    if (mo->exit_target > 0 && mo->exit_cos <= 1.0) return cli_error("--exit-cos and --exit-target exclude each other");
    xf_adaptive_params p = xf_adaptive_default_params();
    float sched[256];
    if (mo->keep_schedule && parse_schedule(mo->keep_schedule, sched, 256, &p.n_keep_schedule)) return CLI_EXIT_FAIL;
    if (mo->keep_schedule) p.keep_schedule = sched;
    p.keep = (float)mo->keep;
    p.pool_pruned = mo->pool_pruned;
    p.merge = mo->merge;
    p.keep_min = (size_t)mo->keep_min;
    p.exit_cosine = (float)mo->exit_cos;
    p.exit_min_layers = (size_t)mo->exit_min_layers;
    if (xf_model_set_adaptive(model, &p) != XF_OK) return cli_lib_error();
    if (mo->exit_target > 0) {
        cli_texts t;
        if (cli_read_all_lines(mo->exit_calib, &t)) return CLI_EXIT_FAIL;
        float th = 0;
        xf_status st = xf_model_calibrate_exit(model, (const char *const *)t.texts, t.n, (float)mo->exit_target, &th);
        size_t n = t.n;
        cli_texts_free(&t);
        if (st != XF_OK) return cli_lib_error();
        if (th > 1.0f) cli_note("early exit calibrated on %zu texts: no threshold keeps every one at cosine >= %g; early exit is off", n, mo->exit_target);
        else cli_note("early exit calibrated on %zu texts: threshold %.6f keeps each at cosine >= %g", n, (double)th, mo->exit_target);
    }
    return CLI_EXIT_OK;
}
