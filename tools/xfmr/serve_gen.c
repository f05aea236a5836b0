/* serve_gen.c — the worker thread of a decoder under `xfmr serve`: continuous batching. Up to
 * --max-sessions requests hold a session each; a new request is admitted (its prompt prefilled,
 * together with the other requests admitted at the same step: xf_session_eval_batch) as soon as a
 * session is free, and every step samples one token for each active request and
 * runs all their decode steps as one batched forward (xf_session_step_batch: one product per
 * layer for all sessions). The sampling, stop ids and stop strings follow `xfmr generate`
 * (gen.c), so a greedy answer is the CLI's text. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct slot {
    srv_gen_job *job;
    xf_session *s;
    xf_sampler *smp;
    xf_detok_stream *ds;
    int32_t *hist;
    size_t n_hist, cap;
    size_t n_prompt;  /* the session's first n_prompt tokens are hist's: a prompt other requests may share */
    srv_buf pending;  /* text held back: it may start a stop string */
    srv_buf emit;     /* text to hand to the job at the end of this step */
    float *logits;    /* next-token logits */
    int32_t next;     /* the token sampled this step */
    int done;         /* finished this step: finish_reason / failure set in fin_* */
    const char *fin_reason;
    int fin_status;
    char fin_err[SRV_ERR_MAX];
} slot;

void srv_gen_job_free(srv_gen_job *job) {
    if (!job) return;
    free(job->ids);
    for (size_t k = 0; k < job->n_stops; k++) free(job->stops[k]);
    srv_buf_free(&job->text);
    free(job);
}

void srv_gen_release(srv_model *m, srv_gen_job *job) {
    pthread_mutex_lock(&m->mu);
    int left = --job->refs;
    pthread_mutex_unlock(&m->mu);
    if (left == 0) srv_gen_job_free(job);
}

