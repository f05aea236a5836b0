/* eval_longctx.c — `xfmr eval --task passkey` and `--task needle`: long-context retrieval by a
 * decoder, accuracy per (length, depth).
 *   passkey  a random 5-digit number in a line "The pass key is N. Remember it. N is the pass
 *            key." hidden in filler sentences ("The grass is green. ..."), the prompt format of
 *            Mohtashami & Jaggi, "Landmark Attention" (2023), also used by LongLoRA;
 *   needle   a sentence "The best thing to do in CITY is to ACTIVITY." hidden in the Paul Graham
 *            essays (the needle-in-a-haystack test of G. Kamradt, whose original needle is the
 *            Dolores Park one below), the question asked after the text.
 * A prompt of --lengths L tokens (chat template included, when the model has one) holds the key
 * at depth d: after the fraction d of the filler / haystack, moved back to the end of a sentence.
 * The answer is decoded greedily after an answer prefix ("The pass key is") and is right when it
 * contains the number / the activity's key phrase (case-insensitive). Each of the --cases cases
 * has its own key and haystack offset (seeded by --seed and the case number), the same for every
 * (length, depth), so that cells differ only by length and depth. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

#define MAX_WRONG_SHOWN 3 /* wrong replies kept per cell in the JSON */
#define FIT_ROUNDS 8

static const char PK_INTRO[] = "There is an important info hidden inside a lot of irrelevant text. "
                               "Find it and memorize it. I will quiz you about the important "
                               "information there.";
/* The filler, one sentence after the other, cycled. */
static const char *const PK_FILLER[] = {"The grass is green.", "The sky is blue.",
                                        "The sun is yellow.", "Here we go.",
                                        "There and back again."};
#define N_FILLER (sizeof PK_FILLER / sizeof PK_FILLER[0])
static const char NE_INTRO[] = "Below is a long text. One sentence in it answers the question that "
                               "follows the text.";

static const char *const CITIES[] = {"San Francisco", "Lisbon", "Osaka", "Melbourne", "Toronto",
                                     "Nairobi", "Oslo", "Lima", "Prague", "Seoul", "Cairo",
                                     "Dublin"};
/* activity, and the key phrase a right answer contains */
static const char *const ACTIVITIES[][2] = {
    {"eat a sandwich and sit in Dolores Park on a sunny day", "Dolores Park"},
    {"drink coffee at the Blue Heron Cafe by the river", "Blue Heron"},
    {"walk along the Silverleaf Canal at sunset", "Silverleaf"},
    {"visit the Marigold Tea House near the harbor", "Marigold"},
    {"watch the boats from the top of Copperhill Tower", "Copperhill"},
    {"buy fresh bread at the Juniper Street market", "Juniper"},
    {"swim in Lake Amberley before breakfast", "Amberley"},
    {"read in the garden of the Hawthorne Library", "Hawthorne"},
    {"hear a concert in Ravenscourt Hall on a Friday night", "Ravenscourt"},
    {"climb Foxglove Hill for the view over the city", "Foxglove"},
};
#define N_CITIES (sizeof CITIES / sizeof CITIES[0])
#define N_ACTIVITIES (sizeof ACTIVITIES / sizeof ACTIVITIES[0])

/* splitmix64: one independent stream per (seed, case). */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Growing string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* One case of a task: its key, question and answer check. */
typedef struct lc_case {
    char key[160];       /* the sentence hidden in the text */
    char question[160];
    char prefix[160];    /* start of the answer */
    char expect[64];     /* what a right answer contains */
    size_t offset;       /* needle: where in the haystack the text starts (tokens) */
} lc_case;

typedef struct lc_task {
    int needle;                 /* 0 passkey, 1 needle */
    const char *name;
    size_t answer_tokens;
    /* needle: the haystack's tokens; passkey: none */
    int32_t *hay;
    size_t n_hay;
    size_t unit_tokens;         /* passkey: tokens per filler sentence group */
} lc_task;

