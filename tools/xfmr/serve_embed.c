/* serve_embed.c — the worker thread of an encoder under `xfmr serve`: embedding requests that
 * arrive together (within --batch-wait) run through the model as one batch of encodings
 * (unpadded: the library packs texts of different lengths), and each request gets its rows. A
 * cross-encoder / classifier batches its /rerank and /predict pairs the same way (logits). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

static void deadline_in(struct timespec *ts, double seconds) {
    clock_gettime(CLOCK_REALTIME, ts);
    long long ns = ts->tv_nsec + (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

void srv_embed_submit_wait(srv_model *m, srv_embed_job *job) {
    pthread_cond_init(&job->cv, NULL);
    pthread_mutex_lock(&m->mu);
    job->next = NULL;
    if (m->eq_tail)
        m->eq_tail->next = job;
    else
        m->eq_head = job;
    m->eq_tail = job;
    m->queued++;
    pthread_cond_signal(&m->work_cv);
    while (!job->done) pthread_cond_wait(&job->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    pthread_cond_destroy(&job->cv);
}

/* Texts queued now (under mu). */
static size_t queued_texts(const srv_model *m) {
    size_t n = 0;
    for (const srv_embed_job *j = m->eq_head; j; j = j->next) n += j->n;
    return n;
}

/* Whether waiting may bring more work into the batch (under mu). */
static int company_coming(const srv_model *m) {
    return !m->stop && queued_texts(m) < m->srv->lim.batch_texts &&
           atomic_load(&m->srv->embed_inflight) > (long)m->queued;
}

void *srv_embed_worker(void *arg) {
    srv_model *m = arg;
    const size_t width = m->n_labels ? m->n_labels : m->dim; /* floats out per encoding */
    const srv_limits *lim = &m->srv->lim;
    xf_encoding *encs = NULL;
    size_t encs_cap = 0;
    float *out = NULL;
    size_t out_cap = 0;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->eq_head && !m->stop) pthread_cond_wait(&m->work_cv, &m->mu);
        if (!m->eq_head && m->stop) break;
        /* Bounded wait for company: requests that arrive within batch_wait join this batch —
         * only while some request that embeds is in the server but not queued yet (being parsed
         * and tokenized, or answered from the last batch): a lone client's request runs at once. */
        if (lim->batch_wait > 0 && company_coming(m)) {
            struct timespec until;
            deadline_in(&until, lim->batch_wait);
            while (company_coming(m) && pthread_cond_timedwait(&m->work_cv, &m->mu, &until) != ETIMEDOUT) {
            }
        }
        /* Take whole jobs up to batch_texts (at least one job). */
        srv_embed_job *batch = m->eq_head, *last = NULL;
        size_t n = 0, n_jobs = 0;
        for (srv_embed_job *j = m->eq_head; j && (n == 0 || n + j->n <= lim->batch_texts); j = j->next) {
            n += j->n;
            n_jobs++;
            last = j;
        }
        m->eq_head = last->next;
        if (!m->eq_head) m->eq_tail = NULL;
        last->next = NULL;
        m->queued -= n_jobs;
        m->active = n_jobs;
        pthread_mutex_unlock(&m->mu);

        /* One call for all of them. */
        int ok = 1;
        char err[SRV_ERR_MAX] = "";
        if (n > encs_cap) {
            xf_encoding *e = realloc(encs, n * sizeof *e);
            if (e) {
                encs = e;
                encs_cap = n;
            } else {
                ok = 0;
            }
        }
        if (ok && n * width > out_cap) {
            float *o = realloc(out, n * width * sizeof *o);
            if (o) {
                out = o;
                out_cap = n * width;
            } else {
                ok = 0;
            }
        }
        if (!ok) snprintf(err, sizeof err, "out of memory for a batch of %zu texts", n);
        size_t tokens = 0;
        if (ok) {
            size_t k = 0;
            for (srv_embed_job *j = batch; j; j = j->next)
                for (size_t i = 0; i < j->n; i++) {
                    encs[k++] = j->encs[i];
                    tokens += j->encs[i].n;
                }
            if ((m->n_labels ? xf_classify_encodings(m->m, encs, n, n, out) : xf_embed_encodings(m->m, encs, n, n, out)) !=
                XF_OK) {
                ok = 0;
                snprintf(err, sizeof err, "%s", xf_errmsg());
            }
        }
        if (ok) {
            atomic_fetch_add(&m->n_batches, 1);
            atomic_fetch_add(&m->n_batched_items, n);
            atomic_fetch_add(&m->n_tokens_in, tokens);
        }
        pthread_mutex_lock(&m->mu);
        size_t k = 0;
        for (srv_embed_job *j = batch, *next; j; j = next) {
            next = j->next;
            if (ok)
                memcpy(j->out, out + k * width, j->n * width * sizeof *out);
            else {
                j->failed = 1;
                snprintf(j->err, sizeof j->err, "%s", err);
            }
            k += j->n;
            j->done = 1;
            pthread_cond_signal(&j->cv); /* its thread, not every waiting one */
        }
        m->active = 0;
    }
    pthread_mutex_unlock(&m->mu);
    free(encs);
    free(out);
    return NULL;
}