int srv_gen_submit(srv_model *m, srv_gen_job *job) {
    pthread_mutex_lock(&m->mu);
    if (m->queued >= m->srv->lim.max_queue || m->stop || m->cancel_all) {
        pthread_mutex_unlock(&m->mu);
        return -1;
    }
    job->refs++;
    job->next = NULL;
    if (m->gq_tail)
        m->gq_tail->next = job;
    else
        m->gq_head = job;
    m->gq_tail = job;
    m->queued++;
    pthread_cond_signal(&m->work_cv);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static void fail(slot *sl, int status, const char *msg) {
    sl->done = 1;
    sl->fin_status = status;
    snprintf(sl->fin_err, sizeof sl->fin_err, "%s", msg);
}

static void finish(slot *sl, const char *reason) {
    sl->done = 1;
    sl->fin_reason = reason;
}

/* Ready the slot of a newly admitted job for its prompt (sl->done set on failure). */
static void prefill_prepare(srv_model *m, slot *sl) {
    srv_gen_job *j = sl->job;
    sl->done = 0;
    sl->fin_reason = NULL;
    sl->fin_status = 0;
    sl->pending.n = sl->emit.n = 0;
    sl->n_hist = 0;
    if (!sl->s) {
        xf_session_params sp = m->srv->kv; /* --kv-type, --kv-policy, ... (checked at start) */
        sp.n_ctx = m->n_ctx;
        if (xf_session_create_ex(m->m, &sp, &sl->s) != XF_OK) {
            fail(sl, 500, xf_errmsg());
            return;
        }
        sl->cap = xf_session_n_ctx(sl->s);
        sl->hist = malloc(sl->cap * sizeof *sl->hist);
        sl->logits = malloc(m->vocab * sizeof *sl->logits);
        if (!sl->hist || !sl->logits) {
            fail(sl, 500, "out of memory");
            return;
        }
    }
    if (!sl->ds && xf_detok_stream_create(m->tok, 1, &sl->ds) != XF_OK) {
        fail(sl, 500, xf_errmsg());
        return;
    }
    xf_sampler_free(sl->smp);
    sl->smp = NULL;
    if (xf_sampler_create(&j->sp, m->vocab, &sl->smp) != XF_OK) {
        fail(sl, 400, xf_errmsg());
        return;
    }
    if (j->n_ids >= sl->cap) {
        char msg[200];
        snprintf(msg, sizeof msg, "the prompt has %zu tokens: it does not fit the context of %zu tokens",
                 j->n_ids, sl->cap);
        fail(sl, 400, msg);
        return;
    }
}

/* Shared prompt prefixes (a prefix cache, as serving engines keep): a new prompt starts from the
 * longest prefix it shares with a prompt some session holds (its own slot's last one, or another
 * slot's), copied (xf_session_copy_prefix), and only the rest is evaluated (xf_session_eval_rest:
 * bitwise what the whole prompt gives, so a greedy answer is still the CLI's). Chats that begin
 * with the same system prompt then skip most of their prefill. */
#define SHARE_MIN 16 /* tokens worth a later forward pass: an admitted prompt that shares this many
                        with one evaluated in the same step waits for it and copies them */

static size_t common(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    size_t k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

/* Evaluate the prompts of the jobs admitted together (k: their slots), their next-token logits
 * through lg (n x vocab floats): in passes of one batched forward each (xf_session_eval_rest_batch);
 * a prompt that would share SHARE_MIN more tokens with one of this pass than with any settled
 * session goes in the next pass. */
static void prefill(srv_model *m, slot *slots, size_t n_slots, const size_t *k, size_t n, float *lg) {
    xf_session *ss[64];
    size_t lens[64], sel[64], wait[64], n_wait = 0, n_sel, total;
    unsigned char pending[64] = {0};
    for (size_t a = 0; a < n; a++) {
        slot *sl = &slots[k[a]];
        prefill_prepare(m, sl);
        if (!sl->done) wait[n_wait++] = k[a], pending[k[a]] = 1;
    }
    const int share = m->share_prefix && !m->srv->lim.no_prefix_cache;
    while (n_wait) {
        size_t next = 0;
        n_sel = total = 0;
        for (size_t a = 0; a < n_wait; a++) {
            slot *sl = &slots[wait[a]];
            srv_gen_job *j = sl->job;
            size_t best = 0, bd = 0, late = 0;
            for (size_t d = 0; d < n_slots && share; d++) { /* settled, and its own */
                const slot *o = &slots[d];
                if (!o->s || !o->n_prompt || (pending[d] && d != wait[a])) continue;
                const size_t c = common(o->hist, o->n_prompt, j->ids, j->n_ids);
                if (c > best) best = c, bd = d;
            }
            for (size_t b = 0; b < n_sel && !late && share; b++)
                late = common(slots[sel[b]].job->ids, slots[sel[b]].job->n_ids, j->ids, j->n_ids) >= best + SHARE_MIN;
            if (late) {
                wait[next++] = wait[a];
                continue;
            }
            if (!best || xf_session_copy_prefix(sl->s, slots[bd].s, best) != XF_OK) xf_session_reset(sl->s);
            sl->n_prompt = 0;
            ss[n_sel] = sl->s, lens[n_sel] = j->n_ids, sel[n_sel++] = wait[a];
            total += j->n_ids;
            atomic_fetch_add(&m->n_tokens_cached, xf_session_n_past(sl->s));
        }
        n_wait = next;
        int32_t *ids = malloc(total * sizeof *ids);
        xf_status st = ids ? XF_OK : XF_ERR_NOMEM;
        for (size_t a = 0, at = 0; ids && a < n_sel; at += lens[a], a++)
            memcpy(ids + at, slots[sel[a]].job->ids, lens[a] * sizeof *ids);
        if (ids) st = xf_session_eval_rest_batch(ss, n_sel, ids, lens, lg);
        const char *err = ids ? xf_errmsg() : "out of memory";
        free(ids);
        for (size_t a = 0; a < n_sel; a++) {
            slot *sl = &slots[sel[a]];
            srv_gen_job *j = sl->job;
            pending[sel[a]] = 0;
            if (st != XF_OK) {
                fail(sl, 500, err);
                continue;
            }
            memcpy(sl->logits, lg + a * m->vocab, m->vocab * sizeof *sl->logits);
            memcpy(sl->hist, j->ids, j->n_ids * sizeof *j->ids);
            sl->n_hist = sl->n_prompt = j->n_ids;
            atomic_fetch_add(&m->n_tokens_in, j->n_ids);
        }
    }
}

static int is_stop_id(const srv_gen_job *j, int32_t id) {
    for (size_t k = 0; k < j->n_stop_ids; k++)
        if (j->stop_ids[k] == id) return 1;
    return 0;
}

/* Sample this step's token of sl and work out the text it adds (as cli_gen_run does). */
static void sample(srv_model *m, slot *sl) {
    srv_gen_job *j = sl->job;
    const char *const *stops = (const char *const *)j->stops;
    int32_t id;
    if (xf_sampler_sample(sl->smp, sl->logits, sl->hist, sl->n_hist, &id) != XF_OK) {
        fail(sl, 500, xf_errmsg());
        return;
    }
    j->n_completion++; /* read by the HTTP thread only after finished: no race */
    atomic_fetch_add(&m->n_tokens_out, 1);
    if (is_stop_id(j, id)) {
        finish(sl, "stop");
        return;
    }
    const char *text;
    size_t len;
    if (xf_detok_stream_push(sl->ds, id, &text, &len) != XF_OK) {
        fail(sl, 500, xf_errmsg());
        return;
    }
    if (srv_buf_add(&sl->pending, text, len)) {
        fail(sl, 500, "out of memory");
        return;
    }
    size_t at = cli_find_stop(stops, j->n_stops, sl->pending.s ? sl->pending.s : "", sl->pending.n);
    if (at < sl->pending.n) {
        srv_buf_add(&sl->emit, sl->pending.s, at);
        sl->pending.n = 0;
        finish(sl, "stop");
        return;
    }
    size_t hold = cli_stop_prefix(stops, j->n_stops, sl->pending.s ? sl->pending.s : "", sl->pending.n);
    srv_buf_add(&sl->emit, sl->pending.s ? sl->pending.s : "", sl->pending.n - hold);
    if (hold) memmove(sl->pending.s, sl->pending.s + sl->pending.n - hold, hold);
    sl->pending.n = hold;
    if (j->n_completion >= j->max_tokens || sl->n_hist >= sl->cap) {
        finish(sl, "length");
        return;
    }
    sl->next = id;
}

/* End of a reply: the held-back text that is not a stop comes out. */
static void flush_text(slot *sl) {
    const char *text;
    size_t len;
    srv_gen_job *j = sl->job;
    int stopped = sl->fin_reason && !strcmp(sl->fin_reason, "stop") && sl->pending.n == 0;
    if (xf_detok_stream_flush(sl->ds, &text, &len) == XF_OK && !sl->fin_status && !stopped) {
        srv_buf_add(&sl->pending, text, len);
        size_t at = cli_find_stop((const char *const *)j->stops, j->n_stops,
                                  sl->pending.s ? sl->pending.s : "", sl->pending.n);
        srv_buf_add(&sl->emit, sl->pending.s ? sl->pending.s : "", at);
    }
    sl->pending.n = 0;
}

/* The worker's memory: its slots and the arrays of one batched step. */
typedef struct worker {
    slot *slots;
    size_t n_slots;
    xf_session **batch_s;
    int32_t *batch_ids;
    size_t *batch_k;
    float *batch_logits;
} worker;

static void worker_free(worker *w) {
    for (size_t k = 0; w->slots && k < w->n_slots; k++) {
        slot *sl = &w->slots[k];
        xf_session_free(sl->s);
        xf_sampler_free(sl->smp);
        xf_detok_stream_free(sl->ds);
        free(sl->hist);
        free(sl->logits);
        srv_buf_free(&sl->pending);
        srv_buf_free(&sl->emit);
    }
    free(w->slots);
    free(w->batch_s);
    free(w->batch_ids);
    free(w->batch_k);
    free(w->batch_logits);
}

void *srv_gen_worker(void *arg) {
    srv_model *m = arg;
    const size_t n_slots = m->srv->lim.max_sessions;
    worker w = {calloc(n_slots, sizeof(slot)), n_slots, calloc(n_slots, sizeof(xf_session *)),
                calloc(n_slots, sizeof(int32_t)), calloc(n_slots, sizeof(size_t)),
                malloc(n_slots * m->vocab * sizeof(float))};
    slot *slots = w.slots;
    xf_session **batch_s = w.batch_s;
    int32_t *batch_ids = w.batch_ids;
    size_t *batch_k = w.batch_k;
    float *batch_logits = w.batch_logits;
    if (!slots || !batch_s || !batch_ids || !batch_k || !batch_logits) {
        cli_error("serve: out of memory for the generation worker of %s", m->id);
        pthread_mutex_lock(&m->mu);
        m->stop = 2; /* refuse work */
        pthread_mutex_unlock(&m->mu);
        worker_free(&w);
        return NULL;
    }
    size_t n_active = 0;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (n_active == 0 && !m->gq_head && !m->stop) pthread_cond_wait(&m->work_cv, &m->mu);
        if (n_active == 0 && !m->gq_head && m->stop) break;
        /* Admit waiting jobs into free slots. */
        size_t admitted[64], n_adm = 0;
        for (size_t k = 0; k < n_slots && m->gq_head && n_adm < 64; k++) {
            if (slots[k].job) continue;
            srv_gen_job *j = m->gq_head;
            m->gq_head = j->next;
            if (!m->gq_head) m->gq_tail = NULL;
            j->next = NULL;
            m->queued--;
            slots[k].job = j;
            admitted[n_adm++] = k;
            n_active++;
        }
        m->active = n_active;
        /* Jobs cancelled while waiting or running. */
        double now = cli_now();
        for (size_t k = 0; k < n_slots; k++) {
            slot *sl = &slots[k];
            sl->done = 0;
            sl->fin_reason = NULL;
            sl->fin_status = 0;
            if (!sl->job) continue;
            if (m->cancel_all)
                fail(sl, 503, "the server is shutting down");
            else if (sl->job->cancelled)
                fail(sl, 499, "cancelled: the client went away");
            else if (now > sl->job->deadline)
                fail(sl, 504, "the request ran past its time limit (--timeout)");
        }
        pthread_mutex_unlock(&m->mu);

        size_t n_pf = 0; /* the admitted jobs not failed already */
        for (size_t a = 0; a < n_adm; a++)
            if (!slots[admitted[a]].done) admitted[n_pf++] = admitted[a];
        if (n_pf) prefill(m, slots, n_slots, admitted, n_pf, batch_logits);
        /* Sample one token for every active job, then one batched decode step. */
        size_t nb = 0;
        for (size_t k = 0; k < n_slots; k++) {
            slot *sl = &slots[k];
            if (!sl->job || sl->done) continue;
            sample(m, sl);
            if (sl->done) continue;
            batch_s[nb] = sl->s;
            batch_ids[nb] = sl->next;
            batch_k[nb++] = k;
        }
        /* In steps of at most decode_batch sessions (see srv_model.decode_batch). */
        for (size_t b0 = 0; b0 < nb; b0 += m->decode_batch) {
            size_t cnt = nb - b0 < m->decode_batch ? nb - b0 : m->decode_batch;
            xf_status st = xf_session_step_batch(batch_s + b0, cnt, batch_ids + b0, batch_logits + b0 * m->vocab);
            for (size_t b = b0; b < b0 + cnt; b++) {
                slot *sl = &slots[batch_k[b]];
                if (st != XF_OK) {
                    fail(sl, 500, xf_errmsg());
                    continue;
                }
                memcpy(sl->logits, batch_logits + b * m->vocab, m->vocab * sizeof *sl->logits);
                sl->hist[sl->n_hist++] = sl->next;
            }
            atomic_fetch_add(&m->n_batches, 1);
            atomic_fetch_add(&m->n_batched_items, cnt);
        }
        for (size_t k = 0; k < n_slots; k++)
            if (slots[k].job && slots[k].done) flush_text(&slots[k]);
        size_t kv = 0; /* the caches held now, idle sessions' included (they keep their memory) */
        for (size_t k = 0; k < n_slots; k++) kv += xf_session_kv_bytes(slots[k].s);
        atomic_store(&m->kv_bytes, kv);
        /* Hand the text over; finished jobs leave their slot. */
        srv_gen_job *released[64];
        size_t n_rel = 0;
        pthread_mutex_lock(&m->mu);
        for (size_t k = 0; k < n_slots; k++) {
            slot *sl = &slots[k];
            srv_gen_job *j = sl->job;
            if (!j) continue;
            if (sl->emit.n && srv_buf_add(&j->text, sl->emit.s, sl->emit.n)) fail(sl, 500, "out of memory");
            sl->emit.n = 0;
            if (!sl->done) continue;
            j->finished = 1;
            if (sl->fin_status) {
                j->failed = 1;
                j->http_status = sl->fin_status;
                snprintf(j->err, sizeof j->err, "%s", sl->fin_err);
            } else {
                j->finish_reason = sl->fin_reason;
            }
            j->refs--;
            if (j->refs == 0 && n_rel < 64) released[n_rel++] = j;
            sl->job = NULL;
            n_active--;
        }
        m->active = n_active;
        pthread_cond_broadcast(&m->done_cv);
        pthread_mutex_unlock(&m->mu);
        for (size_t k = 0; k < n_rel; k++) srv_gen_job_free(released[k]);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    worker_free(&w);
    return NULL;
}