/* Text of hay[a..b) (needle). */
static int hay_text(eval_ctx *c, const lc_task *t, size_t a, size_t b, sbuf *out) {
    if (b <= a) return CLI_EXIT_OK;
    char *s = NULL;
    size_t len = 0;
    if (xf_detokenize(xf_model_tokenizer(c->m), t->hay + a, b - a, 1, &s, &len) != XF_OK)
        return cli_lib_error();
    sb_add(out, s, len);
    free(s);
    return CLI_EXIT_OK;
}

/* Does hay[i] end a sentence (its text ends with . ? ! or holds a newline)? */
static int ends_sentence(eval_ctx *c, const lc_task *t, size_t i) {
    char *s = NULL;
    size_t len = 0;
    if (xf_detokenize(xf_model_tokenizer(c->m), t->hay + i, 1, 1, &s, &len) != XF_OK) return 0;
    int end = len && (strchr(".?!", s[len - 1]) || memchr(s, '\n', len));
    free(s);
    return end;
}

/* The user message of a case with h haystack tokens (needle) or h / unit_tokens filler groups
 * (passkey), the key at depth d. */
static int build_user(eval_ctx *c, const lc_task *t, const lc_case *k, size_t h, double depth,
                      sbuf *out) {
    out->n = 0;
    int rc = CLI_EXIT_OK;
    if (!t->needle) {
        /* h / unit_tokens filler sentences, the key after the first round(depth x count) */
        size_t units = t->unit_tokens ? h / t->unit_tokens : 0, at = (size_t)floor(depth * (double)units + 0.5);
        sb_str(out, PK_INTRO);
        sb_str(out, "\n\n");
        for (size_t u = 0; u <= units; u++) {
            if (u == at) {
                sb_str(out, k->key);
                sb_str(out, " ");
            }
            if (u < units) {
                sb_str(out, PK_FILLER[u % N_FILLER]);
                sb_str(out, " ");
            }
        }
    } else {
        size_t a = k->offset, target = a + (size_t)floor(depth * (double)h + 0.5), at = target;
        while (at > a && at < a + h && !ends_sentence(c, t, at - 1)) at--; /* back to a sentence end */
        sb_str(out, NE_INTRO);
        sb_str(out, "\n\n");
        rc = hay_text(c, t, a, at, out);
        if (!rc) {
            sb_str(out, at > a ? " " : "");
            sb_str(out, k->key);
            sb_str(out, " ");
            rc = hay_text(c, t, at, a + h, out);
        }
    }
    sb_str(out, "\n\n");
    sb_str(out, k->question);
    if (!rc && out->oom) rc = cli_error("out of memory");
    return rc;
}

/* Prompt ids of about `length` tokens (never more): the haystack size is fitted by retokenizing. */
static int fit_prompt(eval_ctx *c, eval_gen *g, const lc_task *t, const lc_case *k, size_t length,
                      double depth, int32_t **ids, size_t *n) {
    sbuf u = {0};
    int32_t *best = NULL;
    size_t best_n = 0, h = length, lo_bad = (size_t)-1;
    int rc = CLI_EXIT_OK;
    for (int round = 0; round < FIT_ROUNDS && !rc; round++) {
        if (t->needle && h > t->n_hay - k->offset) h = t->n_hay - k->offset;
        int32_t *p = NULL;
        size_t pn = 0;
        if ((rc = build_user(c, t, k, h, depth, &u)) ||
            (rc = eval_gen_prompt(g, u.s, k->prefix, &p, &pn)))
            break;
        if (pn <= length) {
            if (pn > best_n || !best) {
                free(best);
                best = p;
                best_n = pn;
            } else {
                free(p);
            }
            if (pn == length) break;
            size_t more = length - pn;
            if (h + more >= lo_bad) break; /* would overshoot again */
            h += more;
        } else {
            free(p);
            lo_bad = h;
            size_t less = pn - length, step = t->needle ? 1 : t->unit_tokens;
            if (less < step) less = step;
            if (less > h) {
                rc = cli_error("%s: the prompt without text already has %zu tokens, more than "
                               "--lengths %zu", t->name, pn, length);
                break;
            }
            h -= less;
        }
    }
    free(u.s);
    if (!rc && !best)
        rc = cli_error("%s: cannot build a prompt of at most %zu tokens", t->name, length);
    if (rc) {
        free(best);
        return rc;
    }
    *ids = best;
    *n = best_n;
    return CLI_EXIT_OK;
}

static void make_case(const lc_task *t, uint64_t seed, size_t idx, size_t max_len, lc_case *k) {
    uint64_t s = mix(seed ^ mix(idx + (t->needle ? 0x6e6565646c65ULL : 0x706173736b6579ULL)));
    memset(k, 0, sizeof *k);
    if (!t->needle) {
        unsigned key = 10000 + (unsigned)(s % 90000);
        snprintf(k->key, sizeof k->key, "The pass key is %u. Remember it. %u is the pass key.", key, key);
        snprintf(k->question, sizeof k->question, "What is the pass key?");
        snprintf(k->prefix, sizeof k->prefix, "The pass key is");
        snprintf(k->expect, sizeof k->expect, "%u", key);
        return;
    }
    const char *city = CITIES[s % N_CITIES];
    size_t a = (size_t)(mix(s) % N_ACTIVITIES);
    snprintf(k->key, sizeof k->key, "The best thing to do in %s is to %s.", city, ACTIVITIES[a][0]);
    snprintf(k->question, sizeof k->question, "What is the best thing to do in %s?", city);
    snprintf(k->prefix, sizeof k->prefix, "The best thing to do in %s is", city);
    snprintf(k->expect, sizeof k->expect, "%s", ACTIVITIES[a][1]);
    k->offset = t->n_hay > max_len ? (size_t)(mix(s + 1) % (t->n_hay - max_len)) : 0;
}

/* Case-insensitive substring. */
static int contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

/* The essays (or --haystack) as one token sequence. */
static int load_haystack(eval_ctx *c, lc_task *t) {
    char *path = eval_data_path(c, c->o->haystack, "pg_essays", "--haystack");
    if (!path) return CLI_EXIT_FAIL;
    eval_textset ts;
    int rc = eval_textset_read(path, &ts), have = !rc;
    sbuf all = {0};
    for (size_t i = 0; !rc && i < ts.n; i++) {
        sb_add(&all, ts.texts[i], ts.lens[i]);
        sb_str(&all, "\n\n");
    }
    if (!rc && all.oom) rc = cli_error("out of memory");
    xf_encoding e;
    memset(&e, 0, sizeof e);
    if (!rc && xf_tokenize(xf_model_tokenizer(c->m), all.s, all.n, NULL, 0, 0, &e) != XF_OK)
        rc = cli_lib_error();
    if (!rc) {
        t->hay = e.ids; /* keep the ids; the rest of the encoding is freed */
        t->n_hay = e.n;
        e.ids = NULL;
    }
    xf_encoding_free(&e);
    free(all.s);
    if (have) eval_textset_free(&ts);
    free(path);
    return rc;
}

/* One JSON line of --save-prompts: the whole prompt as the model saw it, the answer, the reply. */
static int save_prompt(eval_ctx *c, const lc_task *t, const lc_case *k, size_t length,
                       double depth, size_t ci, const int32_t *ids, size_t n, const char *reply) {
    char *text = NULL;
    if (xf_detokenize(xf_model_tokenizer(c->m), ids, n, 0, &text, NULL) != XF_OK)
        return cli_lib_error();
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "task", t->name);
    cJSON_AddNumberToObject(j, "length", (double)length);
    cJSON_AddNumberToObject(j, "depth", depth);
    cJSON_AddNumberToObject(j, "case", (double)ci);
    cJSON_AddNumberToObject(j, "prompt_tokens", (double)n);
    cJSON_AddStringToObject(j, "key", k->key);
    cJSON_AddStringToObject(j, "expected", k->expect);
    cJSON_AddStringToObject(j, "prompt", text);
    cJSON_AddStringToObject(j, "reply", reply);
    cJSON_AddBoolToObject(j, "correct", contains(reply, k->expect));
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    free(text);
    if (!line) return cli_error("out of memory");
    fputs(line, c->prompts_out);
    fputc('\n', c->prompts_out);
    fflush(c->prompts_out); /* a long run that is stopped keeps the cases done */
    free(line);
    return CLI_EXIT_OK;
}

static int run_longctx(eval_ctx *c, cJSON *obj, int needle) {
    const eval_opts *o = c->o;
    lc_task t = {needle, needle ? "needle" : "passkey", needle ? 32 : 12, NULL, 0, 0};
    xf_model_info info = xf_model_info_init();
    size_t ctx = xf_model_get_info(c->m, &info) == XF_OK ? info.max_position : 0, max_len = 0;
    for (size_t i = 0; i < o->n_lengths; i++) {
        if (o->lengths[i] + t.answer_tokens > ctx)
            return cli_error("%s: --lengths %zu plus %zu answer tokens exceeds the context of %s "
                             "(%zu tokens): use lengths up to %zu", t.name, o->lengths[i],
                             t.answer_tokens, c->name, ctx,
                             ctx > t.answer_tokens ? ctx - t.answer_tokens : 0);
        if (o->lengths[i] > max_len) max_len = o->lengths[i];
    }
    int rc = needle ? load_haystack(c, &t) : CLI_EXIT_OK;
    if (!rc && needle && t.n_hay < max_len)
        rc = cli_error("needle: the haystack has %zu tokens, fewer than --lengths %zu", t.n_hay, max_len);
    if (!rc && !needle) { /* tokens per filler sentence, measured on 20 rounds of them */
        sbuf f = {0};
        for (size_t i = 0; i < 20 * N_FILLER; i++) {
            sb_str(&f, PK_FILLER[i % N_FILLER]);
            sb_str(&f, " ");
        }
        xf_encoding e;
        memset(&e, 0, sizeof e);
        if (f.oom || xf_tokenize(xf_model_tokenizer(c->m), f.s, f.n, NULL, 0, 0, &e) != XF_OK)
            rc = f.oom ? cli_error("out of memory") : cli_lib_error();
        t.unit_tokens = e.n / (20 * N_FILLER) ? e.n / (20 * N_FILLER) : 1;
        xf_encoding_free(&e);
        free(f.s);
    }
    const size_t n_cells = o->n_lengths * o->n_depths, n_cases = (size_t)o->cases;
    if (!rc)
        eval_heading(c, "%s: accuracy by prompt length (tokens) and depth, %zu case%s each, greedy",
                     t.name, n_cases, n_cases == 1 ? "" : "s");
    cJSON *cells = cJSON_AddArrayToObject(obj, "cells");
    cJSON_AddNumberToObject(obj, "cases", (double)n_cases);
    cJSON_AddNumberToObject(obj, "seed", (double)o->seed);
    double *acc = calloc(n_cells ? n_cells : 1, sizeof *acc);
    if (!rc && !acc) rc = cli_error("out of memory");
    eval_cost cost;
    eval_cost_start(&cost);
    cli_progress bar;
    cli_progress_start(&bar, t.name, n_cells * n_cases, 0);
    bar.unit = "cases";
    size_t done = 0, right_all = 0;
    double tokens = 0;
    int chat = 0;
    for (size_t li = 0; li < o->n_lengths && !rc; li++) {
        eval_gen g;
        /* the prompt and the answer (whose last token is never fed back), within the context */
        const size_t n_ctx = o->lengths[li] + t.answer_tokens < ctx ? o->lengths[li] + t.answer_tokens : ctx;
        if ((rc = eval_gen_begin(c, c->m, n_ctx, (long)t.answer_tokens, 1, &g)))
            break;
        chat = g.tmpl != NULL;
        for (size_t di = 0; di < o->n_depths && !rc; di++) {
            size_t right = 0;
            double prompt_sum = 0;
            cJSON *cell = cJSON_CreateObject(), *wrong = cJSON_CreateArray();
            for (size_t ci = 0; ci < n_cases && !rc; ci++) {
                lc_case k;
                make_case(&t, o->seed, ci, max_len, &k);
                int32_t *ids = NULL;
                size_t n = 0;
                char *reply = NULL;
                rc = fit_prompt(c, &g, &t, &k, o->lengths[li], o->depths[di], &ids, &n);
                if (!rc) rc = eval_gen_reply(&g, ids, n, &reply);
                if (!rc) {
                    int ok = contains(reply, k.expect);
                    right += (size_t)ok;
                    prompt_sum += (double)n;
                    tokens += (double)g.g.n_hist + 1;
                    if (!ok && cJSON_GetArraySize(wrong) < MAX_WRONG_SHOWN) {
                        cJSON *w = cJSON_CreateObject();
                        cJSON_AddNumberToObject(w, "case", (double)ci);
                        cJSON_AddStringToObject(w, "expected", k.expect);
                        cJSON_AddStringToObject(w, "reply", reply);
                        cJSON_AddItemToArray(wrong, w);
                    }
                }
                if (!rc && c->prompts_out)
                    rc = save_prompt(c, &t, &k, o->lengths[li], o->depths[di], ci, ids, n, reply);
                free(reply);
                free(ids);
                cli_progress_update(&bar, ++done);
            }
            acc[li * o->n_depths + di] = (double)right / (double)n_cases;
            right_all += right;
            cJSON_AddNumberToObject(cell, "length", (double)o->lengths[li]);
            cJSON_AddNumberToObject(cell, "depth", o->depths[di]);
            cJSON_AddNumberToObject(cell, "correct", (double)right);
            cJSON_AddNumberToObject(cell, "accuracy", (double)right / (double)n_cases);
            cJSON_AddNumberToObject(cell, "prompt_tokens_mean", prompt_sum / (double)n_cases);
            cJSON_AddItemToObject(cell, "wrong", wrong);
            cJSON_AddItemToArray(cells, cell);
        }
        eval_gen_end(&g);
    }
    cli_progress_finish(&bar, done);
    if (!rc) {
        cJSON_AddBoolToObject(obj, "chat_template", chat);
        eval_json_num(obj, "accuracy", (double)right_all / (double)(n_cells * n_cases));
        fprintf(c->table, "  %-14s", "length\\depth");
        for (size_t di = 0; di < o->n_depths; di++) fprintf(c->table, " %6.2f", o->depths[di]);
        fputc('\n', c->table);
        for (size_t li = 0; li < o->n_lengths; li++) {
            fprintf(c->table, "  %-14zu", o->lengths[li]);
            for (size_t di = 0; di < o->n_depths; di++)
                fprintf(c->table, " %6.2f", acc[li * o->n_depths + di]);
            fputc('\n', c->table);
        }
        eval_row(c, "accuracy", "%.4f (%zu of %zu; %s prompts)",
                 (double)right_all / (double)(n_cells * n_cases), right_all, n_cells * n_cases,
                 chat ? "chat-template" : "plain");
        const char *const units[] = {"cases", "tokens"};
        const double counts[] = {(double)done, tokens};
        eval_cost_finish(&cost, c, obj, units, counts, 2);
    }
    free(acc);
    free(t.hay);
    return rc;
}

int eval_run_passkey(eval_ctx *c, cJSON *obj) { return run_longctx(c, obj, 0); }
int eval_run_needle(eval_ctx *c, cJSON *obj) { return run_longctx(c, obj, 1); }
